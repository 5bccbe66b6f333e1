"""`citizenwatt demo` as a person runs it: readings on the household page within 15 s,
the JSON endpoints return them, Ctrl-C stops cleanly, and a second run keeps the data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from citizenwatt.api.paper import RUNNING_DEMO_FILE
from tests.services import free_port


def start_demo(data_dir, port, mqtt_port):
    env = dict(os.environ, CITIZENWATT_MQTT__PORT=str(mqtt_port), PYTHONUNBUFFERED="1")
    env.pop("CITIZENWATT_MQTT__HOST", None)
    return subprocess.Popen(
        [sys.executable, "-m", "citizenwatt.cli", "demo", "--data-dir", str(data_dir),
         "--port", str(port), "--meters", "2", "--interval", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(fn, timeout_s):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except httpx.HTTPError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {last!r}")


def stop(proc) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_demo_shows_readings_within_15_s_and_keeps_them(tmp_path):
    data = tmp_path / "data"
    port, mqtt_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = start_demo(data, port, mqtt_port)
    try:
        def live():
            r = httpx.get(f"{base}/api/v1/meters/demo-01/live", timeout=2)
            return r.status_code == 200 and r.json()

        power = wait_for(live, 15)
        assert time.monotonic() - t0 < 15
        assert power["power_w"] >= 0 and len(power["channels"]) == 2
        page = httpx.get(f"{base}/m/demo-01", timeout=5)
        assert page.status_code == 200 and 'lang="fr"' in page.text
        energy = httpx.get(f"{base}/api/v1/meters/demo-01/energy",
                           params={"resolution": "hour"}, timeout=5).json()
        assert energy["total"]["energy_wh"] > 0
        meters = {m["meter_id"]: m for m in httpx.get(f"{base}/api/v1/meters").json()["meters"]}
        assert set(meters) == {"demo-01", "demo-02"}
        first_boot = meters["demo-01"]["status"]["boot"]
        first_count = wait_for(
            lambda: (n := httpx.get(f"{base}/api/v1/meters").json()["meters"][0]["readings"]) > 0 and n,
            10)
        # The README's next step: a household for demo-01. The printed address keeps working.
        from typer.testing import CliRunner

        from citizenwatt.cli import app

        r = CliRunner().invoke(app, ["admin", "deployment", "Atelier", "--data-dir", str(data)])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01",
                                     "--no-sheet", "--data-dir", str(data)])
        assert r.exit_code == 0, r.output
        assert httpx.get(f"{base}/m/demo-01", timeout=5).status_code == 200
        # its secret link is on the demo's port (--port), not the configured api.port
        link = re.search(r"http://\S+/h/\S+", r.output).group(0)
        assert link.startswith(base + "/h/")
        assert httpx.get(link, timeout=5).status_code == 200
    finally:
        out = stop(proc)
    assert not (data / RUNNING_DEMO_FILE).exists()  # stopped: no address left behind
    assert "http://127.0.0.1:%d/m/demo-01" % port in out
    assert "Traceback" not in out

    # second run: the earlier readings are still there and the meters count on
    proc = start_demo(data, port, mqtt_port)
    try:
        def more():
            ms = httpx.get(f"{base}/api/v1/meters", timeout=2).json()["meters"]
            m = {x["meter_id"]: x for x in ms}["demo-01"]
            return (
                m["readings"] > first_count and m["status"] and m["status"].get("boot", 0) > first_boot and m
            )

        m = wait_for(more, 20)
        assert m["first_ts_utc"] < time.time() - 600  # the first run's history is still there
    finally:
        out = stop(proc)
    assert "Traceback" not in out
