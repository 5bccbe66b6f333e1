"""A 24 h broker outage on an accelerated clock loses no reading: the meter queues them on
its (simulated) flash and replays them, oldest first with their original timestamps, once
the broker is back; a subscriber receives every one, in order."""

from __future__ import annotations

import socket
import time
from itertools import pairwise

from citizenwatt.host.simulator import SimulatedMeter
from tests.host.test_simulator import Subscriber
from tests.services import Mosquitto

DAY_S = 86400


def wait_until(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


def hold_port(port: int) -> socket.socket:
    """Bind port without listening, so that the meter's connections are still refused but no
    other process on a busy machine takes the port before the broker comes back on it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the broker's TIME_WAITs
    s.bind(("127.0.0.1", port))
    return s


def test_24h_broker_outage_loses_no_reading(tmp_path):
    # The replay is a burst of ~8,700 QoS 1 messages: let the broker queue them for the
    # subscriber instead of dropping past Mosquitto's default of 1000.
    broker = Mosquitto(tmp_path / "mosquitto", extra_conf="max_queued_messages 20000").start()
    sub = Subscriber(broker.port, "outage-1")
    m = SimulatedMeter(meter_id="outage-1", port=broker.port, state_dir=tmp_path / "flash",
                       seed=5, interval_s=10.0, speed=20000, channels=1, voltage=False,
                       extra_config={"measure_period_s": 10.0, "cycles": 2,
                                     "sample_rate_hz": 1000})
    port_hold = None
    try:
        m.start()
        assert m.wait_published(5, timeout_s=30), m.error
        # Freeze the meter between two readings until the subscriber has all it sent
        # (a reading the broker acknowledged but had not forwarded would die with it),
        # then the broker goes away for 24 simulated hours.
        m.clock.pause()
        assert m.clock.held.wait(10)
        before = sub.wait_readings(m.published)
        broker.stop()
        port_hold = hold_port(broker.port)
        m.clock.resume()
        t_cut = m.clock.utc()
        wait_until(lambda: m.clock.utc() >= t_cut + DAY_S or m.error is not None, 120,
                   "24 simulated hours")
        # Freeze the meter while the broker and the subscriber come back, so that the
        # outage lasts 24 h of the meter's time and nothing goes out before someone listens.
        m.clock.pause()
        assert m.clock.held.wait(10)
        outage_s = m.clock.utc() - t_cut
        sub.close()
        port_hold.close()
        broker.start()
        sub = Subscriber(broker.port, "outage-1")
        queued = len(m.meter.outbox)
        assert queued >= DAY_S // 10
        m.clock.resume()
        wait_until(lambda: len(m.meter.outbox) == 0 or m.error is not None, 120, "the replay")
        assert m.error is None
        assert m.stop(timeout_s=30)
        got = before + sub.wait_readings(m.published - len(before), timeout_s=30)
    finally:
        m.stop()
        sub.close()
        if port_hold is not None:
            port_hold.close()
        broker.stop()
    seqs = [r["seq"] for r in got]
    assert sub.errors == []
    # Everything, without a gap or a duplicate, in order.
    assert seqs == list(range(len(got)))
    assert len(got) >= DAY_S // 10 and DAY_S <= outage_s < DAY_S + 3600
    assert m.meter.outbox.dropped == 0
    # Original timestamps: 10 s apart, all in the past of the reconnection.
    ts = [r["ts"] for r in got]
    steps = {round(b - a) for a, b in pairwise(ts[:-1])}
    assert steps == {10}
    assert ts[-2] - ts[0] >= DAY_S - 10
    # Energy never went down across the replay.
    wh = [r["ch"][0]["energy_wh"] for r in got]
    assert all(b >= a for a, b in pairwise(wh))
