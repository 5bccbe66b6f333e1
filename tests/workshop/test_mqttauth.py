"""Provisioned MQTT credentials against a real Mosquitto: a meter publishes under its own
topics and nowhere else."""

from __future__ import annotations

import json
import queue
import subprocess

import paho.mqtt.client as mqtt

from citizenwatt.firmware import wire
from citizenwatt.workshop import mqttauth


def _client(broker, user, password, client_id):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt.MQTTv311)
    c.username_pw_set(user, password)
    rc = queue.Queue()
    c.on_connect = lambda cl, ud, flags, reason, props: rc.put(reason)
    c.connect(broker.host, broker.port)
    c.loop_start()
    reason = rc.get(timeout=10)
    return c, reason


def test_hash_format_matches_mosquitto_passwd(tmp_path):
    entry = mqttauth.hash_password("s3cret-pass", salt=b"0123456789ab")
    assert entry.startswith("$7$101$")
    assert mqttauth.check_password(entry, "s3cret-pass")
    assert not mqttauth.check_password(entry, "other")
    # mosquitto_passwd itself writes entries our checker accepts (same format).
    f = tmp_path / "p"
    f.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(f), "cw-0001", "s3cret-pass"], check=True)
    user, theirs = f.read_text().strip().split(":", 1)
    assert user == "cw-0001" and mqttauth.check_password(theirs, "s3cret-pass")


def test_files_are_idempotent(tmp_path):
    pw, acl = tmp_path / "passwd", tmp_path / "acl"
    for password in ("first-password", "second-password"):
        mqttauth.set_password(pw, "cw-0001", password)
        mqttauth.set_acl(acl, "cw-0001")
    mqttauth.set_password(pw, "cw-0002", "other-password")
    mqttauth.set_acl(acl, "cw-0002")
    lines = pw.read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["cw-0001", "cw-0002"]
    assert mqttauth.check_password(lines[0].split(":", 1)[1], "second-password")
    text = acl.read_text()
    assert text.count("user cw-0001") == 1 and "topic write cw/cw-0001/#" in text
    assert "topic write cw/cw-0002/#" in text
    assert oct(pw.stat().st_mode & 0o777) == "0o600"


def test_meter_publishes_only_under_its_own_topic(auth_broker):
    mqttauth.set_password(auth_broker.passwd, "cw-aaaaaa", "meter-a-password")
    mqttauth.set_acl(auth_broker.acl, "cw-aaaaaa")
    mqttauth.set_password(auth_broker.passwd, "cw-bbbbbb", "meter-b-password")
    mqttauth.set_acl(auth_broker.acl, "cw-bbbbbb")
    auth_broker.restart()

    got = queue.Queue()
    sub, reason = _client(auth_broker, "collector", auth_broker.collector_password, "col")
    assert reason == 0
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    subscribed = queue.Queue()
    sub.on_subscribe = lambda *a: subscribed.put(True)
    sub.subscribe("cw/#", qos=1)
    subscribed.get(timeout=10)

    bad, reason = _client(auth_broker, "cw-aaaaaa", "wrong-password", "x")
    assert reason != 0  # a wrong password is refused
    bad.loop_stop()

    meter, reason = _client(auth_broker, "cw-aaaaaa", "meter-a-password", "cw-aaaaaa")
    assert reason == 0
    # Denied first, then allowed, on one connection: Mosquitto handles a client's
    # messages in order, so once the allowed one arrives the denied one would have too.
    meter.publish(wire.reading_topic("cw-bbbbbb"), b"forged", qos=1).wait_for_publish(10)
    meter.publish(wire.status_topic("cw-bbbbbb"), b"forged", qos=1).wait_for_publish(10)
    meter.publish(wire.reading_topic("cw-aaaaaa"), b"mine", qos=1).wait_for_publish(10)
    first = got.get(timeout=10)
    assert first == ("cw/cw-aaaaaa/reading", b"mine")
    assert got.empty()
    meter.loop_stop()
    sub.loop_stop()


# --- Home Assistant discovery under the meter's own ACL -------------------------------------

HA_PREFIX = "homeassistant"


def _hass_cfg(meter_id, channels=2):
    from citizenwatt.firmware import config
    return config.validate({"meter_id": meter_id, "mqtt_host": "h", "hass": True,
                            "channels": [{"id": k, "pin": config.CURRENT_PINS[k]}
                                         for k in range(channels)]})


def test_discovery_topics_are_what_the_workshop_acl_allows():
    from citizenwatt.firmware import hass

    cfg = _hass_cfg("cw-aaaaaa")
    assert cfg["hass_prefix"] == HA_PREFIX
    found = hass.discovery(cfg, "test")
    topics = [t for t, _ in found]
    assert [t for t, p in found if p] == [f"homeassistant/sensor/cw-aaaaaa/{o}/config" for o in
                                          ("ch0_power", "ch0_energy", "ch0_current", "ch1_power",
                                           "ch1_energy", "ch1_current", "rssi", "status")]
    mine = [ln.split(" ", 2)[2] for ln in mqttauth.acl_lines("cw-aaaaaa", hass_prefix=HA_PREFIX)
            if ln.startswith("topic write ")]
    theirs = [ln.split(" ", 2)[2] for ln in mqttauth.acl_lines("cw-bbbbbb", hass_prefix=HA_PREFIX)
              if ln.startswith("topic write ")]
    assert "homeassistant/+/cw-aaaaaa/#" in mine
    for t in topics:
        assert any(mqtt.topic_matches_sub(p, t) for p in mine), t
        assert not any(mqtt.topic_matches_sub(p, t) for p in theirs), t
        # HA's form <prefix>/<component>/<node_id>/<object_id>/config, ids in [a-zA-Z0-9_-]
        prefix, component, node, obj, last = t.split("/")
        assert (component, last) == ("sensor", "config") and node == "cw-aaaaaa"
        assert obj.replace("_", "").isalnum()


def _collect(q, want, deadline_s):
    """Messages from q until every topic of want arrived (or the deadline): {topic: msg}."""
    import time
    got = {}
    end = time.monotonic() + deadline_s
    while not want <= set(got) and time.monotonic() < end:
        try:
            m = q.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            break
        got[m.topic] = m
    return got


def test_meter_discovery_reaches_home_assistant_through_its_acl(auth_broker, tmp_path):
    """The real meter loop (host simulator) publishes its discovery with the credentials
    and ACL the workshop writes; Home Assistant's account receives every config, retained,
    and the templates read the meter's real readings. Forged topics are refused."""
    import jinja2

    from citizenwatt.firmware import hass
    from citizenwatt.host.simulator import SimulatedMeter

    mid, pw = "cw-aaaaaa", "meter-a-password"
    mqttauth.set_password(auth_broker.passwd, mid, pw)
    mqttauth.set_acl(auth_broker.acl, mid, hass_prefix=HA_PREFIX)
    mqttauth.set_password(auth_broker.passwd, "cw-bbbbbb", "meter-b-password")
    mqttauth.set_acl(auth_broker.acl, "cw-bbbbbb", hass_prefix=HA_PREFIX)
    mqttauth.set_password(auth_broker.passwd, "ha", "home-assistant-password")
    with auth_broker.acl.open("a") as f:
        f.write("\nuser ha\ntopic read homeassistant/#\ntopic read cw/#\n")
    auth_broker.restart()

    live = queue.Queue()
    ha, reason = _client(auth_broker, "ha", "home-assistant-password", "ha-live")
    assert reason == 0
    ha.on_message = lambda c, u, m: live.put(m)
    subscribed = queue.Queue()
    ha.on_subscribe = lambda *a: subscribed.put(True)
    ha.subscribe([("homeassistant/#", 1), (f"cw/{mid}/reading", 1)])
    subscribed.get(timeout=10)

    # Forged first, acknowledged (so handled) before the meter starts: the old flat form,
    # which no per-meter ACL line can allow, and another meter's node.
    forger, reason = _client(auth_broker, mid, pw, "forger")
    assert reason == 0
    forged = ["homeassistant/sensor/cw_aaaaaa_ch0_power/config",
              "homeassistant/sensor/cw-bbbbbb/ch0_power/config"]
    for t in forged:
        forger.publish(t, b"{}", qos=1, retain=True).wait_for_publish(10)
    forger.disconnect()
    forger.loop_stop()

    m = SimulatedMeter(meter_id=mid, host=auth_broker.host, port=auth_broker.port,
                       state_dir=tmp_path / "flash", seed=3, interval_s=5.0,
                       speed=float("inf"), channels=2, hass=True,
                       extra_config={"mqtt_user": mid, "mqtt_password": pw})
    m.start()
    try:
        assert m.wait_published(2, timeout_s=30), m.error
    finally:
        m.stop()
    announced = hass.discovery(m.cfg, "x")
    expected = {t: json.loads(p) for t, p in announced if p}
    removed = {t for t, p in announced if not p}  # channels and kinds this meter lacks
    reading_topic = wire.reading_topic(mid)
    got = _collect(live, set(expected) | removed | {reading_topic}, 20)
    assert set(expected) | removed <= set(got), sorted(got)
    assert all(got[t].payload == b"" for t in removed)
    assert not set(forged) & set(got)
    ha.loop_stop()

    # What Home Assistant reads: the configs, and each template on a real reading.
    reading = json.loads(got[reading_topic].payload)
    chans = {c["id"]: c for c in reading["ch"]}
    env = jinja2.Environment()
    for t, cfg_obj in expected.items():
        sent = json.loads(got[t].payload)
        assert sent["unique_id"] == cfg_obj["unique_id"] and sent["device"]["identifiers"] == \
            ["citizenwatt_" + mid]
        if sent["state_topic"] != reading_topic:
            assert t.endswith(("/status/config", "/rssi/config"))
            continue
        value = env.from_string(sent["value_template"]).render(value_json=reading)
        if t.endswith("/voltage/config"):
            assert float(value) == chans[0]["vrms_v"]
            continue
        ch = chans[int(t.split("/")[3][2])]
        if sent["device_class"] == "energy":
            assert sent["unit_of_measurement"] == "kWh"
            assert sent["state_class"] == "total_increasing"
            assert float(value) == round(ch["energy_wh"] / 1000, 3)
        elif sent["device_class"] == "power":
            assert (sent["unit_of_measurement"], sent["state_class"]) == ("W", "measurement")
            assert float(value) == ch["power_w"]
        elif sent["device_class"] == "current":
            assert float(value) == ch["irms_a"]
        else:
            assert sent["device_class"] == "power_factor" and float(value) == ch["pf"]
    assert chans[0]["power_w"] > 0  # the simulated household draws power on channel 0

    # Home Assistant started later still finds every config: they are retained.
    later = queue.Queue()
    ha2, reason = _client(auth_broker, "ha", "home-assistant-password", "ha-later")
    assert reason == 0
    ha2.on_message = lambda c, u, m: later.put(m)
    ha2.subscribe("homeassistant/#", qos=1)
    retained = _collect(later, set(expected), 20)
    ha2.loop_stop()
    assert set(retained) == set(expected)  # the removals left nothing retained behind
    assert all(msg.retain for msg in retained.values())
