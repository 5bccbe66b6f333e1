"""The two services as their units start them: the ExecStart command with the shipped
environment file (and, for the collector, the env file `broker-setup` writes), nothing
inherited, against the shipped broker. Only the data folder and the ports change."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from citizenwatt.firmware import wire
from citizenwatt.workshop import mqttauth
from tests.deploy.conftest import DEPLOY, close, connect
from tests.services import free_port, stop_process, wait_port

CITIZENWATT = Path(sys.executable).with_name("citizenwatt")


def _unit(name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """ExecStart's arguments, the EnvironmentFile= paths and the Environment= values."""
    text = (DEPLOY / "systemd" / name).read_text()
    argv = re.search(r"^ExecStart=(.*)$", text, re.M)[1].split()  # type: ignore[index]
    files = re.findall(r"^EnvironmentFile=(\S+)$", text, re.M)
    env = dict(re.findall(r"^Environment=(\w+)=(\S*)$", text, re.M))
    return argv, files, env


def _start(name: str, files: dict[str, Path], overrides: dict[str, str], log: Path):
    argv, env_files, env = _unit(name)
    assert argv[0] == "/opt/citizenwatt/venv/bin/citizenwatt"
    for f in env_files:
        env.update(mqttauth.read_env(files[f]))
    env.update(overrides)
    env["PATH"] = "/usr/bin:/bin"  # systemd passes no environment of its own beyond this
    return subprocess.Popen([str(CITIZENWATT), *argv[1:]], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _wait(predicate, timeout_s: float, what: str, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what}; log:\n{log.read_text(errors='replace')[-3000:]}")


def test_services_run_with_the_shipped_settings(shipped_broker, tmp_path):
    b = shipped_broker
    meter = b.add_meter("cw-aaaaaa", "meter-a-password")
    mqttauth.setup_collector(b.passwd, b.acl, b.env_file)
    b.start()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)  # StateDirectory=citizenwatt
    files = {"/etc/citizenwatt/citizenwatt.env": DEPLOY / "env" / "citizenwatt.env",
             "/etc/citizenwatt/collector.env": b.env_file}
    metrics_port, api_port = free_port(), free_port()
    overrides = {"CITIZENWATT_DATA_DIR": str(data), "CITIZENWATT_MQTT__PORT": str(b.port),
                 "CITIZENWATT_COLLECTOR__METRICS_PORT": str(metrics_port),
                 "CITIZENWATT_API__PORT": str(api_port)}
    col_log, api_log = tmp_path / "collector.log", tmp_path / "api.log"
    collector = _start("citizenwatt-collector.service", files, overrides, col_log)
    api = None
    try:
        metrics = f"http://127.0.0.1:{metrics_port}"
        _wait(lambda: _get(metrics + "/healthz")[0] == 200, 30, "the collector is healthy",
              col_log)
        sender, reason = connect(b, meter, "cw-aaaaaa")
        assert reason == 0
        t0 = time.time() - 100
        for seq in range(3):
            sender.publish(wire.reading_topic("cw-aaaaaa"), wire.encode_reading(
                "cw-aaaaaa", 1, seq, 10_000 * seq, 10.0, [wire.channel(0, 0.25 * seq, 90.0, 0.4)],
                ts=t0 + 10 * seq), qos=1).wait_for_publish(10)
        close(sender)
        stored = re.compile(r"^citizenwatt_collector_stored_readings(?:_total)? 3(\.0)?$", re.M)
        _wait(lambda: stored.search(_get(metrics + "/metrics")[1]), 30, "3 readings stored",
              col_log)

        api = _start("citizenwatt-api.service", files, overrides, api_log)
        wait_port("127.0.0.1", api_port, timeout_s=30, proc=api)
        assert _get(f"http://127.0.0.1:{api_port}/healthz")[0] == 200
        # the shipped settings run two server processes (api.workers)
        _wait(lambda: api_log.read_text(errors="replace").count("Application startup complete") == 2, 30,
              "two API workers started", api_log)
        assert (data / "readings.sqlite").exists() and (data / "citizenwatt.sqlite").exists()
    finally:
        # SIGTERM, as systemd stops them: the collector stores what it holds and exits 0
        assert stop_process(collector, 60) == 0, col_log.read_text(errors="replace")[-2000:]
        if api is not None:
            stop_process(api, 30)
