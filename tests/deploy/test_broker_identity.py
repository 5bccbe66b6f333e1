"""The drill that found a meter's credentials taking the collector's session over, replayed
on the shipped broker config with the workshop's generated accounts: a meter cannot take
any other client's id, write outside its own topics, or read anyone's readings, and the
real collector (its account from `citizenwatt admin broker-setup`) keeps every reading."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time

import pytest

from citizenwatt.collector.service import build_collector
from citizenwatt.config import load_settings
from citizenwatt.firmware import wire
from citizenwatt.store.backends import open_store
from citizenwatt.workshop import mqttauth
from tests.collector.helpers import wait_until
from tests.deploy.conftest import close, connect

ATTACKER, VICTIM = "cw-aaaaaa", "cw-bbbbbb"


def _sessions(log: str) -> list[tuple[str, str]]:
    """(client id, user name) of each connection Mosquitto's log reports."""
    return re.findall(r"New client connected from \S+ as (\S*) \(p\d, c\d, k\d+, u'([^']*)'\)", log)


def _reading(meter_id: str, seq: int, t0: float) -> bytes:
    energy = 0.25 * (seq + 1)  # 90 W for 10 s a reading
    return wire.encode_reading(meter_id, 1, seq, 10_000 * seq, 10.0,
                               [wire.channel(0, energy, 90.0, 90.0 / 230)], ts=t0 + 10 * seq)


def _publish(client, meter_id: str, seqs, t0: float) -> None:
    infos = [client.publish(wire.reading_topic(meter_id), _reading(meter_id, s, t0), qos=1)
             for s in seqs]
    for info in infos:
        info.wait_for_publish(30)


@pytest.fixture
def deployment(shipped_broker, tmp_path, monkeypatch):
    """The broker, two meters' accounts from the workshop, the collector's from
    broker-setup, and the settings the collector's service would read."""
    b = shipped_broker
    b.add_meter(ATTACKER, "meter-a-password")
    b.add_meter(VICTIM, "meter-b-password")
    mqttauth.setup_collector(b.passwd, b.acl, b.env_file)
    b.start()
    for name, value in mqttauth.read_env(b.env_file).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITIZENWATT_MQTT__HOST", b.host)
    monkeypatch.setenv("CITIZENWATT_MQTT__PORT", str(b.port))
    monkeypatch.setenv("CITIZENWATT_MQTT__PROTOCOL", "v5")
    settings = load_settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    yield b, settings, store
    store.close()


def test_collector_account_is_generated_and_unguessable(deployment):
    b, settings, _ = deployment
    env = mqttauth.read_env(b.env_file)
    user = env["CITIZENWATT_MQTT__USERNAME"]
    assert settings.collector.id == settings.mqtt.username == user
    assert user != "citizenwatt-collector-1" and len(user) == len("cwc-") + 20
    assert len(env["CITIZENWATT_MQTT__PASSWORD"]) >= 40
    assert oct(b.env_file.stat().st_mode & 0o777) == "0o600"
    # run again: the same account, not a second one
    assert mqttauth.setup_collector(b.passwd, b.acl, b.env_file) == (user, False)
    assert [ln.split(":")[0] for ln in b.passwd.read_text().splitlines()].count(user) == 1
    # a second server gets another account
    other = mqttauth.setup_collector(b.workdir / "p2", b.workdir / "a2", b.workdir / "e2")
    assert other[1] and other[0] != user


def test_meter_cannot_take_the_collectors_session(deployment, caplog):
    """While the collector is away, then while it runs: the meter's connections with the
    collector's and another meter's client id are renamed to its own; no reading lost."""
    b, settings, store = deployment
    attacker, victim = b.meters[ATTACKER], b.meters[VICTIM]
    t0 = time.time() - 10 * 1000  # readings of the last 3 hours, as a meter sends them
    col = build_collector(settings, store)
    col.start()
    sender, reason = connect(b, victim, VICTIM)
    assert reason == 0

    # 1. The collector away (its session kept): 200 readings queued, then the drill's trick,
    #    the collector's id with a clean session, five times.
    col.stop()
    _publish(sender, VICTIM, range(200), t0)
    for _ in range(5):
        c, reason = connect(b, attacker, settings.collector.id, clean=True)
        assert reason == 0  # let in, as itself
        close(c)
    col = build_collector(settings, store)
    caplog.set_level(logging.WARNING, logger="citizenwatt.collector")
    col.start()
    wait_until(lambda: col.metrics.readings_stored >= 200, 30, "the 200 queued readings")

    # 2. The collector running: 300 more readings while the meter connects again and again
    #    with the collector's id, the victim's id, and an empty id.
    stolen_ids = [settings.collector.id, VICTIM, ""]
    refused = []

    def hammer():
        for k in range(30):
            c, reason = connect(b, attacker, stolen_ids[k % 3], clean=True)
            if reason != 0:
                refused.append(reason)
            close(c)

    th = threading.Thread(target=hammer)
    th.start()
    _publish(sender, VICTIM, range(200, 500), t0)
    th.join(60)
    wait_until(lambda: col.metrics.readings_stored >= 500, 30, "all 500 readings")
    col.wait_idle(10)
    try:
        assert refused == []  # each was let in under its own name, so took nobody's place
        assert col.metrics.readings_stored == 500 and col.metrics.connected
        assert sender.disconnects.empty()  # the victim meter was never knocked off
        lost = [r.getMessage() for r in caplog.records
                if r.name.startswith("citizenwatt.collector") and r.levelno >= logging.WARNING]
        assert lost == []  # the collector never lost its connection
        latest = store.latest(VICTIM)
        assert [r.seq for r in latest] == [499]
        # Mosquitto's own account: 35 connections of the meter, each under its own name
        sessions = _sessions(b.log())
        assert sessions.count((ATTACKER, ATTACKER)) == 35
        assert all(client_id == user for client_id, user in sessions), sessions
    finally:
        close(sender)
        col.stop()


def test_meter_writes_and_reads_nothing_outside_its_own_topics(deployment):
    b, settings, store = deployment
    attacker, victim = b.meters[ATTACKER], b.meters[VICTIM]
    t0 = time.time() - 10 * 1000  # readings of the last 3 hours, as a meter sends them
    col = build_collector(settings, store)
    col.start()
    spy, reason = connect(b, attacker, ATTACKER)
    assert reason == 0
    heard: queue.Queue = queue.Queue()
    spy.on_message = lambda cl, ud, msg: heard.put(msg.topic)
    subscribed: queue.Queue = queue.Queue()
    spy.on_subscribe = lambda cl, ud, mid, codes, props: subscribed.put(codes)
    spy.subscribe([("cw/#", 1), (wire.reading_topic(VICTIM), 1), ("#", 1), ("$SYS/#", 0)])
    subscribed.get(timeout=10)
    try:
        # forged readings in the victim's name (valid ones, far ahead), then its own
        spy.publish(wire.reading_topic(VICTIM), _reading(VICTIM, 10_000, t0), qos=1
                    ).wait_for_publish(10)
        spy.publish(wire.status_topic(VICTIM), b'{"v":1,"state":"offline"}', qos=1
                    ).wait_for_publish(10)
        _publish(spy, ATTACKER, [0], t0)
        # the victim's genuine reading, then a fence on the spy's own connection
        sender, reason = connect(b, victim, VICTIM)
        assert reason == 0
        _publish(sender, VICTIM, [0], t0)
        close(sender)
        wait_until(lambda: col.metrics.readings_stored >= 2, 30, "both genuine readings")
        _publish(spy, ATTACKER, [1], t0)  # its PUBACK comes after anything queued for it
        wait_until(lambda: col.metrics.readings_stored >= 3, 30, "the third reading")
        col.wait_idle(10)
        assert heard.empty(), heard.get()  # it read nothing, not even its own
        assert col.metrics.readings_stored == 3  # the forged one never reached the collector
        assert [r.seq for r in store.latest(VICTIM)] == [0]
        assert [r.seq for r in store.latest(ATTACKER)] == [1]
    finally:
        close(spy)
        col.stop()


def test_the_meter_firmware_connects_as_itself(deployment, tmp_path):
    """The real meter loop (host simulator, umqtt API) with the account the workshop writes:
    its client id is its meter id, the user name, so the shipped rule changes nothing."""
    from citizenwatt.host.simulator import SimulatedMeter

    b, settings, store = deployment
    col = build_collector(settings, store)
    col.start()
    account = b.meters[VICTIM]
    m = SimulatedMeter(meter_id=VICTIM, host=b.host, port=b.port, state_dir=tmp_path / "flash",
                       seed=3, interval_s=5.0, speed=float("inf"),
                       extra_config={"mqtt_user": account.user,
                                     "mqtt_password": account.password})
    m.start()
    try:
        assert m.wait_published(3, timeout_s=30), m.error
    finally:
        m.stop()
    try:
        wait_until(lambda: col.metrics.readings_stored >= 3, 30, "the meter's readings")
        assert store.latest(VICTIM)
        assert (VICTIM, VICTIM) in _sessions(b.log())
    finally:
        col.stop()
