"""Home Assistant discovery payloads (firmware/hass.py) checked against Home Assistant's
documented MQTT sensor schema, and their templates rendered on real readings.

The schema below is the "Configuration Variables" list of HA's MQTT sensor page
(home-assistant.io, source/_integrations/sensor.mqtt.markdown) and the sensor device classes'
units (developers.home-assistant.io, "Sensor entity"); the templates are rendered with
Jinja2's StrictUndefined, so that any access to something missing fails the test where HA
would log an UndefinedError."""

from __future__ import annotations

import json

import jinja2
import pytest

from citizenwatt.firmware import config, hass, wire

# Keys HA's MQTT sensor accepts in a discovery config (abbreviations not used here).
SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
    "json_attributes_topic", "last_reset_value_template", "name", "object_id", "options",
    "payload_available", "payload_not_available", "suggested_display_precision", "qos",
    "state_class", "state_topic", "unique_id", "unit_of_measurement", "value_template",
    "origin",
}
AVAILABILITY_KEYS = {"payload_available", "payload_not_available", "topic", "value_template"}
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer",
               "model", "model_id", "name", "serial_number", "suggested_area", "sw_version",
               "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# Device class -> units HA accepts for it (the ones a meter could use), and state classes.
DEVICE_CLASSES = {
    "power": ({"W", "kW"}, {"measurement"}),
    "energy": ({"Wh", "kWh", "MWh"}, {"total", "total_increasing"}),
    "current": ({"A", "mA"}, {"measurement"}),
    "voltage": ({"V", "mV"}, {"measurement"}),
    "power_factor": ({None, "%"}, {"measurement"}),
    "signal_strength": ({"dB", "dBm"}, {"measurement"}),
}


def cfg_of(channels, voltage=True, meter_id="cw-aaaaaa"):
    return config.validate({"meter_id": meter_id, "mqtt_host": "h", "hass": True,
                            "voltage": {"pin": config.VOLTAGE_PIN} if voltage else None,
                            "channels": channels})


SOLAR = cfg_of([{"id": 0, "pin": 36, "label": "Toute la maison", "direction": "bidirectional"},
                {"id": 1, "pin": 34, "label": "Chauffe-eau"}, {"id": 2, "pin": 35}])


def configs(cfg) -> dict[str, dict]:
    return {t: json.loads(p) for t, p in hass.discovery(cfg, "0.3.0") if p}


def check_against_schema(obj: dict) -> None:
    assert set(obj) <= SENSOR_KEYS, set(obj) - SENSOR_KEYS
    assert isinstance(obj["state_topic"], str) and obj["state_topic"]
    assert isinstance(obj["unique_id"], str) and isinstance(obj["name"], str)
    assert set(obj["device"]) <= DEVICE_KEYS and obj["device"]["identifiers"]
    assert set(obj["origin"]) <= ORIGIN_KEYS and obj["origin"]["name"] == "Citizen Watt"
    for a in obj.get("availability", []):
        assert set(a) <= AVAILABILITY_KEYS and "topic" in a
    if "entity_category" in obj:
        assert obj["entity_category"] == "diagnostic"  # the only one HA allows for sensors
    if "state_class" in obj:
        assert obj["state_class"] in STATE_CLASSES
    if "device_class" in obj:
        units, classes = DEVICE_CLASSES[obj["device_class"]]
        assert obj.get("unit_of_measurement") in units
        assert obj.get("state_class") in classes
    if "suggested_display_precision" in obj:
        p = obj["suggested_display_precision"]
        assert isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 3
    jinja2.Environment().parse(obj["value_template"])  # valid Jinja


def test_every_config_follows_home_assistants_sensor_schema():
    found = configs(SOLAR)
    assert len(found) == 3 * 4 + 1 + 3  # 3 channels x power/energy/current/pf, 1 export, V/RSSI/status
    for obj in found.values():
        check_against_schema(obj)


def test_names_unique_ids_and_accents():
    found = configs(SOLAR)
    names = {t.split("/")[3]: o["name"] for t, o in found.items()}
    # the workshop's labels, else the clamp counted from 1 as on the board
    assert names["ch0_power"] == "Toute la maison puissance"
    assert names["ch1_energy"] == "Chauffe-eau énergie"
    assert names["ch2_power"] == "Pince 3 puissance"
    assert names["ch0_export"] == "Toute la maison énergie renvoyée au réseau"
    assert names["status"] == "État" and names["rssi"] == "Signal Wi-Fi"
    uids = [o["unique_id"] for o in found.values()]
    assert len(set(uids)) == len(uids)
    assert all(u.startswith("citizenwatt_cw-aaaaaa_") and "cw_cw" not in u for u in uids)
    # two meters whose ids differ only by - and _ keep apart
    other = configs(cfg_of([{"id": 0, "pin": 36}], meter_id="cw_aaaaaa"))
    assert not {o["unique_id"] for o in other.values()} & set(uids)


def test_export_sensor_is_home_assistants_return_to_grid():
    export = configs(SOLAR)["homeassistant/sensor/cw-aaaaaa/ch0_export/config"]
    assert (export["device_class"], export["state_class"], export["unit_of_measurement"]) == \
        ("energy", "total_increasing", "kWh")
    # only the bidirectional channel has one
    assert [t for t in configs(SOLAR) if t.endswith("_export/config")] == \
        ["homeassistant/sensor/cw-aaaaaa/ch0_export/config"]


def reading(chans):
    return json.loads(wire.encode_reading("cw-aaaaaa", 1, 3, 30000, 10.0, chans, ts=1_790_000_000))


def render(obj, value_json):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    ctx = {} if value_json is None else {"value_json": value_json}
    return env.from_string(obj["value_template"]).render(**ctx)


def test_templates_read_the_right_channel_and_never_fail():
    found = {t.split("/")[3]: o for t, o in configs(SOLAR).items()}
    full = reading([wire.channel(0, None, -812.5, 3.6, 231.2, -0.98, energy_mwh=1_834_512,
                                 export_mwh=25_001_250),
                    wire.channel(1, 702.1, 0.0, 0.0, 231.2, 0.0),
                    wire.channel(2, 12.0, 40.0, 0.2, 231.2, 0.86)])
    assert render(found["ch0_power"], full) == "-812.5"
    assert render(found["ch0_energy"], full) == "1.835"
    assert render(found["ch0_export"], full) == "25.001"
    assert render(found["ch0_current"], full) == "3.6"
    assert render(found["ch0_pf"], full) == "-0.98"
    assert render(found["ch2_power"], full) == "40.0"
    assert render(found["voltage"], full) == "231.2"
    # A reading without channel 2, a version 1 reading (no export_wh), something that is
    # not a reading at all: nothing rendered (HA keeps the state), no error.
    partial = reading([wire.channel(0, 5.0, 100.0, 0.5, 230.0, 0.9)])
    assert render(found["ch2_energy"], partial) == ""
    assert render(found["ch0_export"], partial) == ""
    for junk in ({}, {"ch": []}, None):
        for obj in found.values():
            assert render(obj, junk) == ""
    status = {"v": 1, "meter": "cw-aaaaaa", "state": "online", "rssi": -67}
    assert render(found["rssi"], status) == "-67"
    assert render(found["status"], status) == "online"
    assert render(found["rssi"], {"v": 1, "meter": "cw-aaaaaa", "state": "offline"}) == ""


@pytest.mark.parametrize("voltage", [True, False])
def test_sensors_a_meter_no_longer_has_are_removed(voltage):
    """An empty retained config for each channel and kind this configuration lacks: a
    channel taken off, a channel no longer bidirectional, a voltage adapter removed."""
    before = hass.discovery(SOLAR, "0.3.0")
    after = hass.discovery(cfg_of([{"id": 0, "pin": 36}], voltage=voltage), "0.3.0")
    kept = {t for t, p in after if p}
    removed = {t for t, p in after if not p}
    assert kept | removed >= {t for t, _ in before}  # every config ever sent is answered
    assert not kept & removed
    node = "homeassistant/sensor/cw-aaaaaa/"
    assert {node + o + "/config" for o in ("ch0_export", "ch1_power", "ch2_energy")} <= removed
    assert (node + "voltage/config" in removed) is not voltage
    assert (node + "ch0_pf/config" in removed) is not voltage
