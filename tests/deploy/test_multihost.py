"""Collectors across hosts (issue 12, docs/scale.md): three `citizenwatt collector`
processes, each in a network namespace of its own made here (a veth pair to this one,
addresses in 10.231.0.0/16 private to the test, no route anywhere else), each with its own
data directory and spool, on ONE shared subscription ($share/cw/...) of one Mosquitto
reached over TLS,
writing to one InfluxDB; households in PostgreSQL, read through two API instances.
Simulated meters publish under load; one collector host is cut off (link down) and all
its processes killed with -9, then brought back. Every reading must be in InfluxDB once and
every household's figure, through both APIs, must equal its meter's own counters.

Needs root and network namespaces (CI runs as root on Debian, iproute2 in scripts/test.sh
DEBS); skipped with the reason otherwise. The figures are printed as one JSON line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citizenwatt.config import load_settings
from citizenwatt.firmware import wire
from citizenwatt.store.influx import InfluxStore
from tests.collector.helpers import Publisher, expected_energy_wh, scrape, wait_until
from tests.influx_v2_adapter import InfluxV2Adapter
from tests.services import Influxd, Mosquitto, free_port, stop_process, wait_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC).timestamp()  # 10:00 in Paris: one local day
METERS, CHANNELS, READINGS_PER_METER, INTERVAL_S = 12, 2, 500, 10.0
RATE_PER_S = 300.0  # readings (messages) per second, all meters together
METRICS_PORT = 9108  # inside each namespace: its own ports


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=20, check=check)


def netns_unavailable() -> str | None:
    """Why this machine cannot run the drill, or None."""
    if os.geteuid() != 0:
        return "needs root to make network namespaces (ip netns); CI runs as root"
    probe = f"cwprobe{os.getpid()}"
    try:
        r = _ip("netns", "add", probe, check=False)
    except FileNotFoundError:
        return "the ip command (iproute2) is missing: apt-get install iproute2"
    if r.returncode != 0:
        return f"ip netns add refused: {r.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    """One collector 'host': a network namespace joined to this one by a veth pair."""

    name: str
    gateway: str  # this side of the pair: where the host reaches the broker and InfluxDB
    address: str  # the namespace's side
    outside_if: str
    procs: list = field(default_factory=list)

    def create(self) -> Host:
        inside_if = self.outside_if.replace("cwo", "cwi")
        _ip("netns", "add", self.name)
        _ip("link", "add", self.outside_if, "type", "veth", "peer", "name", inside_if)
        _ip("link", "set", inside_if, "netns", self.name)
        _ip("addr", "add", self.gateway + "/30", "dev", self.outside_if)
        _ip("link", "set", self.outside_if, "up")
        for cmd in (["addr", "add", self.address + "/30", "dev", inside_if],
                    ["link", "set", inside_if, "up"], ["link", "set", "lo", "up"]):
            _ip("-n", self.name, *cmd)
        return self

    def run(self, argv: list[str], env: dict, log: Path) -> subprocess.Popen:
        p = subprocess.Popen([IP, "netns", "exec", self.name, *argv], env=env, cwd=ROOT,
                             stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def link(self, up: bool) -> None:
        _ip("link", "set", self.outside_if, "up" if up else "down")

    def kill_all(self) -> int:
        """kill -9 every process of the namespace (the host's power cut); how many."""
        pids = [int(p) for p in _ip("netns", "pids", self.name).stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait(10)
        self.procs.clear()
        return len(pids)

    def delete(self) -> None:
        for p in self.procs:
            stop_process(p, 10)
        self.procs.clear()
        pids = _ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        _ip("link", "del", self.outside_if, check=False)  # takes its peer with it
        _ip("netns", "del", self.name, check=False)


def free_subnets(n: int) -> list[int]:
    """n third octets of 10.231.X.0/30 that no interface or route here uses yet."""
    used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
    start = (os.getpid() * 7) % 200
    out = [x % 250 for x in range(start, start + 250) if f"10.231.{x % 250}." not in used]
    return out[:n]


@pytest.fixture
def hosts():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    tag = os.getpid() % 100000
    made: list[Host] = []
    try:
        for k, x in enumerate(free_subnets(3)):
            made.append(Host(f"cw{tag}h{k}", f"10.231.{x}.1", f"10.231.{x}.2",
                             f"cwo{tag}h{k}").create())
        yield made
    finally:
        for h in made:
            h.delete()


def meter_stream() -> tuple[list[tuple[str, bytes]], dict[str, float]]:
    """Readings of METERS meters, interleaved as they would arrive, with integer-mWh
    counters from 0; and each meter's own counters at the end (Wh, channels summed)."""
    counters = {(m, c): 0 for m in range(METERS) for c in range(CHANNELS)}
    out = []
    for seq in range(READINGS_PER_METER):
        for m in range(METERS):
            chans = []
            for c in range(CHANNELS):
                power = round(80.0 + 41.0 * ((seq * 7 + m * 5 + c * 13) % 60), 2)
                counters[(m, c)] += round(power * INTERVAL_S / 3.6)  # mWh
                chans.append(wire.channel(c, None, power, power / 230,
                                          energy_mwh=counters[(m, c)]))
            meter = f"drill-{m:02d}"
            out.append((wire.reading_topic(meter), wire.encode_reading(
                meter, 1, seq, 1000 * seq, INTERVAL_S, chans, ts=T0 + (seq + 1) * INTERVAL_S)))
    own = {f"drill-{m:02d}": sum(counters[(m, c)] for c in range(CHANNELS)) / 1000
           for m in range(METERS)}
    return out, own


def cli(env: dict, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "citizenwatt.cli", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def get_json(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


class Cluster:
    """The services of the drill: one broker (TLS towards the hosts), one InfluxDB (an
    adapter per host), PostgreSQL, the collectors in the hosts' namespaces, two APIs."""

    def __init__(self, hosts: list[Host], tmp_path: Path):
        from tests.deploy.conftest import make_certs

        self.hosts, self.tmp = hosts, tmp_path
        self.base = {k: v for k, v in os.environ.items() if not k.startswith("CITIZENWATT_")}
        self.base.update(PYTHONPATH=str(ROOT), CITIZENWATT_LANG="en")
        self.broker_port = free_port()
        # One broker, reachable from each host through its veth over TLS (a certificate for
        # the addresses the hosts dial, made by the shipped script); a queue that outlasts
        # the outage (the shipped drop-in sizes it for 12 h: deploy/mosquitto/citizenwatt.conf).
        self.certs = make_certs(tmp_path / "certs", *[h.gateway for h in hosts])
        self.broker: Mosquitto | None = None
        self.engine: Influxd | None = None
        self.adapters: list[InfluxV2Adapter] = []
        self.pg = None
        self.collectors: dict[int, dict] = {}
        self.apis: list[subprocess.Popen] = []
        self.api_ports: list[int] = []
        self.influx_env = {"CITIZENWATT_STORE__KIND": "influxdb",
                           "CITIZENWATT_STORE__INFLUX_TOKEN": "collector:secret",
                           "CITIZENWATT_STORE__INFLUX_BUCKET": "citizenwatt/autogen",
                           "CITIZENWATT_STORE__HOURS": "readings"}
        self.api_env: dict = {}

    def start_services(self) -> None:
        from tests.api.pg import Postgres, PostgresUnavailable

        crt, key = self.certs / "citizenwatt-broker.crt", self.certs / "citizenwatt-broker.key"
        listeners = "\n".join(f"listener {self.broker_port} {h.gateway}\ncertfile {crt}\n"
                              f"keyfile {key}" for h in self.hosts)
        self.broker = Mosquitto(self.tmp / "mosquitto", port=self.broker_port, persistence=True,
                                extra_conf=listeners + "\nmax_queued_messages 1000000").start()
        self.engine = Influxd(self.tmp / "influxdb").start()
        self.adapters = [InfluxV2Adapter(self.engine.host, self.engine.port, host=h.gateway).start()
                         for h in self.hosts]
        try:
            self.pg = Postgres().start()
        except PostgresUnavailable as e:
            pytest.fail(f"PostgreSQL does not start: {e}", pytrace=False)
        self.api_env = {**self.base, **self.influx_env,
                        "CITIZENWATT_STORE__INFLUX_URL": self.engine.url,
                        "CITIZENWATT_API__DATABASE_URL": self.pg.create_database("citizenwatt")}

    def households(self) -> dict[str, tuple[int, str]]:
        """One household per meter (both clamps main), in PostgreSQL: meter -> (id, token)."""
        admin_env = {**self.api_env, "CITIZENWATT_DATA_DIR": str(self.tmp / "admin")}
        cli(admin_env, "admin", "deployment", "Drill")
        tokens = {}
        roles = sum((["--channel-role", "main"] for _ in range(CHANNELS)), [])
        for m in range(METERS):
            meter = f"drill-{m:02d}"
            out = cli(admin_env, "admin", "household", "Drill", f"Foyer {m}", "--meter", meter,
                      "--since", "2026-05-01", "--no-sheet", *roles)
            found = re.search(r"Household (\d+) .*/h/(\S+)", out)
            assert found, out
            tokens[meter] = (int(found.group(1)), found.group(2))
        return tokens

    def start_collector(self, k: int) -> None:
        h, data = self.hosts[k], self.tmp / f"host-{k}"
        data.mkdir(exist_ok=True)
        env = {**self.base, **self.influx_env,
               "CITIZENWATT_STORE__INFLUX_URL": self.adapters[k].url,
               "CITIZENWATT_MQTT__HOST": h.gateway, "CITIZENWATT_MQTT__PORT": str(self.broker_port),
               "CITIZENWATT_MQTT__PROTOCOL": "v5",
               "CITIZENWATT_MQTT__TLS_CA": str(self.certs / "citizenwatt-ca.crt"),
               "CITIZENWATT_COLLECTOR__ID": f"cw-drill-host-{k}",
               "CITIZENWATT_COLLECTOR__SHARED_GROUP": "cw",
               "CITIZENWATT_COLLECTOR__METRICS_HOST": h.address,
               "CITIZENWATT_COLLECTOR__METRICS_PORT": str(METRICS_PORT),
               "CITIZENWATT_DATA_DIR": str(data)}
        log = self.tmp / f"collector-{k}.log"
        proc = h.run([sys.executable, "-m", "citizenwatt.cli", "collector"], env, log)
        url = f"http://{h.address}:{METRICS_PORT}"

        def healthy():
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                return urllib.request.urlopen(url + "/healthz", timeout=1).status == 200
            except OSError:
                return False

        wait_until(healthy, 30, f"collector {k}'s /healthz")
        self.collectors[k] = {"url": url, "proc": proc}

    def metrics(self, k: int) -> dict[str, float]:
        return scrape(self.collectors[k]["url"])

    def start_apis(self) -> None:
        self.api_ports = [free_port(), free_port()]
        for i, port in enumerate(self.api_ports):
            env = {**self.api_env, "CITIZENWATT_DATA_DIR": str(self.tmp / f"api-{i}")}
            self.apis.append(subprocess.Popen(
                [sys.executable, "-m", "citizenwatt.cli", "api", "--host", "127.0.0.1",
                 "--port", str(port)], env=env, cwd=ROOT,
                stdout=open(self.tmp / f"api-{i}.log", "ab"), stderr=subprocess.STDOUT))
        for port, proc in zip(self.api_ports, self.apis, strict=True):
            wait_port("127.0.0.1", port, timeout_s=60, proc=proc)

    def household_wh(self, i: int, hh: int, token: str) -> float:
        body = get_json(f"http://127.0.0.1:{self.api_ports[i]}/api/v1/households/{hh}/energy"
                        "?resolution=day&start=2026-06-01&end=2026-06-01", token)
        return body["total"]["energy_wh"]

    def influx_count(self) -> int:
        series = self.engine.query("SELECT count(seq) FROM reading")[0].get("series")
        return series[0]["values"][0][1] if series else 0

    def stop(self) -> None:
        for c in self.collectors.values():
            stop_process(c["proc"], 20)
        for p in self.apis:
            stop_process(p, 10)
        for a in self.adapters:
            a.stop()
        for service in (self.engine, self.broker, self.pg):
            if service is not None:
                service.stop()


@pytest.fixture
def cluster(hosts, tmp_path):
    c = Cluster(hosts, tmp_path)
    try:
        c.start_services()
        yield c
    finally:
        c.stop()


def test_a_collector_host_cut_off_under_load_loses_and_doubles_nothing(cluster, tmp_path):
    tokens = cluster.households()
    for k in range(len(cluster.hosts)):
        cluster.start_collector(k)
    cluster.start_apis()

    # -- the load, and one host cut off in the middle of it --------------------------------
    stream, own_counters = meter_stream()
    n = len(stream)
    pub = Publisher(cluster.broker.host, cluster.broker.port, client_id="drill-meters").start(
        stream, rate_per_s=RATE_PER_S)
    try:
        victim = 1
        wait_until(lambda: pub.published >= n // 3, 60, "a third of the readings published")
        before = cluster.metrics(victim)
        cluster.hosts[victim].link(False)  # the host vanishes: no FIN reaches the broker
        killed = cluster.hosts[victim].kill_all()
        t_cut, published_at_cut = time.monotonic(), pub.published
        wait_until(lambda: pub.published >= 2 * n // 3, 60, "two thirds published")
        cluster.hosts[victim].link(True)
        t_back = time.monotonic()
        cluster.start_collector(victim)  # the host reboots: same data directory, same id
        assert pub.wait_all_acked(120), "the broker did not acknowledge every reading"
        t_published = time.monotonic()
    finally:
        pub.stop()
    wait_until(lambda: cluster.influx_count() >= n * CHANNELS, 180, "every reading in InfluxDB",
               interval_s=0.5)
    t_stored = time.monotonic()
    for k in cluster.collectors:
        wait_until(lambda k=k: cluster.metrics(k)["citizenwatt_collector_spool_points"] == 0, 60,
                   f"host {k}'s spool to drain")
    metrics = {k: cluster.metrics(k) for k in cluster.collectors}

    # -- every reading once in InfluxDB ----------------------------------------------------
    got = cluster.engine.query("SELECT count(seq) FROM reading GROUP BY meter, channel")
    per_series = {(s["tags"]["meter"], s["tags"]["channel"]): s["values"][0][1]
                  for s in got[0]["series"]}
    assert per_series == {(f"drill-{m:02d}", str(c)): READINGS_PER_METER
                          for m in range(METERS) for c in range(CHANNELS)}
    seqs = cluster.engine.query("SELECT count(distinct(seq)) FROM reading GROUP BY meter, channel")
    assert {s["values"][0][1] for s in seqs[0]["series"]} == {READINGS_PER_METER}

    # -- every household's figure, through both APIs, equals its meter's counters ----------
    rules = expected_energy_wh(stream)
    reader = InfluxStore(cluster.engine.url, "collector:secret", "-", "citizenwatt/autogen",
                         hours="readings")
    for meter in tokens:
        assert sum(h.readings for h in reader.hourly(meter, 0, 4e9)) == \
            READINGS_PER_METER * CHANNELS
    reader.close()
    figures = [{meter: cluster.household_wh(i, hh, token) for meter, (hh, token) in tokens.items()}
               for i in range(2)]
    assert figures[0] == figures[1]
    one_reading_wh = 80.0 * INTERVAL_S / 3600  # the smallest reading: 0.22 Wh
    for meter, wh in figures[0].items():
        assert wh == pytest.approx(rules[meter], abs=0.002), meter
        # the meter's own counters (its first reading counts its own interval, equal to its
        # counter but for the rounding of power to 0.01 W)
        assert abs(wh - own_counters[meter]) < 0.01 < one_reading_wh, meter

    shares = {k: m["citizenwatt_collector_received_messages_total"] for k, m in metrics.items()}
    assert all(v > 0 for v in shares.values()), shares  # the victim too, after its return
    assert before["citizenwatt_collector_stored_readings_total"] > 0 and killed >= 1
    figures_line = {
        "name": "multihost_drill", "hosts": len(cluster.hosts), "meters": METERS,
        "readings_published": n, "channel_rows_published": n * CHANNELS,
        "channel_rows_stored": sum(per_series.values()),
        "published_at_cut": published_at_cut, "outage_s": round(t_back - t_cut, 1),
        "victim_received_before_cut": before["citizenwatt_collector_received_messages_total"],
        "received_per_host_victim_since_return": shares,
        "duplicate_rows_recognised": sum(m["citizenwatt_collector_duplicate_rows_total"]
                                         for m in metrics.values()),
        "recover_s_after_return": round(t_stored - t_back, 1),
        "stored_s_after_last_publish_ack": round(t_stored - t_published, 1),
        "household_figures_equal_meter_counters": True,
        "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"}
    print(json.dumps(figures_line))


def test_auto_client_ids_differ_per_host_in_a_shared_group(monkeypatch):
    for k in [k for k in os.environ if k.startswith("CITIZENWATT_")]:
        monkeypatch.delenv(k)
    ids = set()
    for name in ("collector-a", "collector-b"):
        monkeypatch.setattr("socket.gethostname", lambda name=name: name)
        s = load_settings(mqtt__host="mqtt.example.org", mqtt__username="cwc-x",
                          mqtt__password="secret", collector__shared_group="cw")
        again = load_settings(mqtt__host="mqtt.example.org", mqtt__username="cwc-x",
                              mqtt__password="secret", collector__shared_group="cw")
        assert s.collector.id == again.collector.id and s.collector.id.startswith("cwc-")
        ids.add(s.collector.id)
    alone = load_settings(mqtt__host="mqtt.example.org", mqtt__username="cwc-x",
                          mqtt__password="secret")
    assert len(ids | {alone.collector.id}) == 3


def test_a_collector_on_another_host_speaks_tls_and_refuses_a_wrong_ca(tmp_path):
    """mqtt.tls_ca: the collector checks the broker's certificate (made by the shipped
    deploy/tls script) against the CA it is given; another CA's is refused in one line."""
    from citizenwatt.collector.service import Collector
    from citizenwatt.config import ConfigError
    from citizenwatt.errors import CitizenWattError
    from citizenwatt.store.sqlite import SqliteStore
    from tests.deploy.conftest import make_certs

    certs = make_certs(tmp_path / "certs", "localhost", "127.0.0.1")
    other = make_certs(tmp_path / "other-ca", "localhost", "127.0.0.1")
    tls_port = free_port()
    broker = Mosquitto(tmp_path / "mosquitto", extra_conf=(
        f"listener {tls_port} 127.0.0.1\n"
        f"certfile {certs / 'citizenwatt-broker.crt'}\nkeyfile {certs / 'citizenwatt-broker.key'}"
    )).start()
    store = SqliteStore(tmp_path / "readings.sqlite")
    try:
        wrong = Collector(store, "localhost", tls_port, client_id="cw-tls-wrong", protocol="v5",
                          tls_ca=str(other / "citizenwatt-ca.crt"))
        with pytest.raises(CitizenWattError) as refused:
            wrong.start(timeout_s=5)
        assert "certificate verify failed" in str(refused.value).lower()
        assert f"localhost:{tls_port}" in str(refused.value)

        col = Collector(store, "localhost", tls_port, client_id="cw-tls", protocol="v5",
                        shared_group="cw", tls_ca=str(certs / "citizenwatt-ca.crt"))
        col.start(timeout_s=10)
        try:
            pub = Publisher(broker.host, broker.port, client_id="tls-meters")  # plain, loopback
            stream, _ = meter_stream()
            pub.publish_all(stream[:40], rate_per_s=400)
            assert pub.wait_all_acked(10)
            pub.stop()
            wait_until(lambda: col.metrics.readings_stored >= 40, 15, "40 readings over TLS")
        finally:
            col.stop()
        assert sum(m.readings for m in store.meters()) == 40 * CHANNELS
    finally:
        store.close()
        broker.stop()
    with pytest.raises(ConfigError) as bad:
        load_settings(mqtt__host="mqtt.example.org", mqtt__tls_ca=str(tmp_path / "nowhere.crt"))
    assert "--tls-ca" in str(bad.value) and "(PEM)" in str(bad.value)  # named, and what to give
