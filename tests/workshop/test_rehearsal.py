"""Done-when of the rehearsal: `citizenwatt rehearse` runs offline (no package index nor
any address outside loopback reachable, an empty cache), `citizenwatt ports` lists its
boards like real ones, `citizenwatt workshop` flashes, provisions and checks them with
the real mpremote over their pseudo-terminals, and each household's page shows a reading
(a real Mosquitto with the ACLs the run wrote, the collector and the API started here)."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CITIZENWATT = str(Path(sys.executable).parent / "citizenwatt")

# Loaded by every Python child through PYTHONPATH: only loopback can be reached; any other
# connection or name lookup is refused and written down, so the test sees it.
NETWORK_GUARD = r'''
import ipaddress, os, socket

_log = os.environ["CW_NET_LOG"]

def _refuse(what):
    with open(_log, "a") as f:
        f.write(repr(what) + "\n")
    raise OSError(101, "Network is unreachable (rehearsal test: loopback only)")

def _loopback(host):
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False

_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

def connect(self, address):
    if isinstance(address, tuple) and not _loopback(address[0]):
        _refuse(address)
    return _connect(self, address)

def connect_ex(self, address):
    if isinstance(address, tuple) and not _loopback(address[0]):
        _refuse(address)
    return _connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode()
    if not _loopback(host):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''


class _Output:
    """A child's output, read line by line in a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, count: int = 1, timeout_s: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [ln for ln in list(self.lines) if re.search(pattern, ln)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} x{count} not seen in:\n{self.text()}")


def _page_reading(url: str) -> tuple[str, list[str]] | None:
    """The live power and the channel lines a household page shows, once it has a reading."""
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    power = re.search(r'id="live-power">([^<]*)<', page.text).group(1).strip()
    channels = re.findall(r"<li>([^<]*)</li>", page.text.split('id="live-channels">')[1].split("</ul>")[0])
    if power in ("", "—") or len(channels) < 2:
        return None
    return power, channels


def test_rehearsal_offline_from_ports_to_household_pages(api_server, auth_broker, tmp_path):
    from citizenwatt.collector.service import Collector
    from citizenwatt.store.sqlite import SqliteStore

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    net_log = tmp_path / "network-attempts.txt"
    cache = tmp_path / "cache"  # empty: nothing was ever downloaded on this "laptop"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIZENWATT_")}
    env.update(
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"), HOME=str(tmp_path / "home"),
        CITIZENWATT_WORKSHOP__CACHE_DIR=str(cache), COLUMNS="250",
        PYTHONPATH=str(guard), CW_NET_LOG=str(net_log),
        PIP_INDEX_URL="http://127.0.0.1:9/simple", HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9", ALL_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost",
    )
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
    # The guard is in force in the children: an address outside loopback is refused.
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(("
                            "'micropython.org', 443), timeout=2)"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert probe.returncode != 0 and "micropython.org" in net_log.read_text()
    net_log.unlink()

    rehearsal = subprocess.Popen([CITIZENWATT, "rehearse", "--boards", "3", "--state-dir",
                                  str(tmp_path / "meters")], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    out = _Output(rehearsal)
    store = SqliteStore(api_server.data_dir / "readings.sqlite")
    collector = Collector(store, auth_broker.host, auth_broker.port, username="collector",
                          password=auth_broker.collector_password, client_id="collector-rehearsal")
    try:
        out.wait_for("Laissez ce terminal ouvert")
        plugged = re.findall(r"│ (\d) +│ (/dev/pts/\d+) +│ (cw-5e000\d)", out.text())
        assert [(n, m) for n, _p, m in plugged] == [("1", "cw-5e0001"), ("2", "cw-5e0002"),
                                                     ("3", "cw-5e0003")]

        # 1) `ports` lists them like real boards, marked "simulée".
        ports = subprocess.run([CITIZENWATT, "ports"], capture_output=True, text=True, env=env,
                               timeout=60)
        assert ports.returncode == 0, ports.stderr
        listed = re.findall(r"│ (/dev/pts/\d+) +│ simulée +│ - +│ Carte simulée n° (\d), compteur "
                            r"(cw-5e000\d) \(citizenwatt rehearse\)", ports.stdout)
        assert sorted(listed) == sorted((p, n, m) for n, p, m in plugged)

        # 2) The workshop, watching the ports as in a room, offline from an empty cache.
        collector.start()
        households = tmp_path / "foyers.csv"
        households.write_text("household_ref,household_name,timezone\nHH-1,Famille Martin,"
                              "Europe/Paris\nHH-2,Famille Diallo,Europe/Paris\nHH-3,Famille Nguyen,"
                              "Europe/Paris\n")
        links_csv = tmp_path / "liens.csv"
        workshop = subprocess.run(
            [CITIZENWATT, "workshop", "--count", "3", "--households", str(households),
             "--wifi-ssid", "atelier", "--wifi-password", "motdepasse",
             "--mqtt-host", auth_broker.host, "--mqtt-port", str(auth_broker.port),
             "--api", api_server.url, "--token", api_server.leader_token,
             "--channel-label", "Maison entière", "--channel-label", "Chauffe-eau",
             "--interval-s", "1", "--mosquitto-passwd", str(auth_broker.passwd),
             "--mosquitto-acl", str(auth_broker.acl),
             "--mosquitto-reload", "kill -HUP %d" % auth_broker.proc.pid,
             "--links-csv", str(links_csv)],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=400)
        assert workshop.returncode == 0, workshop.stdout[-3000:] + workshop.stderr
        assert "3 cartes prêtes, 0 à refaire" in workshop.stdout
        # Offline from an empty cache: nothing was downloaded or needed from an index.
        assert not (cache / "mip").exists()

        # 3) The rehearsal terminal says each meter started and published.
        out.wait_for(r"Carte \d : le compteur cw-5e000\d a publié sa première mesure", count=3)

        # 4) Each household's page, opened with its secret link, shows a reading.
        with open(links_csv, newline="", encoding="utf-8") as f:
            sheet = list(csv.DictReader(f))
        assert sorted(r["meter_id"] for r in sheet) == ["cw-5e0001", "cw-5e0002", "cw-5e0003"]
        assert [r["household_ref"] for r in sheet] == ["HH-1", "HH-2", "HH-3"]
        pending = {r["household_link"]: r for r in sheet}
        assert all(link.startswith(api_server.url + "/h/") for link in pending)
        shown = {}
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for link in list(pending):
                reading = _page_reading(link)
                if reading is not None:
                    shown[pending.pop(link)["meter_id"]] = reading
            time.sleep(0.3)
        assert not pending, f"no reading on the pages of {[r['meter_id'] for r in pending.values()]}"
        for power, channels in shown.values():
            assert re.fullmatch(r"[\d\s,]+\s(W|kW)", power), power  # French: 1 234 W
            assert [c.split(" : ")[0] for c in channels] == ["Maison entière", "Chauffe-eau"]
    finally:
        rehearsal.send_signal(signal.SIGINT)
        try:
            rehearsal.wait(20)
        finally:
            if rehearsal.poll() is None:
                rehearsal.kill()
            collector.stop()
            store.close()
    assert rehearsal.returncode == 0, out.text()[-2000:]
    out.wait_for("Cartes simulées débranchées")
    # Unplugged: `ports` no longer lists them.
    after = subprocess.run([CITIZENWATT, "ports"], capture_output=True, text=True, env=env, timeout=60)
    assert after.returncode == 1 and "Aucune carte trouvée" in after.stderr
    # Nothing tried to leave loopback: no package index, no NTP, no DNS.
    assert not net_log.exists(), net_log.read_text()
