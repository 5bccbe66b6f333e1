"""Real services for tests: started on loopback, on free ports, stopped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class Mosquitto:
    """A real Mosquitto broker (Debian package mosquitto) in a temporary directory."""

    def __init__(self, workdir: Path, extra_conf: str = "", port: int | None = None):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run `apt-get install mosquitto` "
                               "(.ci/run and scripts/test.sh do it)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "mosquitto.log"

    def write_conf(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [f"listener {self.port} {self.host}", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")
        if "allow_anonymous" not in self.extra_conf:
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n" + self.extra_conf + "\n")
        return conf

    def start(self) -> "Mosquitto":
        conf = self.write_conf()
        self.proc = subprocess.Popen([self.binary, "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "ab"))
        wait_port(self.host, self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
