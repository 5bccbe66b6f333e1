# Home Assistant MQTT discovery for a Citizen Watt meter, all read from the wire contract's
# topics. Per channel: power (W), energy (kWh, total_increasing), current (A), the power
# factor with a voltage adapter and, on a bidirectional channel, the energy sent back to
# the grid (kWh, total_increasing: HA's "return to grid"). Per meter: voltage, Wi-Fi
# signal and status. Published retained at connect when cfg["hass"], with an empty
# retained config for every sensor this configuration no longer has (a channel removed,
# no voltage adapter any more), which is how HA is told to remove it.
#
# Topics use HA's node form <prefix>/sensor/<meter_id>/<object_id>/config, so that one
# Mosquitto ACL line per meter, "topic write <prefix>/+/<meter_id>/#" (what the workshop
# tool writes), lets a meter announce its own sensors and nobody else's.
#
# Templates never fail: a reading without the channel (or without the field) renders "",
# which HA ignores for a numeric sensor (the state stays as it was).

import json

from . import wire

ORIGIN = "Citizen Watt"

# Per-channel sensors: (kind, name suffix, unit, device_class, state_class, field,
# divisor, display precision). unit None: no unit (a ratio).
CHANNEL_SENSORS = (
    ("power", "puissance", "W", "power", "measurement", "power_w", 0, 0),
    ("energy", "énergie", "kWh", "energy", "total_increasing", "energy_wh", 1000, 2),
    ("current", "courant", "A", "current", "measurement", "irms_a", 0, 2),
    ("pf", "facteur de puissance", None, "power_factor", "measurement", "pf", 0, 2),
    ("export", "énergie renvoyée au réseau", "kWh", "energy", "total_increasing", "export_wh",
     1000, 2),
)


def topic(prefix, meter_id, object_id, component="sensor"):
    """<prefix>/<component>/<meter_id>/<object_id>/config (HA: node_id = the meter id)."""
    return "%s/%s/%s/%s/config" % (prefix, component, wire.check_meter_id(meter_id), object_id)


def unique_id(meter_id, object_id):
    """citizenwatt_<meter id>_<object id>: the meter id as it is (a-z 0-9 - _), so two
    meters never share one, and nothing doubled when the id itself starts with "cw"."""
    return "citizenwatt_%s_%s" % (meter_id, object_id)


def channel_name(ch):
    """What HA shows for a channel: the workshop's label, else "Pince <n>" counted from 1
    as on the board's silkscreen and in the build guide."""
    return ch.get("label") or "Pince %d" % (ch["id"] + 1)


def _json_value(field):
    """A template reading value_json.<field> only when it is there, else ""."""
    return ("{%% if value_json is defined and value_json.%s is defined %%}"
            "{{ value_json.%s }}{%% endif %%}" % (field, field))


def _channel_value(cid, field, divisor):
    """Template of one channel's field: the entry whose id is cid, if present, else ""."""
    value = "(c.%s / %d) | round(3)" % (field, divisor) if divisor else "c." + field
    return ("{%% for c in (value_json.ch if value_json is defined and value_json.ch is "
            "defined else []) if c.id == %d and c.%s is defined %%}{{ %s }}{%% endfor %%}"
            % (cid, field, value))


def _sensor(mid, object_id, name, state_topic, tmpl, device, avail, unit=None, dclass=None,
            sclass=None, precision=None, diagnostic=False, origin=None):
    obj = {"name": name, "unique_id": unique_id(mid, object_id), "state_topic": state_topic,
           "value_template": tmpl, "device": device, "origin": origin}
    if avail is not None:
        obj["availability"] = [avail]
    if unit is not None:
        obj["unit_of_measurement"] = unit
    if dclass is not None:
        obj["device_class"] = dclass
    if sclass is not None:
        obj["state_class"] = sclass
    if precision is not None:
        obj["suggested_display_precision"] = precision
    if diagnostic:
        obj["entity_category"] = "diagnostic"
    return obj


def discovery(cfg, fw_version):
    """Return [(topic, payload bytes)]: the discovery configs of this meter's sensors, and
    an empty payload (remove) for each sensor of a channel or kind it does not have."""
    mid = cfg["meter_id"]
    prefix = cfg["hass_prefix"]
    has_v = cfg.get("voltage") is not None
    device = {"identifiers": ["citizenwatt_" + mid], "name": "Citizen Watt " + mid,
              "manufacturer": "Citizen Watt", "model": "ESP32 meter", "sw_version": fw_version}
    origin = {"name": ORIGIN, "sw_version": fw_version}
    status = wire.status_topic(mid)
    reading = wire.reading_topic(mid)
    avail = {"topic": status, "value_template": _json_value("state"),
             "payload_available": wire.STATUS_ONLINE,
             "payload_not_available": wire.STATUS_OFFLINE}
    out = []
    by_id = {}
    for ch in cfg["channels"]:
        by_id[ch["id"]] = ch
    for cid in range(wire.MAX_CHANNELS):
        ch = by_id.get(cid)
        for kind, suffix, unit, dclass, sclass, field, divisor, precision in CHANNEL_SENSORS:
            object_id = "ch%d_%s" % (cid, kind)
            wanted = ch is not None and (
                (kind != "pf" or has_v)
                and (kind != "export" or ch.get("direction") == "bidirectional"))
            if not wanted:
                out.append((topic(prefix, mid, object_id), b""))
                continue
            obj = _sensor(mid, object_id, "%s %s" % (channel_name(ch), suffix), reading,
                          _channel_value(cid, field, divisor), device, avail, unit, dclass,
                          sclass, precision, origin=origin)
            out.append((topic(prefix, mid, object_id), json.dumps(obj).encode()))
    if has_v:
        # One adapter per meter: every channel carries the same voltage, take the first.
        tmpl = ("{% for c in (value_json.ch if value_json is defined and value_json.ch is "
                "defined else []) if c.vrms_v is defined %}{% if loop.first %}{{ c.vrms_v }}"
                "{% endif %}{% endfor %}")
        obj = _sensor(mid, "voltage", "Tension", reading, tmpl, device, avail, "V", "voltage",
                      "measurement", 0, origin=origin)
        out.append((topic(prefix, mid, "voltage"), json.dumps(obj).encode()))
    else:
        out.append((topic(prefix, mid, "voltage"), b""))
    obj = _sensor(mid, "rssi", "Signal Wi-Fi", status, _json_value("rssi"), device,
                  avail, "dBm", "signal_strength", "measurement", 0, diagnostic=True,
                  origin=origin)
    out.append((topic(prefix, mid, "rssi"), json.dumps(obj).encode()))
    # No availability: the status says "offline" itself rather than being unavailable.
    obj = _sensor(mid, "status", "État", status, _json_value("state"), device, None,
                  diagnostic=True, origin=origin)
    obj["json_attributes_topic"] = status
    out.append((topic(prefix, mid, "status"), json.dumps(obj).encode()))
    return out
