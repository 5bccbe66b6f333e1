"""The host-run meter publishes contract readings to a real Mosquitto, and its counters
follow the collector's counting rule: power_w x interval_s / 3600 is the interval's energy."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citizenwatt.firmware import wire
from citizenwatt.host.simulator import SimulatedMeter


class Subscriber:
    """A paho subscriber that decodes everything the meter publishes."""

    def __init__(self, port: int, meter_id: str):
        self.readings: list[dict] = []
        self.statuses: list[dict] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-sub-" + meter_id,
                             protocol=paho.MQTTv311)
        self.c.on_connect = lambda c, u, f, rc, p: (
            c.subscribe([(wire.reading_topic(meter_id), 1), (wire.status_topic(meter_id), 1)]))
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(10), "the test subscriber could not subscribe"

    def on_message(self, client, userdata, msg):
        with self.lock:
            try:
                if msg.topic.endswith("/reading"):
                    self.readings.append(wire.decode_reading(msg.topic, msg.payload,
                                                             now_s=time.time()))
                else:
                    self.statuses.append(wire.decode_status(msg.topic, msg.payload))
            except wire.WireError as e:
                self.errors.append(str(e))

    def wait_readings(self, n: int, timeout_s: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.readings) >= n:
                    return list(self.readings)
            time.sleep(0.02)
        raise AssertionError(f"received {len(self.readings)} readings, expected {n}")

    def wait_status(self, state: str, timeout_s: float = 20) -> list[dict]:
        """Wait until the last status received says `state` (the offline one follows the
        last reading on the wire, so it can arrive after the readings are counted)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.statuses and self.statuses[-1]["state"] == state:
                    return list(self.statuses)
            time.sleep(0.02)
        raise AssertionError(f"no {state!r} status; received {self.statuses!r}")

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def check_counters(readings: list[dict], first_is_fresh: bool) -> None:
    """seq 0.. without gaps, one boot, energy never down, each step = power x interval."""
    assert [r["seq"] for r in readings] == list(range(len(readings)))
    assert len({r["boot"] for r in readings}) == 1
    prev = None
    for r in readings:
        assert r["ts"] is not None and r["interval_s"] > 0
        for c in r["ch"]:
            own_wh = c["power_w"] * r["interval_s"] / 3600
            if prev is None:
                if first_is_fresh:
                    assert c["energy_wh"] == pytest.approx(own_wh, abs=0.002)
            else:
                before = next(p for p in prev["ch"] if p["id"] == c["id"])["energy_wh"]
                assert c["energy_wh"] >= before
                assert c["energy_wh"] - before == pytest.approx(own_wh, abs=0.002)
        prev = r


def test_simulated_meter_publishes_contract_readings(mosquitto, tmp_path):
    sub = Subscriber(mosquitto.port, "sim-01")
    try:
        m = SimulatedMeter(meter_id="sim-01", host="127.0.0.1", port=mosquitto.port,
                           state_dir=tmp_path / "flash", seed=3, interval_s=10.0, speed=120,
                           channels=2)
        m.start()
        assert m.wait_published(6, timeout_s=30), m.error
        assert m.stop(timeout_s=10)
        assert m.error is None
        got = sub.wait_readings(m.published)
        assert len(got) == m.published >= 7  # the stop flushed one more, partial interval
        assert sub.errors == []
        check_counters(got, first_is_fresh=True)
        assert got[0]["boot"] == 1
        assert m.counted_wh == {c["id"]: c["energy_wh"] for c in got[-1]["ch"]}
        assert m.counted_wh[0] > 0  # the household draws a base load on the mains channel
        assert got[-1]["interval_s"] < 10.0  # the last reading covers the partial interval
        # A voltage sensor is fitted: real power, Vrms and pf on every channel.
        assert all(not c["apparent"] and 200 < c["vrms_v"] < 260 for c in got[0]["ch"])
        # Retained status: online at connect, offline at the clean stop.
        statuses = sub.wait_status("offline")
        assert statuses[0]["state"] == "online" and statuses[-1]["state"] == "offline"
        # The clamps' labels, for the server to tell the whole house from the water heater.
        assert sub.statuses[0]["labels"] == {"0": "Toute la maison", "1": "Chauffe-eau"}

        # Second run on the same flash: boot 2, counters go on from the checkpoint.
        last_wh = m.counted_wh
        first_run = len(got)
        m2 = SimulatedMeter(meter_id="sim-01", host="127.0.0.1", port=mosquitto.port,
                            state_dir=tmp_path / "flash", seed=3, interval_s=10.0, speed=120,
                            channels=2)
        m2.start()
        assert m2.wait_published(2, timeout_s=30), m2.error
        assert m2.stop()
        got2 = sub.wait_readings(first_run + m2.published)[first_run:]
        assert {r["boot"] for r in got2} == {2}
        check_counters(got2, first_is_fresh=False)
        for c in got2[0]["ch"]:
            own_wh = c["power_w"] * got2[0]["interval_s"] / 3600
            assert c["energy_wh"] == pytest.approx(last_wh[c["id"]] + own_wh, abs=0.002)
        assert got2[0]["ts"] > got[-1]["ts"]  # the simulated clock went on too
        assert m2.counted_wh == {c["id"]: c["energy_wh"] for c in got2[-1]["ch"]}
    finally:
        sub.close()


def test_same_seed_same_readings(mosquitto, tmp_path):
    """Deterministic from the seed: two meters with the same seed and start agree."""
    runs = []
    for k in range(2):
        m = SimulatedMeter(meter_id=f"det-{k}", port=mosquitto.port,
                           state_dir=tmp_path / str(k), seed=11, interval_s=5.0,
                           speed=float("inf"), channels=3, start_utc=1_790_000_000)
        m.start()
        assert m.wait_published(4, timeout_s=30), m.error
        m.stop()
        runs.append([(r[1], [(c[0], c[1]) for c in r[5]]) for r in m.readings[:4]])
    assert runs[0] == runs[1]
