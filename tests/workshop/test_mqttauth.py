"""Provisioned MQTT credentials against a real Mosquitto: a meter publishes under its own
topics and nowhere else."""

from __future__ import annotations

import queue
import subprocess

import paho.mqtt.client as mqtt
import pytest

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
