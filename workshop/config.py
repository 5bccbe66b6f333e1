"""The meter's config.json, written by the workshop tool in the firmware's own format.

The format, its defaults and its validation belong to the firmware (firmware/config.py);
this module only builds the dict, validates it with the firmware's own validate() (so a
bad value fails here, in the workshop, with the same sentence the meter would give), and
derives the calibration constants with the firmware's calib.design().
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from citizenwatt.firmware import calib, wire
from citizenwatt.firmware import config as fwconfig
from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import ReadBackMismatch, WorkshopError

CONFIG_PATH = "/config.json"
# The meter's one CA file, beside config.json (the firmware's default ca_file): the
# broker's CA for MQTT over TLS, and the authorities of update downloads over HTTPS.
CA_PATH = "/" + fwconfig.DEFAULTS["ca_file"]
# ADC1 pins for the clamps, in the order channels get them, and the AC-AC adapter's: the
# reference board's wiring, defined once in the firmware (firmware/config.py).
CHANNEL_PINS = fwconfig.CURRENT_PINS
VOLTAGE_PIN = fwconfig.VOLTAGE_PIN


def build(meter_id: str, *, wifi_ssid: str, wifi_password: str, mqtt_host: str,
          mqtt_port: int, mqtt_user: str, mqtt_password: str, channels: int = 1,
          clamp: str = "SCT-013-000", max_current_a: float = 100.0, mains_hz: int = 50,
          nominal_v: float = 230.0, voltage_adapter_v: float | None = None,
          interval_s: float | None = None, hass: bool = False, trims: dict | None = None,
          labels: dict | None = None, tls: bool = False,
          server_name: str | None = None, update_key: str = "") -> dict:
    """The raw config dict (only what differs from the firmware defaults, plus identity).
    labels: what each channel measures; the meter publishes them in its status.
    tls: the CA file is installed (write_ca): MQTT over TLS, and update downloads checked
    against the same file; update_key: the deployment's key (check_update_key())."""
    trims = trims or {}
    labels = labels or {}
    if not 1 <= channels <= len(CHANNEL_PINS):
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail="1 to %d channels" % len(CHANNEL_PINS),
        )
    raw = {
        "meter_id": meter_id,
        "wifi_ssid": wifi_ssid,
        "wifi_password": wifi_password,
        "mqtt_host": mqtt_host,
        "mqtt_port": mqtt_port,
        "mqtt_user": mqtt_user,
        "mqtt_password": mqtt_password,
        "mains_hz": mains_hz,
        "nominal_v": nominal_v,
        "channels": [
            {
                "id": i,
                "pin": CHANNEL_PINS[i],
                "clamp": clamp,
                "max_current_a": max_current_a,
                "trim": trims.get(i, 1.0),
                **({"label": labels[i][: fwconfig.MAX_LABEL]} if labels.get(i) else {}),
            }
            for i in range(channels)
        ],
        "hass": hass,
    }
    if tls:
        # The CA goes to CA_PATH (write_ca), the firmware's default ca_file.
        raw["mqtt_tls"] = True
        if server_name:
            raw["mqtt_server_name"] = server_name
    if update_key:
        if not tls:
            raise WorkshopError(
                "config.update_key_without_ca",
                N_("The profile gives update_key but no ca_file: meters download their updates "
                   "over HTTPS and check the server against that file. Add ca_file (the "
                   "association's CA, citizenwatt-ca.crt) to the profile, or remove update_key."),
            )
        raw["update_key"] = update_key
    if voltage_adapter_v:
        raw["voltage"] = {"pin": VOLTAGE_PIN, "adapter_v": voltage_adapter_v}
    if interval_s is not None:
        raw["interval_s"] = interval_s
        if interval_s < fwconfig.DEFAULTS["measure_period_s"]:
            raw["measure_period_s"] = interval_s
    validate(raw)
    return raw


def validate(raw: dict) -> dict:
    """The firmware's validation, turned into a WorkshopError; returns the merged config."""
    if not 0 < len(raw.get("channels") or []) <= wire.MAX_CHANNELS:
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail="1 to %d channels" % wire.MAX_CHANNELS,
        )
    try:
        cfg = fwconfig.validate(raw)
        for ch in cfg["channels"]:
            calib.design(ch["clamp"], ch["max_current_a"])
    except (fwconfig.ConfigError, calib.DesignError) as e:
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=str(e).rstrip("."),
        ) from None
    return cfg


def channel_design(cfg: dict, ch: dict) -> dict:
    v = cfg.get("voltage")
    return calib.design(
        ch["clamp"],
        ch["max_current_a"],
        mains_v=cfg["nominal_v"],
        mains_hz=cfg["mains_hz"],
        atten_db=cfg["atten_db"],
        sample_rate_hz=cfg["sample_rate_hz"],
        adapter_v=v["adapter_v"] if v else 0.0,
        adapter_phase_deg=v["phase_deg"] if v else 0.0,
    )


def channel_cal(cfg: dict, ch: dict, trim: float | None = None) -> dict:
    """measure.measure()'s calibration for one channel, as the meter computes it."""
    v = cfg.get("voltage")
    return calib.channel_cal(
        channel_design(cfg, ch),
        trim=ch["trim"] if trim is None else trim,
        voltage=v is not None,
        nominal_v=cfg["nominal_v"],
        vtrim=v["trim"] if v else 1.0,
    )


def meter_id_from_mac(mac_hex: str) -> str:
    """A stable id from the board's MAC: the same board gets the same id when redone."""
    return "cw-" + mac_hex.lower().replace(":", "")[-6:]


def to_bytes(raw: dict) -> bytes:
    return json.dumps(raw, indent=1, sort_keys=True).encode()


def read_raw(board) -> dict | None:
    data = board.read_file(CONFIG_PATH)
    if data is None:
        return None
    try:
        raw = json.loads(data)
    except ValueError:
        return None
    return raw if isinstance(raw, dict) else None


def load(board) -> tuple[dict, dict]:
    """(raw, merged) config from the board, or a WorkshopError saying to provision."""
    raw = read_raw(board)
    if raw is None:
        raise WorkshopError(
            "config.missing",
            N_("No configuration on the board {port}. Run `citizenwatt provision` first."),
            port=board.port,
        )
    return raw, validate(raw)


def write(board, raw: dict) -> None:
    validate(raw)
    data = to_bytes(raw)
    board.write_file(CONFIG_PATH, data)
    if board.sha256(CONFIG_PATH) != hashlib.sha256(data).hexdigest():
        raise ReadBackMismatch(CONFIG_PATH)


def profile_ca(profile: dict) -> bytes | None:
    """The CA file the profile names (ca_file, or its old name mqtt_ca_file), read and
    checked; None when it names none. One file for MQTT over TLS and for updates."""
    new, old = profile.get("ca_file"), profile.get("mqtt_ca_file")
    if new and old and Path(new).expanduser() != Path(old).expanduser():
        raise WorkshopError(
            "config.two_ca_files",
            N_("The profile names two CA files, ca_file ({new}) and mqtt_ca_file ({old}): a "
               "meter has one, for MQTT and for updates alike. Keep ca_file only (it may hold "
               "several certificates, one after the other)."),
            new=new, old=old,
        )
    path = new or old
    return read_ca(Path(path).expanduser()) if path else None


def check_update_key(value) -> str:
    """The profile's update_key (the deployment's Ed25519 public key, as printed by
    `citizenwatt admin firmware-key`), as the meter wants it; "" when none is given."""
    if value is None or value == "":
        return ""
    key = "".join(value.split()).lower() if isinstance(value, str) else ""
    if len(key) != 64 or key.strip("0123456789abcdef"):
        raise WorkshopError(
            "config.update_key",
            N_("update_key in the profile is {value}: paste the deployment's public key as "
               "citizenwatt admin firmware-key prints it on the server (64 hexadecimal digits, "
               "0-9 and a-f), or remove the line (the meters then take no update over Wi-Fi)."),
            value=repr(value),
        )
    return key


def read_ca(path) -> bytes:
    """The meter's CA file from the workshop's machine (the profile's ca_file), checked
    the way the meter will read it at boot."""
    try:
        pem = open(path, "rb").read()
    except OSError as e:
        raise WorkshopError(
            "config.ca_missing",
            N_("Cannot read the CA file {path} ({detail}). Give the path of "
               "citizenwatt-ca.crt (made by deploy/tls/make-broker-certs.sh) in the profile's "
               "ca_file, then try again."),
            path=path, detail=e.strerror or e,
        ) from None
    try:
        fwconfig.pem_certs(pem, str(path))
    except (fwconfig.ConfigError, UnicodeDecodeError) as e:
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=str(e).rstrip("."),
        ) from None
    return pem


def write_ca(board, pem: bytes) -> None:
    """Install the CA beside config.json, read back and compared like the config."""
    board.write_file(CA_PATH, pem)
    if board.sha256(CA_PATH) != hashlib.sha256(pem).hexdigest():
        raise ReadBackMismatch(CA_PATH)
