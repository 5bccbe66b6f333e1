# Home Assistant MQTT discovery for a Citizen Watt meter: per channel a power sensor (W,
# measurement) and an energy sensor (kWh, total_increasing), plus the meter's status, all
# read from the wire contract's topics. Published retained at connect when cfg["hass"].
#
# Topics use HA's node form <prefix>/sensor/<meter_id>/<object_id>/config, so that one
# Mosquitto ACL line per meter, "topic write <prefix>/+/<meter_id>/#" (what the workshop
# tool writes), lets a meter announce its own sensors and nobody else's.

import json

from . import wire


def topic(prefix, meter_id, object_id, component="sensor"):
    """<prefix>/<component>/<meter_id>/<object_id>/config (HA: node_id = the meter id)."""
    return "%s/%s/%s/%s/config" % (prefix, component, wire.check_meter_id(meter_id), object_id)


def discovery(cfg, fw_version):
    """Return [(topic, payload bytes)] of the discovery configs for this meter."""
    mid = cfg["meter_id"]
    prefix = cfg["hass_prefix"]
    device = {"identifiers": ["citizenwatt_" + mid], "name": "Citizen Watt " + mid,
              "manufacturer": "Citizen Watt", "model": "ESP32 meter", "sw_version": fw_version}
    avail = {"topic": wire.status_topic(mid), "value_template": "{{ value_json.state }}",
             "payload_available": wire.STATUS_ONLINE,
             "payload_not_available": wire.STATUS_OFFLINE}
    out = []
    for ch in cfg["channels"]:
        cid = ch["id"]
        pick = "(value_json.ch | selectattr('id', 'eq', %d) | first)" % cid
        for kind, unit, dclass, sclass, tmpl in (
                ("power", "W", "power", "measurement", "{{ %s.power_w }}" % pick),
                ("energy", "kWh", "energy", "total_increasing",
                 "{{ (%s.energy_wh / 1000) | round(3) }}" % pick)):
            # unique_id stays as before the node form: HA keeps the entities it knows.
            uid = "cw_%s_ch%d_%s" % (mid.replace("-", "_"), cid, kind)
            cfg_obj = {"name": "Pince %d %s" % (cid, "puissance" if kind == "power" else "énergie"),
                       "unique_id": uid, "state_topic": wire.reading_topic(mid),
                       "value_template": tmpl, "unit_of_measurement": unit,
                       "device_class": dclass, "state_class": sclass, "device": device,
                       "availability": [avail]}
            out.append((topic(prefix, mid, "ch%d_%s" % (cid, kind)),
                        json.dumps(cfg_obj).encode()))
    uid = "cw_%s_status" % mid.replace("-", "_")
    st = {"name": "Etat", "unique_id": uid, "state_topic": wire.status_topic(mid),
          "value_template": "{{ value_json.state }}", "device": device,
          "json_attributes_topic": wire.status_topic(mid), "entity_category": "diagnostic"}
    out.append((topic(prefix, mid, "status"), json.dumps(st).encode()))
    return out
