"""Updates over Wi-Fi, end to end: staff publish firmware versions through the API (signed
with the deployment's key), ask a meter to update on its command topic through a real
Mosquitto, and the meter (the firmware's own Meter on CPython, host simulator) downloads
the archive from the API over HTTPS (uvicorn with a test CA's certificate), checks its
SHA-256 and signature, installs it in the other slot and reboots into it. A corrupted
download and a forged command are refused; a version that crashes at boot is rolled back.
The collector stores the statuses, and the staff page shows each meter's version and
update state."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import ssl
import threading
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import update as sql_update

from citizenwatt.api import admin
from citizenwatt.api import firmware as api_firmware
from citizenwatt.api.app import create_app
from citizenwatt.api.models import FirmwareRelease
from citizenwatt.collector.service import Collector
from citizenwatt.config import Settings
from citizenwatt.firmware import meter as fw_meter
from citizenwatt.firmware import update, wire
from citizenwatt.host import bundle, simulator
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import wait_until
from tests.deploy.conftest import make_certs as broker_certs
from tests.services import free_port

MID = "ota-01"
FIRMWARE = Path(fw_meter.__file__).parent


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Citizen Watt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (d / "ca.crt", d / "api.crt", d / "api.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def variant(tmp: Path, version: str, crash: bool = False) -> bytes:
    """The update archive of this firmware with another FIRMWARE_VERSION (and a meter that
    crashes at boot), as a source bundle: the host simulator runs what it was sent."""
    src = tmp / f"src-{version}"
    shutil.copytree(FIRMWARE, src, ignore=shutil.ignore_patterns("board", "__pycache__"))
    text = (src / "meter.py").read_text()
    text = text.replace(f'FIRMWARE_VERSION = "{fw_meter.FIRMWARE_VERSION}"',
                        f'FIRMWARE_VERSION = "{version}"')
    if crash:
        text = text.replace("    def start(self):\n",
                            "    def start(self):\n        raise RuntimeError('crashes at boot')\n")
    (src / "meter.py").write_text(text)
    out = tmp / f"bundle-{version}"
    bundle.build(out, source=src, mpy=False)
    return bundle.archive(out)


class Api:
    def __init__(self, tmp: Path, mosquitto, store):
        self.ca, cert, key = make_certs(tmp)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        settings = Settings(data_dir=tmp / "data",
                            api={"database_url": f"sqlite:///{tmp / 'db.sqlite'}",
                                 "public_url": self.url},
                            mqtt={"host": mosquitto.host, "port": mosquitto.port})
        self.app = create_app(store, settings)
        with self.app.state.sessionmaker() as db:
            dep = admin.create_deployment(db, "Atelier OTA")
            admin.register_meter(db, dep, MID)
            u = admin.create_staff(db, "chef", "un mot de passe assez long", "admin", None)
            _, self.token = admin.create_token(db, u, "api", "tests")
            db.commit()
            self.dep_id = dep.id
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                ssl_certfile=str(cert), ssl_keyfile=str(key))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 20, "uvicorn to start")
        self.http = httpx.Client(base_url=self.url, timeout=30,
                                 verify=ssl.create_default_context(cafile=str(self.ca)),
                                 headers={"Authorization": f"Bearer {self.token}"})

    def stop(self):
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)


class Board:
    """The meter's flash and its power: each boot runs what board/boot.py would choose.

    Its one CA file, ca.pem beside config.json as the workshop installs it, holds the
    broker's CA (another authority) and the one that signed the API's HTTPS certificate:
    the download is checked against that same file (config ca_file), as MQTT over TLS is."""

    def __init__(self, tmp: Path, mosquitto, api: Api, key: str):
        self.flash = tmp / "flash"
        self.flash.mkdir()
        broker_ca = broker_certs(tmp / "broker-certs", "localhost") / "citizenwatt-ca.crt"
        self.ca_pem = broker_ca.read_bytes() + api.ca.read_bytes()
        (self.flash / "ca.pem").write_bytes(self.ca_pem)
        self.mosquitto, self.api, self.key = mosquitto, api, key
        self.boots: list[tuple[str | None, str]] = []   # (slot, version) per boot
        self.meter: SimulatedMeter | None = None

    def boot(self) -> SimulatedMeter:
        module, slot = simulator.boot(self.flash)
        self.boots.append((slot, module.FIRMWARE_VERSION))
        self.meter = SimulatedMeter(meter_id=MID, host=self.mosquitto.host,
                                    port=self.mosquitto.port, state_dir=self.flash, seed=5,
                                    interval_s=10.0, speed=30.0, channels=1, firmware=module,
                                    extra_config={"update_key": self.key})
        self.meter.start()
        return self.meter

    def until_reset_or_error(self, timeout_s: float = 60) -> str:
        m = self.meter
        assert m is not None
        wait_until(lambda: m.reset_requested or m.error is not None, timeout_s,
                   "the meter to reboot or crash")
        m.stop(timeout_s=10)
        return "reset" if m.reset_requested else "crash"

    def stop(self):
        if self.meter is not None:
            self.meter.stop(timeout_s=10)


def ota_state(board: Board) -> dict:
    return json.loads((board.flash / update.STATE_FILE).read_text())


def statuses(mosquitto) -> list[dict]:
    got: list[dict] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ota-status-reader")
    c.on_message = lambda cl, u, msg: got.append(json.loads(msg.payload))
    c.connect(mosquitto.host, mosquitto.port)
    c.subscribe(wire.status_topic(MID), 1)
    c.loop_start()
    try:
        wait_until(lambda: got, 5, "the retained status")
    finally:
        c.loop_stop()
        c.disconnect()
    return got


@pytest.fixture
def rig(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = Collector(store, mosquitto.host, mosquitto.port, client_id="ota-collector")
    collector.start()
    api = Api(tmp_path, mosquitto, store)
    # No key yet: nothing can be published. The server's administrator makes it (CLI).
    r = api.http.put("/api/v1/firmware/0.1.0", content=b"CWFW1\n")
    assert r.status_code == 409 and r.json()["code"] == "no_firmware_key"
    api_firmware.signing_key(api.app.state.config, create=True)
    key = api.http.get("/api/v1/firmware-key").json()["public_key"]
    board = Board(tmp_path, mosquitto, api, key)
    try:
        yield api, board, store, collector
    finally:
        board.stop()
        api.stop()
        collector.stop()
        store.close()


def publish(api: Api, version: str, data: bytes) -> dict:
    r = api.http.put(f"/api/v1/firmware/{version}", content=data,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return r.json()


def ask(api: Api, version: str) -> None:
    r = api.http.post(f"/api/v1/meters/{MID}/update", json={"version": version})
    assert r.status_code == 202, r.text


def wait_status(mosquitto, pred, what: str, timeout_s: float = 30) -> dict:
    box: list[dict] = []

    def ok():
        s = statuses(mosquitto)[-1]
        box[:] = [s]
        return pred(s)

    wait_until(ok, timeout_s, what, interval_s=0.3)
    return box[0]


def test_update_a_to_b_corrupted_refused_crashing_rolled_back(rig, tmp_path, mosquitto):
    api, board, store, collector = rig
    a = fw_meter.FIRMWARE_VERSION
    b, bad, crash = "0.9.0-b", "0.9.1-bad", "0.9.2-crash"
    rel_b = publish(api, b, variant(tmp_path, b))
    assert rel_b["size"] > 10_000 and len(rel_b["signature"]) == 128

    # A runs (the workshop's /lib copy: no slot yet) and is told to update to B.
    m = board.boot()
    assert m.wait_published(2, 30), m.error
    ask(api, b)
    assert board.until_reset_or_error() == "reset"
    assert api.url + f"/api/firmware/{b}/archive" in m.hw.downloads
    st = ota_state(board)
    assert (st["trial"], st["trial_version"], st["last"]) == ("a", b, update.TRIAL)
    # B runs from slot a, comes on line and confirms itself; the status says so.
    m = board.boot()
    assert board.boots == [(None, a), ("a", b)]
    assert m.wait_published(2, 30), m.error
    s = wait_status(mosquitto, lambda s: s.get("fw") == b and s.get("update") == update.UPDATED,
                    "B's status")
    assert s["state"] == "online"
    st = ota_state(board)
    assert (st["active"], st["active_version"], st["trial"]) == ("a", b, None)

    # A corrupted download: the archive stored for the version changes after signing.
    publish(api, bad, variant(tmp_path, bad))
    with api.app.state.sessionmaker() as db:
        rel = db.get(FirmwareRelease, bad)
        data = bytearray(rel.archive)
        data[len(data) // 2] ^= 0xFF
        db.execute(sql_update(FirmwareRelease).where(FirmwareRelease.version == bad)
                   .values(archive=bytes(data)))
        db.commit()
    ask(api, bad)
    s = wait_status(mosquitto, lambda s: s.get("update") == update.REFUSED, "the refusal")
    assert (s["update_to"], s["update_error"], s["fw"]) == (bad, update.BAD_HASH, b)
    assert not m.reset_requested and m.error is None          # B goes on measuring
    assert not (board.flash / "ota" / "b").exists()           # nothing half-installed left
    n = m.published
    assert m.wait_published(n + 2, 30)

    # A crashing version: installed, tried twice (each boot crashes), rolled back to B.
    publish(api, crash, variant(tmp_path, crash, crash=True))
    ask(api, crash)
    assert board.until_reset_or_error() == "reset"
    for _ in range(update.MAX_TRIAL_BOOTS):
        board.boot()
        assert board.until_reset_or_error() == "crash"
    m = board.boot()
    assert board.boots[-3:] == [("b", crash), ("b", crash), ("a", b)]
    assert m.wait_published(2, 30), m.error
    s = wait_status(mosquitto, lambda s: s.get("update") == update.ROLLED_BACK, "the rollback")
    assert (s["fw"], s["update_to"]) == (b, crash)
    st = ota_state(board)
    assert (st["active"], st["failed_version"], st["trial"]) == ("a", crash, None)
    # The retained command for the crashing version is still there: it is not tried again.
    n = m.published
    assert m.wait_published(n + 3, 30) and not m.reset_requested

    # The staff page and JSON show the version and the update state.
    wait_until(lambda: (next((x for x in store.meters() if x.meter_id == MID), None) or
                        type("S", (), {"status": {}})).status.get("update") == update.ROLLED_BACK,
               20, "the collector to store the last status")
    rows = api.http.get(f"/api/v1/deployments/{api.dep_id}/meters").json()
    row = next(r for r in rows if r["meter_id"] == MID)
    assert (row["firmware"], row["update_requested"], row["update_state"], row["update_to"]) == (
        b, crash, update.ROLLED_BACK, crash)
    page = api.http.get("/staff").text
    cell = page.split(f'<tr data-meter="{MID}"')[1].split("</tr>")[0]
    assert f'<td class="firmware" data-label="Micrologiciel">{b} · ' in cell
    assert f"{crash} retirée (retour à la version d&#39;avant)" in cell


def test_a_forged_command_is_refused_before_any_download(rig, tmp_path, mosquitto):
    api, board, store, collector = rig
    b = "0.9.0-b"
    rel = publish(api, b, variant(tmp_path, b))
    m = board.boot()
    assert m.wait_published(2, 30), m.error
    # Someone with broker access but not the key: the same archive, another signature.
    forged = {"v": 1, "version": b, "url": api.url + f"/api/firmware/{b}/archive",
              "sha256": rel["sha256"], "size": rel["size"], "sig": "ab" * 64}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ota-forger")
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    c.publish(wire.command_topic(MID, "update"), json.dumps(forged), qos=1, retain=True).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()
    s = wait_status(mosquitto, lambda s: s.get("update") == update.REFUSED, "the refusal")
    assert (s["update_to"], s["update_error"]) == (b, update.BAD_SIGNATURE)
    assert m.hw.downloads == [] and not m.reset_requested


def test_a_server_the_ca_file_does_not_vouch_for_is_refused(rig, tmp_path, mosquitto):
    """Only the broker's CA left in ca.pem: the API's certificate is not trusted, nothing is
    downloaded into a slot, the meter says download_failed and measures on."""
    api, board, store, collector = rig
    b = "0.9.0-b"
    publish(api, b, variant(tmp_path, b))
    (board.flash / "ca.pem").write_bytes(board.ca_pem[:board.ca_pem.index(api.ca.read_bytes())])
    m = board.boot()
    assert m.wait_published(2, 30), m.error
    ask(api, b)
    s = wait_status(mosquitto, lambda s: s.get("update") == update.REFUSED, "the refusal")
    assert (s["update_to"], s["update_error"], s["fw"]) == (b, update.DOWNLOAD_FAILED,
                                                            fw_meter.FIRMWARE_VERSION)
    assert m.hw.downloads == [api.url + f"/api/firmware/{b}/archive"]
    assert not m.reset_requested and m.error is None
    assert not (board.flash / "ota" / "a").exists()
