"""Updates over Wi-Fi, server side: the deployment's Ed25519 signing key, firmware releases
(an uploaded archive or one built here from the installed firmware) signed with it, and the
retained update command a meter reads on its command topic. The meter's side, and the
archive's format, are in firmware/update.py; docs/firmware.md explains the whole."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from sqlalchemy.orm import Session

from citizenwatt.config import Settings
from citizenwatt.firmware import update, wire
from citizenwatt.i18n import N_

from .errors import ApiError
from .models import FirmwareRelease, Meter, MeterUpdate

KEY_FILE = "firmware-signing.key"


def key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def signing_key(settings: Settings, create: bool = False) -> Ed25519PrivateKey | None:
    """The deployment's signing key (PEM, readable by its owner only); made when create is
    set (`citizenwatt admin firmware-key`: never by a web request)."""
    path = key_path(settings)
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ApiError(500, "firmware_key", N_("The firmware signing key {path} is not an "
                                                   "Ed25519 key: move it away and run "
                                                   "citizenwatt admin firmware-key."), path=str(path))
        return key
    if not create:
        return None
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def required_key(settings: Settings) -> Ed25519PrivateKey:
    key = signing_key(settings)
    if key is None:
        raise ApiError(409, "no_firmware_key", N_("This server has no firmware signing key yet: "
                                                  "run citizenwatt admin firmware-key on it, put "
                                                  "the key it prints in the meters' config.json, "
                                                  "then try again."))
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """What goes in each meter's config.json as update_key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def check_archive(data: bytes) -> None:
    if not data.startswith(update.ARCHIVE_MAGIC) or len(data) > update.MAX_ARCHIVE_BYTES:
        raise ApiError(422, "bad_archive", N_("This is not a firmware archive of at most {max} "
                                              "bytes: send the file that citizenwatt firmware "
                                              "bundle --archive writes."),
                       max=update.MAX_ARCHIVE_BYTES)


def check_version(version: str) -> None:
    if not update._version_ok(version):
        raise ApiError(422, "bad_version", N_("The version \"{version}\" is not valid: use 1 to "
                                              "24 letters, digits and . - + _ (e.g. 0.3.0)."),
                       version=version[:40])


def check_new_version(db: Session, version: str) -> None:
    check_version(version)
    if db.get(FirmwareRelease, version) is not None:
        raise ApiError(409, "version_exists", N_("Version {version} is already published: give "
                                                 "the new firmware a new version number."),
                       version=version)


def build_archive(version: str) -> bytes:
    """Compile the installed firmware (mpy-cross) and pack it as an update archive."""
    from citizenwatt.host import bundle

    with tempfile.TemporaryDirectory() as tmp:
        bundle.build(Path(tmp) / "bundle")
        return bundle.archive(Path(tmp) / "bundle")


def publish_release(db: Session, settings: Settings, version: str, data: bytes, who: str,
                    now: float, origin: str) -> FirmwareRelease:
    check_new_version(db, version)
    check_archive(data)
    key = required_key(settings)
    sha = hashlib.sha256(data).hexdigest()
    sig = key.sign(update.signed_message(version, sha, len(data))).hex()
    rel = FirmwareRelease(version=version, sha256=sha, size=len(data), signature=sig,
                          archive=data, created_utc=now, created_by=who, origin=origin)
    db.add(rel)
    db.flush()
    return rel


def command_payload(rel: FirmwareRelease, base_url: str) -> bytes:
    url = base_url.rstrip("/") + "/api/firmware/" + rel.version + "/archive"
    return json.dumps({"v": 1, "version": rel.version, "url": url, "sha256": rel.sha256,
                       "size": rel.size, "sig": rel.signature}).encode()


def send_command(settings: Settings, meter_id: str, payload: bytes) -> None:
    """Publish the retained update command (QoS 1) with the server's MQTT account, which
    alone may write cwcmd/# (workshop/mqttauth.py, deploy/)."""
    import paho.mqtt.publish as publish

    m = settings.mqtt
    user, password = settings.api.mqtt_username, settings.api.mqtt_password
    if user is None:
        user, password = m.username, m.password
    if not m.host:
        raise ApiError(409, "no_broker", N_("No MQTT broker is configured for the server: set "
                                            "CITIZENWATT_MQTT__HOST, then ask again."))
    auth: Any = {"username": user, "password": password or ""} if user else None
    try:
        publish.single(wire.command_topic(meter_id, "update"), payload, qos=1, retain=True,
                       hostname=m.host, port=m.port, auth=auth,
                       client_id=user or "citizenwatt-api-%d" % os.getpid())
    except OSError as e:
        raise ApiError(409, "broker_unreachable", N_("The MQTT broker did not take the command "
                                                     "({error}): check that it runs, then ask "
                                                     "again."), error=str(e)[:200]) from None


def request_update(db: Session, settings: Settings, meter: Meter, version: str, who: str,
                   now: float) -> MeterUpdate:
    rel = db.get(FirmwareRelease, version)
    if rel is None:
        raise ApiError(404, "unknown_version", N_("No firmware version {version} is published: "
                                                  "publish it first."), version=version[:40])
    base = settings.api.public_url
    if not base or not base.startswith("https://"):
        raise ApiError(409, "no_public_url", N_("Meters download updates over HTTPS from the "
                                                "server's public address: set "
                                                "CITIZENWATT_API__PUBLIC_URL to an https:// "
                                                "address first."))
    send_command(settings, meter.id, command_payload(rel, base))
    row = db.get(MeterUpdate, meter.id)
    if row is None:
        row = MeterUpdate(meter_id=meter.id, version=version, requested_utc=now, requested_by=who)
        db.add(row)
    else:
        row.version, row.requested_utc, row.requested_by = version, now, who
    db.flush()
    return row
