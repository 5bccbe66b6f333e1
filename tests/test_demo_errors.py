"""`citizenwatt demo` that cannot start says why in a sentence, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.services import free_port


def run_demo(data_dir, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, COLUMNS="300",
                **{"CITIZENWATT_" + k.upper(): str(v) for k, v in env.items()})
    if "mqtt__host" not in env:
        full.pop("CITIZENWATT_MQTT__HOST", None)
    return subprocess.run([sys.executable, "-m", "citizenwatt.cli", "demo", "--data-dir",
                           str(data_dir), "--port", str(free_port())],
                          env=full, capture_output=True, text=True, timeout=60)


def test_demo_with_an_unreachable_configured_broker_says_what_to_check(tmp_path):
    port = free_port()
    res = run_demo(tmp_path / "data", mqtt__host="127.0.0.1", mqtt__port=port)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert f"127.0.0.1:{port}" in res.stderr and "CITIZENWATT_MQTT__HOST" in res.stderr
    assert "Vérifiez" in res.stderr


def test_demo_with_a_data_dir_that_is_a_file_says_so(tmp_path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("")
    res = run_demo(not_a_dir, mqtt__port=free_port())
    assert res.returncode == 2  # refused at load, like every other bad setting
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert str(not_a_dir) in res.stderr and "--data-dir" in res.stderr
