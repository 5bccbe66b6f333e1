"""The meter loop (host run: the firmware's own code, its own MQTT client, real sockets)
against a broker that refuses it, says nothing, closes, is not MQTT, or goes mute after
CONNACK: it keeps running, says why once in a sentence, retries with back-off, keeps
every reading on its flash, and delivers them all in order once a good broker answers."""

from __future__ import annotations

import json
import time

import pytest

from citizenwatt.firmware import mqtt
from citizenwatt.firmware.meter import backoff_ms
from citizenwatt.host.platform import link_sentence
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.workshop import mqttauth
from tests.firmware.mqtt_fakes import CLOSE, HTTP, MUTE_AFTER_CONNACK, QUIET_AT_PING, SILENT, FakeBroker
from tests.host.test_simulator import Subscriber
from tests.services import Mosquitto

WRONG_PASSWORD = "wrong-password"
START_UTC = 1_790_000_000
FRENCH = {mqtt.REFUSED: "refuse le compte du compteur", mqtt.TIMEOUT: "ne répond pas à temps",
          mqtt.CLOSED: "a fermé la connexion", mqtt.PROTOCOL: "ne parle pas MQTT"}


def wait_until(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


@pytest.mark.parametrize("mode, reason", [
    (WRONG_PASSWORD, mqtt.REFUSED),
    (SILENT, mqtt.TIMEOUT),
    (CLOSE, mqtt.CLOSED),
    (HTTP, mqtt.PROTOCOL),
    (MUTE_AFTER_CONNACK, mqtt.TIMEOUT),
])
def test_meter_keeps_running_and_loses_nothing_when_the_broker_misbehaves(tmp_path, mode, reason):
    passwd = tmp_path / "passwd"
    mqttauth.set_password(passwd, "cw-link", "le-bon")
    good = Mosquitto(tmp_path / "mosquitto",
                     extra_conf=f"allow_anonymous true\npassword_file {passwd}").start()
    bad = None if mode == WRONG_PASSWORD else FakeBroker(mode)
    sub = Subscriber(good.port, "cw-link")
    m = SimulatedMeter(meter_id="cw-link", port=bad.port if bad else good.port,
                       state_dir=tmp_path / "flash", seed=2, interval_s=10.0, speed=float("inf"),
                       channels=1, voltage=False, start_utc=START_UTC,
                       extra_config={"measure_period_s": 10.0, "cycles": 2,
                                     "sample_rate_hz": 1000, "mqtt_timeout_s": 0.3,
                                     "backoff_min_s": 1, "backoff_max_s": 60,
                                     "mqtt_user": "cw-link",
                                     "mqtt_password": WRONG_PASSWORD if bad is None else "le-bon"})
    try:
        m.start()
        # Let it try seven times: back-off delays of 1 to 32 s, each attempt at a step.
        wait_until(lambda: m.hw.connects >= 7 or m.error is not None, 60, "seven attempts")
        m.clock.pause()
        assert m.clock.held.wait(10)
        assert m.error is None and m._thread is not None and m._thread.is_alive()
        meter = m.meter
        # Nothing went out, every reading is on the flash, in order.
        assert m.published == 0 and meter.seq > 0
        assert len(meter.outbox) == meter.seq
        # Said once, with the reason; a sentence in French by default.
        assert [r for r, _ in m.hw.link_errors] == [reason]
        said = m.hw.link_errors[0][1]
        assert FRENCH[reason] in said and f"127.0.0.1:{(bad or good).port}" in said, said
        # Back-off: each attempt waited at least the lower bound of its delay.
        gaps = [b - a for a, b in zip(m.hw.connect_ms, m.hw.connect_ms[1:], strict=False)]
        assert all(g >= backoff_ms(k, 0.0, 1000, 60000) for k, g in enumerate(gaps)), gaps
        assert gaps[-1] > gaps[0]
        # The broker gets fixed: the meter delivers everything it kept.
        meter.cfg["mqtt_port"] = good.port
        meter.cfg["mqtt_password"] = "le-bon"
        queued = len(meter.outbox)
        m.clock.resume()
        wait_until(lambda: m.published >= queued + 3 or m.error is not None, 60, "the replay")
        assert m.stop(timeout_s=30)
        assert m.error is None
        got = sub.wait_readings(m.published)
        statuses = sub.wait_status("offline")  # before the subscriber closes: it may come last
    finally:
        m.stop()
        sub.close()
        if bad is not None:
            bad.close()
        good.stop()
    assert [r["seq"] for r in got] == list(range(len(got)))
    assert len(got) == m.meter.seq and m.meter.outbox.dropped == 0
    assert statuses[0]["state"] == "online"


def test_link_sentences_french_by_default_english_on_request():
    e = mqtt.error(mqtt.REFUSED, 5, "compte non autorisé")
    fr = link_sentence(e, "mqtt.example.org", 8883)
    en = link_sentence(e, "mqtt.example.org", 8883, lang="en")
    assert "refuse le compte du compteur" in fr and "mqtt.example.org:8883" in fr
    assert "refuses the meter's account" in en and "code 5" in en
    tls = link_sentence(mqtt.error(mqtt.TLS, 0, "certificate verify failed"), "h", 8883)
    assert "ca.pem" in tls and "certificate verify failed" in tls and "n'est pas reconnu" in tls
    # The device's own French sentence (its console) names the same fix.
    assert "mqtt_password" in mqtt.describe(e, "mqtt.example.org", 8883)


def test_ping_then_publish_on_a_link_gone_quiet(tmp_path):
    """Issue 13 (5): with umqtt.simple a ping left the socket blocking and the next publish
    could wait for ever. Here the broker answers until the meter's ping, then never again on
    that connection (a half-open link): the ping times out, the meter reconnects with
    back-off, and each reading is either acknowledged by that broker or kept and delivered
    later to a good one, none lost, none twice."""
    good = Mosquitto(tmp_path / "mosquitto").start()
    bad = FakeBroker(QUIET_AT_PING)
    sub = Subscriber(good.port, "cw-quiet")
    m = SimulatedMeter(meter_id="cw-quiet", port=bad.port, state_dir=tmp_path / "flash", seed=3,
                       interval_s=10.0, speed=float("inf"), channels=1, voltage=False,
                       start_utc=START_UTC,
                       extra_config={"measure_period_s": 10.0, "cycles": 2,
                                     "sample_rate_hz": 1000, "mqtt_timeout_s": 0.3,
                                     "keepalive_s": 60, "backoff_min_s": 1,
                                     "backoff_max_s": 20})
    try:
        m.start()
        wait_until(lambda: m.hw.connects >= 4 or m.error is not None, 60, "four connections")
        m.clock.pause()
        assert m.clock.held.wait(10)
        assert m.error is None and m._thread is not None and m._thread.is_alive()
        # Each connection came up, then its ping went unanswered: the reason is said once per
        # outage, and an outage ends only when a reading went through in between (on a loaded
        # machine a connection can reach its ping before any reading), so 1 to connects times.
        reasons = [r for r, _ in m.hw.link_errors]
        assert set(reasons) == {mqtt.TIMEOUT} and 1 <= len(reasons) <= m.hw.connects
        first_part = [json.loads(p)["seq"] for t, p in bad.published if t.endswith("/reading")]
        assert first_part and m.published == len(first_part)  # acknowledged ones only
        m.meter.cfg["mqtt_port"] = good.port
        m.clock.resume()
        # On the good broker at last (the connection up at the switch, if any, goes on with
        # the quiet one until its ping), with the flash queue drained.
        wait_until(lambda: (len(sub.readings) >= 3 and len(m.meter.outbox) == 0)
                   or m.error is not None, 60, "the replay")
        assert m.stop(timeout_s=30) and m.error is None
        # The connection up at the switch (if one was) went on with the quiet broker until
        # its ping: count what that one acknowledged, to the end.
        first_part = [json.loads(p)["seq"] for t, p in bad.published if t.endswith("/reading")]
        second_part = [r["seq"] for r in sub.wait_readings(m.published - len(first_part))]
    finally:
        m.stop()
        sub.close()
        bad.close()
        good.stop()
    assert len(m.meter.outbox) == 0
    assert sorted(first_part + second_part) == list(range(m.meter.seq))
    assert second_part == sorted(second_part)  # the kept ones first, in order
