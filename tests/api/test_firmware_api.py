"""Firmware releases and update requests through the API, with the test world's staff:
who may publish (association admins), ask a meter to update (its deployment's leaders),
list (staff) and download (anyone: the archive is signed), and the refusals' words."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api import firmware as api_firmware
from citizenwatt.config import Settings
from citizenwatt.firmware import ed25519, update

from .conftest import Clock
from .world import build_world

ARCHIVE = update.ARCHIVE_MAGIC + b"citizenwatt/__init__.mpy 3\nabc"


@pytest.fixture
def fw_world(store, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", api={"database_url": "sqlite://",
                                                         "public_url": "https://watt.example.org"})
    w = build_world(store, Clock(), settings=settings)
    with TestClient(w.app) as c:
        yield w, c, settings


def test_publish_list_download_and_who_may(fw_world):
    w, c, settings = fw_world
    admin, leader = w.bearer(w.staff_tokens["admin"]), w.bearer(w.staff_tokens["leader1"])
    r = c.put("/api/v1/firmware/0.3.0", content=ARCHIVE, headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "no_firmware_key"
    assert "citizenwatt admin firmware-key" in r.json()["detail"]
    key = api_firmware.signing_key(settings, create=True)
    assert oct(api_firmware.key_path(settings).stat().st_mode & 0o777) == "0o600"
    pub = bytes.fromhex(c.get("/api/v1/firmware-key", headers=leader).json()["public_key"])
    assert pub.hex() == api_firmware.public_key_hex(key)

    assert c.put("/api/v1/firmware/0.3.0", content=ARCHIVE, headers=leader).status_code in (403, 404)
    r = c.put("/api/v1/firmware/0.3.0", content=ARCHIVE, headers=admin)
    assert r.status_code == 201
    rel = r.json()
    assert (rel["sha256"], rel["size"], rel["origin"]) == (hashlib.sha256(ARCHIVE).hexdigest(),
                                                            len(ARCHIVE), "upload")
    # The meter's own verifier accepts the server's signature.
    msg = update.signed_message("0.3.0", rel["sha256"], rel["size"])
    assert ed25519.verify(pub, msg, bytes.fromhex(rel["signature"]))
    assert not ed25519.verify(pub, msg.replace(b"0.3.0", b"0.3.1"), bytes.fromhex(rel["signature"]))

    r = c.put("/api/v1/firmware/0.3.0", content=ARCHIVE, headers=admin)
    assert r.status_code == 409 and "nouveau numéro de version" in r.json()["detail"]
    r = c.put("/api/v1/firmware/0.3.1", content=b"PK\x03\x04 not ours", headers=admin)
    assert r.status_code == 422 and "citizenwatt firmware bundle --archive" in r.json()["detail"]

    assert [x["version"] for x in c.get("/api/v1/firmware", headers=leader).json()] == ["0.3.0"]
    assert c.get("/api/v1/firmware").status_code == 401
    assert c.get("/api/v1/firmware", headers=w.bearer(w.link("A"))).status_code in (401, 403)
    r = c.get("/api/firmware/0.3.0/archive")           # the meter: no sign-in
    assert r.status_code == 200 and r.content == ARCHIVE
    assert c.get("/api/firmware/9.9/archive").status_code == 404


def test_update_requests_follow_the_deployment(fw_world):
    w, c, settings = fw_world
    api_firmware.signing_key(settings, create=True)
    admin = w.bearer(w.staff_tokens["admin"])
    assert c.put("/api/v1/firmware/0.3.0", content=ARCHIVE, headers=admin).status_code == 201
    body = {"version": "0.3.0"}
    # Another deployment's leader, a viewer, a household: not theirs to update.
    r = c.post("/api/v1/meters/meter-a/update", json=body, headers=w.bearer(w.staff_tokens["leader2"]))
    assert r.status_code == 404
    r = c.post("/api/v1/meters/meter-a/update", json=body, headers=w.bearer(w.staff_tokens["viewer1"]))
    assert r.status_code == 403
    assert c.post("/api/v1/meters/meter-a/update", json=body,
                  headers=w.bearer(w.link("A"))).status_code in (401, 403)
    leader = w.bearer(w.staff_tokens["leader1"])
    r = c.post("/api/v1/meters/meter-a/update", json={"version": "9.9"}, headers=leader)
    assert r.status_code == 404 and r.json()["code"] == "unknown_version"
    # Its own leader: no broker configured here, said so with what to do.
    r = c.post("/api/v1/meters/meter-a/update", json=body, headers=leader)
    assert r.status_code == 409 and "CITIZENWATT_MQTT__HOST" in r.json()["detail"]
