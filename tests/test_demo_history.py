"""The demo's first run replays the day so far: it must never stamp a reading in the future,
however late the machine wakes the thread that watches the replay."""

from __future__ import annotations

import time

import citizenwatt.demo as demo_module
from citizenwatt.config import load_settings
from citizenwatt.demo import Demo
from tests.services import free_port


class _LatePoller:
    """The time module, but every sleep of the demo lasts 0.1 s more: a busy 2-core machine
    (GIL, other processes) wakes a polling thread late."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(s: float) -> None:
        time.sleep(s + 0.1)


def test_history_replay_never_passes_the_present(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_module, "time", _LatePoller())
    settings = load_settings(data_dir=tmp_path / "data", mqtt__port=free_port(),
                             api__port=free_port(), mqtt__receive_maximum=1234)
    demo = Demo(settings, meters=1, interval_s=2.0)
    try:
        demo.start()
        # the collector the settings describe, on the embedded broker
        assert demo.collector.receive_maximum == settings.mqtt.receive_maximum == 1234
        assert (demo.collector.host, demo.collector.port) == demo.mqtt
        for t in demo._starters:  # the replay, then the live meter's start
            t.join(60)
            assert not t.is_alive()
        assert demo.collector.wait_idle(10)
        rows = demo.store._conn().execute(
            "SELECT COUNT(*), MAX(ts_utc), MAX(ts_utc - received_utc) FROM reading").fetchone()
    finally:
        demo.stop()
    count, newest, ahead_s = rows
    assert newest > time.time() - 120  # the replay reached the present
    assert count > 60  # the day so far, a reading a minute (at least the last hour)
    assert dict(demo.collector.metrics.rejected) == {}  # no future_ts refusals
    assert ahead_s <= 1.0, f"a replayed reading was stamped {ahead_s:.0f} s in the future"


def test_a_faster_clock_catches_up_with_the_present_and_stays_there(tmp_path):
    # --speed 100 after the replay: the live meter starts at the present; a clock 100 times
    # too fast would be 300 s ahead within 3 s and the collector would refuse everything.
    settings = load_settings(data_dir=tmp_path / "data", mqtt__port=free_port(),
                             api__port=free_port())
    demo = Demo(settings, meters=1, interval_s=2.0, speed=100.0)
    try:
        demo.start()
        for t in demo._starters:
            t.join(60)
            assert not t.is_alive()
        live = demo.sim_meters[0]
        first = live.published
        assert live.wait_published(first + 3, 20)  # live readings go on, in real time
        assert demo.collector.wait_idle(10)
        ahead_s = demo.store._conn().execute(
            "SELECT MAX(ts_utc - received_utc) FROM reading").fetchone()[0]
    finally:
        demo.stop()
    assert dict(demo.collector.metrics.rejected) == {}
    assert ahead_s <= 1.0, f"a reading was stamped {ahead_s:.0f} s in the future"
