"""The shipped systemd units (systemd-analyze verify and its offline security score) and
the shipped Caddyfile, run for real: HTTPS, HSTS, and the proxy headers the API reads."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from citizenwatt.config import ENV_NESTED, ENV_PREFIX, Settings, load_settings
from tests.deploy.conftest import DEPLOY, substitute
from tests.services import free_port, stop_process, wait_port

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
TIMERS = sorted((DEPLOY / "systemd").glob("*.timer"))
CITIZENWATT = Path(sys.executable).with_name("citizenwatt")


def _installed_units(tmp_path: Path) -> list[Path]:
    """The units as the guide installs them, with this checkout's command in place of
    /opt/citizenwatt/venv and the env files in tmp_path (verify checks both exist)."""
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("citizenwatt.env", "collector.env"):
        (etc / name).write_text("")
    out = []
    for unit in UNITS:
        text = substitute(unit.read_text(), [
            (r"/opt/citizenwatt/venv/bin/citizenwatt", str(CITIZENWATT)),
            (r"/etc/citizenwatt/", f"{etc}/"),
        ])
        (tmp_path / unit.name).write_text(text)
        out.append(tmp_path / unit.name)
    for timer in TIMERS:  # nothing to substitute; beside its service, which verify looks up
        shutil.copy(timer, tmp_path / timer.name)
    return out


def _exec_start(unit: Path) -> list[str]:
    return re.findall(r"^ExecStart=(.*)$", unit.read_text(), re.M)[0].split()


def test_units_verify_cleanly(tmp_path):
    assert [u.name for u in UNITS] == ["citizenwatt-api.service", "citizenwatt-collector.service",
                                       "citizenwatt-fold.service"]
    assert [t.name for t in TIMERS] == ["citizenwatt-fold.timer"]
    assert CITIZENWATT.exists()
    units = _installed_units(tmp_path)
    timers = [tmp_path / t.name for t in TIMERS]
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units + timers)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    # verify answers 0 on an unknown or mistyped option, with a warning: none allowed
    assert (r.returncode, r.stderr.strip()) == (0, "")
    for unit in units:
        text = unit.read_text()
        assert re.search(r"^User=citizenwatt$", text, re.M)
        assert re.search(r"^EnvironmentFile=.*citizenwatt\.env$", text, re.M)
        assert re.search(r"^ProtectSystem=strict$", text, re.M)
        assert re.search(r"^NoNewPrivileges=yes$", text, re.M)
    # only the collector gets the MQTT account's secrets
    def env_files(name):
        return re.findall(r"^EnvironmentFile=.*/(\S+)$", (tmp_path / name).read_text(), re.M)
    assert env_files("citizenwatt-collector.service") == ["citizenwatt.env", "collector.env"]
    assert env_files("citizenwatt-api.service") == ["citizenwatt.env"]
    assert env_files("citizenwatt-fold.service") == ["citizenwatt.env"]


def test_fold_timer_runs_the_fold_hourly(tmp_path):
    """The timer starts its service (same name) every hour, catches up a run missed while the
    machine was off, spread over a few minutes; the service is a one-shot fold, bounded."""
    timer = (DEPLOY / "systemd" / "citizenwatt-fold.timer").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", timer, re.M))
    assert settings == {"Description": settings["Description"], "Documentation": settings["Documentation"],
                        "OnCalendar": "hourly", "Persistent": "true", "RandomizedDelaySec": "5min",
                        "WantedBy": "timers.target"}
    [unit] = [u for u in _installed_units(tmp_path) if u.name == "citizenwatt-fold.service"]
    assert re.search(r"^Type=oneshot$", unit.read_text(), re.M)
    assert re.search(r"^Restart=", unit.read_text(), re.M) is None  # the next hour's run goes on
    # systemd's own calendar maths: two runs an hour apart, on the hour
    r = subprocess.run(["systemd-analyze", "calendar", "--iterations=2", settings["OnCalendar"]],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "TZ": "UTC"})
    runs = re.findall(r"(?:Next elapse|Iter\. #2): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", r.stdout)
    assert len(runs) == 2, r.stdout
    first, second = (datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in runs)
    assert (first.minute, first.second, (second - first).total_seconds()) == (0, 0, 3600)


def test_fold_unit_command_runs_as_written(tmp_path):
    """The fold unit's ExecStart, word for word (this checkout's command in place of
    /opt/citizenwatt/venv), with the data folder of the environment file: it folds an
    existing store and says how many readings moved."""
    from citizenwatt.store.sqlite import SqliteStore

    [unit] = [u for u in _installed_units(tmp_path) if u.name == "citizenwatt-fold.service"]
    argv = _exec_start(unit)
    assert argv[1:] == ["admin", "fold", "--max-readings", "2000000"]
    data = tmp_path / "data"
    data.mkdir()
    SqliteStore(data / "readings.sqlite").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(CITIZENWATT_DATA_DIR=str(data), CITIZENWATT_LANG="en")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Readings packed: 0 \(into 0 blocks\); folded into aggregates: 0;", r.stdout, re.M), \
        r.stdout


def test_units_hardening_score(tmp_path):
    for unit in _installed_units(tmp_path):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", r.stdout)
        assert m, r.stdout[-500:] + r.stderr
        # systemd's scale: 0 (locked down) to 10 (no protection); "OK" is below 2.0
        assert float(m[1]) < 2.0, (unit.name, m[0])


def test_environment_template_names_real_settings(monkeypatch):
    """Every variable of the template is a setting Settings reads, spelled as it expects."""
    names = []
    for ln in (DEPLOY / "env" / "citizenwatt.env").read_text().splitlines():
        m = re.match(r"^#?(CITIZENWATT_[A-Z0-9_]+)=", ln)
        if m:
            names.append(m[1])
    assert len(names) >= 15
    fields = Settings.model_fields
    for name in names:
        path = name.removeprefix(ENV_PREFIX).lower().split(ENV_NESTED)
        assert path[0] in fields, name
        if len(path) == 2:
            section = fields[path[0]].annotation
            assert path[1] in section.model_fields, name  # type: ignore[union-attr]
    # the values it sets (commented lines aside) load as they are
    env = {}
    for ln in (DEPLOY / "env" / "citizenwatt.env").read_text().splitlines():
        if ln.startswith("CITIZENWATT_"):
            k, v = ln.split("=", 1)
            env[k] = v
    for k in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = load_settings()
    assert (s.api.host, s.api.secure_cookies, s.mqtt.host) == ("127.0.0.1", True, "127.0.0.1")


# -- Caddy ------------------------------------------------------------------------------------

class _Echo(BaseHTTPRequestHandler):
    """Stands for the API: answers with the headers the proxy sent it."""

    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_caddyfile_adapts_as_shipped():
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed: scripts/test.sh installs it (apt-get install caddy)")
    r = subprocess.run([caddy, "adapt", "--config", str(DEPLOY / "caddy" / "Caddyfile"),
                        "--adapter", "caddyfile"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "watt.example.org" in r.stdout and "127.0.0.1:8000" in r.stdout


def test_caddy_serves_the_api_over_https_with_hsts(tmp_path):
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed: scripts/test.sh installs it (apt-get install caddy)")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    https_port, http_port = free_port(), free_port()
    data = tmp_path / "caddy-data"
    # Only the global block (ports, no admin endpoint, no change to the system's trust
    # store, a local CA instead of Let's Encrypt for "localhost") and the addresses change.
    text = substitute((DEPLOY / "caddy" / "Caddyfile").read_text(), [
        (r"(?s)^\{\n.*?^\}\n", "{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n"
                               f"\thttp_port {http_port}\n\thttps_port {https_port}\n"
                               f"\tstorage file_system {data}\n}}\n"),
        (r"^watt\.example\.org \{$", "localhost {"),
        (r"127\.0\.0\.1:8000", f"127.0.0.1:{upstream.server_address[1]}"),
    ])
    conf = tmp_path / "Caddyfile"
    conf.write_text(text)
    log = open(tmp_path / "caddy.log", "wb")
    proc = subprocess.Popen([caddy, "run", "--config", str(conf), "--adapter", "caddyfile"],
                            stdout=log, stderr=log, env={"HOME": str(tmp_path),
                                                         "XDG_DATA_HOME": str(tmp_path),
                                                         "XDG_CONFIG_HOME": str(tmp_path),
                                                         "PATH": "/usr/bin:/bin"})
    try:
        wait_port("127.0.0.1", https_port, timeout_s=30, proc=proc)
        root = next(data.glob("pki/authorities/local/root.crt"))
        ctx = ssl.create_default_context(cafile=str(root))
        req = urllib.request.Request(f"https://localhost:{https_port}/h/some-secret-link")
        for _ in range(50):  # Caddy makes the local certificate just after it listens
            try:
                resp = urllib.request.urlopen(req, context=ctx, timeout=10)
                break
            except (ssl.SSLError, urllib.error.URLError):
                time.sleep(0.1)
        else:
            raise AssertionError((tmp_path / "caddy.log").read_text()[-2000:])
        seen = json.loads(resp.read())
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "Server" not in resp.headers
        assert seen["x-forwarded-proto"] == "https"
        assert seen["x-forwarded-for"] == "127.0.0.1"
        assert seen["x-forwarded-host"] == f"localhost:{https_port}"
        # no access log: the secret link is written nowhere
        assert "some-secret-link" not in (tmp_path / "caddy.log").read_text()
    finally:
        stop_process(proc, 10)
        upstream.shutdown()
        log.close()
