"""The findings of issue 12 against the store, reproduced through a real Mosquitto with the
sizes of the issue, and what the collector now does about each (docs/collector.md,
"Defending the store")."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.collector.guard import SUSPECT_KEY
from citizenwatt.collector.service import KEY_CONFLICT, Collector
from citizenwatt.firmware import wire
from citizenwatt.store.rules import MAX_GAP_S, SEQ_SLACK
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import make_stream, run_collector_on, wait_until
from tests.services import Mosquitto

NOW = time.time()
FORGED_BOOT = 2 ** 53 - 1


def reading(seq: int, *, boot: int = 1, ts: float | None = None, power_w: float = 400.0,
            energy_wh: float | None = None, meter: str = "m-1") -> tuple[str, bytes]:
    ts = NOW - 20000 + 10 * seq if ts is None else ts
    e = 1.0 + seq * 1.1 if energy_wh is None else energy_wh
    chans = [wire.channel(0, e, power_w, power_w / 230), wire.channel(1, e / 2, power_w / 2, 1.0)]
    return wire.reading_topic(meter), wire.encode_reading(meter, boot, seq, 1000 * seq, 10,
                                                          chans, ts=ts)


def test_a_forged_far_future_boot_neither_pins_live_power_nor_blocks_genuine_readings(
        mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    genuine = [reading(seq) for seq in range(10)]
    forged = reading(0, boot=FORGED_BOOT, power_w=999999.0, ts=NOW - 5)
    after = [reading(seq) for seq in range(10, 20)]
    collector = run_collector_on(mosquitto, store, genuine + [forged] + after, "forged-boot")

    latest = store.latest("m-1")
    assert {(r.boot, r.seq) for r in latest} == {(1, 19)}
    assert sum(r.power_w for r in latest) == 600.0  # the genuine 400 + 200 W, not 1,999,998
    assert collector.metrics.rejected == {SUSPECT_KEY: 1}
    assert store.rejections() == {SUSPECT_KEY: 1}
    with store.connection() as db:
        (payload,) = db.execute("SELECT payload_head FROM rejected").fetchone()
    assert bytes(payload) == forged[1]  # kept whole
    assert {m.meter_id: m.readings for m in store.meters()} == {"m-1": 2 * 20}


def test_forged_future_keys_do_not_turn_genuine_readings_into_key_conflicts(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    first = [reading(seq) for seq in range(10)]
    # 20 keys the genuine meter will reach later, beyond the allowed jump
    forged = [reading(9 + SEQ_SLACK + 1 + i, power_w=999999.0, energy_wh=1e6, ts=NOW - 5)
              for i in range(20)]
    rest = [reading(seq) for seq in range(10, SEQ_SLACK + 40)]
    collector = run_collector_on(mosquitto, store, first + forged + rest, "forged-keys")

    assert collector.metrics.rejected == {SUSPECT_KEY: 20}
    assert KEY_CONFLICT not in store.rejections()
    assert {m.meter_id: m.readings for m in store.meters()} == {"m-1": 2 * (SEQ_SLACK + 40)}
    latest = store.latest("m-1")
    assert {(r.seq, r.power_w) for r in latest} == {(SEQ_SLACK + 39, 400.0),
                                                    (SEQ_SLACK + 39, 200.0)}


def five_channels(seq: int, ts: float, energy_wh: float) -> tuple[str, bytes]:
    chans = [wire.channel(c, energy_wh, 120.0, 0.6) for c in range(5)]
    return "cw/m-1/reading", wire.encode_reading("m-1", 1, seq, 1000 * seq, 10, chans, ts=ts)


def test_a_reading_jumping_from_2020_to_now_writes_a_bounded_number_of_rows(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    old = five_channels(0, 1577836800.0 + 3600, 10.0)
    jump = five_channels(1, NOW - 1, 50000.0)
    assert 550 <= len(jump[1]) <= 700  # the 624-byte reading, give or take
    run_collector_on(mosquitto, store, [old, jump], "gap-reading")

    with store.connection() as db:
        hour_rows = db.execute("SELECT COUNT(*) FROM energy_hour").fetchone()[0]
        energy = db.execute("SELECT SUM(energy_wh) FROM energy_hour").fetchone()[0]
    # each channel: the old reading's own 10 s and the new one's (each may cross an hour),
    # not the ~364,000 hourly rows of spreading 2020-to-now hour by hour
    assert 10 <= hour_rows <= 20
    # each reading counts its own interval only (120 W over 10 s), not 50 kWh per channel
    assert abs(energy - 2 * 5 * 120.0 * 10 / 3600) < 1e-6
    assert {m.meter_id: m.readings for m in store.meters()} == {"m-1": 10}
    assert NOW - 1 - (1577836800.0 + 3600) > MAX_GAP_S


def test_forty_thousand_junk_messages_cost_genuine_readings_nothing(tmp_path):
    # the shipped broker keeps up to 100,000 messages queued per client (deploy/mosquitto.conf)
    broker = Mosquitto(tmp_path / "mq", extra_conf="max_queued_messages 100000\n").start()
    try:
        store = SqliteStore(tmp_path / "r.sqlite")
        collector = Collector(store, broker.host, broker.port, client_id="junk-flood")
        collector.start()
        genuine = make_stream(4000, meters=4)
        attacker = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="junk-meter")
        attacker.max_inflight_messages_set(1000)
        attacker.max_queued_messages_set(0)
        attacker.connect(broker.host, broker.port)
        attacker.loop_start()
        meters = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="genuine-meters")
        meters.max_inflight_messages_set(100)
        meters.connect(broker.host, broker.port)
        meters.loop_start()
        try:
            junk = [attacker.publish("cw/junk-1/reading", b"{not json %d" % i, qos=1)
                    for i in range(40000)]
            sent = []
            for k, (topic, payload) in enumerate(genuine):
                sent.append(meters.publish(topic, payload, qos=1))
                if k % 400 == 0:
                    time.sleep(0.01)
            for info in sent + junk:
                info.wait_for_publish(60)
            wait_until(lambda: collector.metrics.processed >= 44000, 120,
                       "the collector to take the 44,000 messages")
        finally:
            attacker.loop_stop()
            meters.loop_stop()
            collector.stop()
        summary = {m.meter_id: m.readings for m in store.meters()}
        assert summary == {f"m-{k}": 2 * 1000 for k in range(4)}  # every genuine reading
        m = collector.metrics
        assert m.readings_stored == 4000
        assert sum(m.rejected.values()) == 40000  # not_json, or over the meter's quota
        # the junk's dead letters and log lines are bounded, not one each
        assert store.rejections().get("not_json", 0) <= 60 * 3
        assert m.dead_letters_unkept + m.over_quota + store.rejections()["not_json"] == 40000
    finally:
        broker.stop()


def nested(depth: int) -> bytes:
    head = b'{"v": 1, "meter": "m-1", "state": "online", "x": '
    return head + b"[" * depth + b"]" * depth + b"}"


def test_a_deeply_nested_status_is_refused_and_the_meter_list_answers(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    deep = nested(260)
    assert 560 <= len(deep) <= 580  # the 566 bytes
    good_status = wire.encode_status("m-1", "online", {"fw": "1.2", "rssi": -60})
    collector = run_collector_on(mosquitto, store, [
        ("cw/m-1/status", good_status, True), reading(0), ("cw/m-1/status", deep, True)],
        "deep-status")
    assert collector.metrics.rejected == {wire.BAD_VALUE: 1}
    assert store.rejections() == {wire.BAD_VALUE: 1}
    assert store.meters()[0].status == json.loads(good_status)  # the last good one stays
    with TestClient(create_app(store)) as client:
        r = client.get("/api/v1/meters")
    assert r.status_code == 200, r.text
    assert r.json()["meters"][0]["status"]["fw"] == "1.2"


def test_an_odd_status_already_stored_is_shown_without_its_odd_fields(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    store.write([], 0.0)
    from citizenwatt.store.port import readings_from_payload

    store.write(readings_from_payload(json.loads(reading(0)[1]), NOW), NOW)
    with store.transaction() as db:  # as a file written before statuses were checked holds
        db.execute("INSERT INTO meter_status VALUES (?,?,?)",
                   ("m-1", nested(260).decode(), NOW))
    assert store.meters()[0].status == {"v": 1, "meter": "m-1", "state": "online"}
    with TestClient(create_app(store)) as client:
        r = client.get("/api/v1/meters")
    assert r.status_code == 200, r.text
    assert r.json()["meters"][0]["state"] == "online"
