"""Real services for tests: started on loopback, on free ports, stopped afterwards."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.influx_v2_adapter import InfluxV2Adapter

# Ports handed out here come from below Linux's ephemeral range (32768-60999 by default),
# where the kernel picks bind(0)'s ports and outgoing connections' own: between free_port()
# and the service's bind, no client socket can take the port. Under pytest-xdist each worker
# has its own slice, so two workers never hand out the same port; within a process a port is
# not handed out twice until the slice is used up.
_PORTS_LOW, _PORTS_HIGH = 20000, 32767
_handed: set[int] = set()
_rng = random.Random(os.urandom(16))  # its own: a test seeding `random` leaves it alone


def _port_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw3" under xdist
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (_PORTS_HIGH - _PORTS_LOW + 1) // max(count, 1)
    start = _PORTS_LOW + (index % max(count, 1)) * size
    return range(start, start + size)


def free_port() -> int:
    """A loopback TCP port nothing is bound to, from this process's slice (see above)."""
    ports = _port_slice()
    for _ in range(2):
        candidates = [p for p in ports if p not in _handed]
        _rng.shuffle(candidates)
        for port in candidates:
            _handed.add(port)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        _handed.difference_update(ports)  # every port handed out once: start again
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")


def wait_port(host: str, port: int, timeout_s: float = 10.0, proc=None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


def stop_process(proc: subprocess.Popen | None, timeout_s: float) -> int | None:
    """Terminate proc, kill it if it has not exited within timeout_s; its return code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Mosquitto:
    """A real Mosquitto broker (Debian package mosquitto) in a temporary directory."""

    def __init__(self, workdir: Path, extra_conf: str = "", port: int | None = None,
                 persistence: bool = False):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run `apt-get install mosquitto` "
                               "(.ci/run and scripts/test.sh do it)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.extra_conf = extra_conf
        # persistence: sessions and queued QoS 1 messages survive a restart (saved on exit)
        self.persistence = persistence
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "mosquitto.log"

    def write_conf(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        persist = (["persistence true", f"persistence_location {self.workdir}/"]
                   if self.persistence else ["persistence false"])
        lines = [f"listener {self.port} {self.host}", *persist,
                 "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")
        if "allow_anonymous" not in self.extra_conf:
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n" + self.extra_conf + "\n")
        return conf

    def start(self) -> Mosquitto:
        conf = self.write_conf()
        self.proc = subprocess.Popen([self.binary, "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "ab"))
        wait_port(self.host, self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Influxd:
    """A real InfluxDB 1.x engine (Debian package influxdb, 1.6.7) in a temporary directory.

    Debian's 1.6.7 serves /write and /query but not /api/v2/write: tests put
    tests/influx_v2_adapter.py in front of it so influxdb-client's WriteApi runs end to end.
    """

    def __init__(self, workdir: Path, database: str = "citizenwatt"):
        self.binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not os.path.exists(self.binary):
            raise RuntimeError("influxd is not installed: run `apt-get install influxdb` "
                               "(.ci/run and scripts/test.sh do it)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.rpc_port = free_port()  # bind-address, :8088 by default: keep it off shared ports
        self.database = database
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "influxd.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_conf(self) -> Path:
        d = self.workdir
        conf = d / "influxdb.conf"
        conf.write_text(f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{d / 'meta'}"
[data]
  dir = "{d / 'data'}"
  wal-dir = "{d / 'wal'}"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "warn"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
""")
        return conf

    def start(self, create_database: bool = True) -> Influxd:
        conf = self.write_conf()
        self.proc = subprocess.Popen([self.binary, "-config", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "ab"))
        wait_port(self.host, self.port, timeout_s=20, proc=self.proc)
        if create_database:
            self.query(f'CREATE DATABASE "{self.database}"', method="POST")
        return self

    def query(self, q: str, method: str = "GET", epoch: str = "s") -> list:
        """Run InfluxQL on /query; return the list of results (raises on an error)."""
        import json
        import urllib.parse
        import urllib.request

        params = urllib.parse.urlencode({"q": q, "db": self.database, "epoch": epoch})
        url = f"{self.url}/query?{params}"
        req = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
        for r in body.get("results", []):
            if "error" in r:
                raise RuntimeError(r["error"])
        return body.get("results", [])

    def stop(self) -> None:
        stop_process(self.proc, 10)
        self.proc = None


class InfluxService:
    """Real influxd 1.6.7 with the test-only /api/v2/write adapter in front of it."""

    def __init__(self, workdir):
        self.engine = Influxd(workdir)
        self.adapter: InfluxV2Adapter | None = None

    def start(self) -> InfluxService:
        self.engine.start()
        self.adapter = InfluxV2Adapter(self.engine.host, self.engine.port).start()
        return self

    @property
    def url(self) -> str:  # what the collector is given: the adapter
        return self.adapter.url

    bucket = "citizenwatt/autogen"
    token = "collector:secret"  # InfluxDB 1.8's "user:password" token; auth is off here

    def count(self, where: str = "") -> int:
        res = self.engine.query(f"SELECT count(seq) FROM reading {where}")
        series = res[0].get("series")
        return series[0]["values"][0][1] if series else 0

    def seqs(self, meter: str) -> list[tuple[int, int, int]]:
        """(channel, boot, seq) of every reading point of a meter, as stored."""
        res = self.engine.query(f"SELECT channel, boot, seq FROM reading WHERE meter='{meter}'")
        series = res[0].get("series")
        return sorted((int(c), b, s) for _, c, b, s in series[0]["values"]) if series else []

    def stop(self) -> None:
        if self.adapter is not None:
            self.adapter.stop()
            self.adapter = None
        self.engine.stop()
