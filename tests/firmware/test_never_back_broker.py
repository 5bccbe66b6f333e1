"""Counters that never step back, through a real Mosquitto and the real collector: the
simulated meter (the firmware's own Meter on CPython) loses its newest checkpoints (the
flash of an earlier moment put back: a power cut's worst case), then is reflashed from
scratch (its flash erased). Each time it reads its retained counters back at connect: the
stored counters never go down, no reading becomes a key_conflict, and the energy the store
counts is what the meter published."""

from __future__ import annotations

import datetime as dt
import shutil

from citizenwatt.collector.service import Collector
from citizenwatt.firmware import wire
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import wait_until

START_UTC = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC).timestamp()
NOW = START_UTC + 86400
MID = "nb-01"


def run_meter(mosquitto, state_dir, start_utc, n):
    m = SimulatedMeter(meter_id=MID, host=mosquitto.host, port=mosquitto.port,
                       state_dir=state_dir, seed=3, interval_s=10.0, speed=float("inf"),
                       channels=2, start_utc=start_utc)
    m.start()
    try:
        assert m.wait_published(n, timeout_s=60), (m.published, m.error)
    finally:
        assert m.stop(timeout_s=15)
    assert m.error is None
    return m


def test_restored_checkpoint_and_reflash_never_step_back(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = Collector(store, mosquitto.host, mosquitto.port, client_id="nb-collector",
                          clock=lambda: NOW)
    collector.start()
    flash = tmp_path / "flash"
    kept = tmp_path / "old-flash"
    try:
        first = run_meter(mosquitto, flash, START_UTC, 12)
        shutil.copytree(flash, kept)                       # the flash as it was then
        second = run_meter(mosquitto, flash, first.clock.utc(), 60)
        # Power cut's worst case: every checkpoint written since is lost.
        shutil.rmtree(flash)
        shutil.copytree(kept, flash)
        third = run_meter(mosquitto, flash, second.clock.utc() + 5, 12)
        # A reflash from scratch: nothing left on the flash.
        shutil.rmtree(flash)
        fourth = run_meter(mosquitto, flash, third.clock.utc() + 5, 12)
        runs = [first, second, third, fourth]
        published = sum(m.published for m in runs)
        wait_until(lambda: collector.metrics.readings_stored >= published, 20,
                   "the collector to store every reading")
    finally:
        collector.stop()
    assert collector.metrics.readings_stored == published
    assert sum(collector.metrics.rejected.values()) == 0       # no key_conflict
    # Boots go on across the restore and the reflash; counters never go down.
    boots = [m.readings[0][0] for m in runs]
    assert boots == sorted(boots) and len(set(boots)) == 4
    for ch in (0, 1):
        series = [c[1] for m in runs for r in m.readings for c in r[5] if c[0] == ch]
        assert series == sorted(series)
        # Without the read-back the third run would have started below the second's end.
        end2 = [c[1] for c in second.readings[-1][5] if c[0] == ch][0]
        start3 = [c[1] for c in third.readings[0][5] if c[0] == ch][0]
        old = [c[1] for c in first.readings[-1][5] if c[0] == ch][0]
        assert start3 >= end2 >= old
        if ch == 0:  # the mains channel always draws something
            assert end2 > old
    # The store counted, hour by hour, the counter's whole rise (no reset anywhere).
    for ch in (0, 1):
        first_mwh = [c[1] for c in first.readings[0][5] if c[0] == ch][0]
        last_mwh = [c[1] for c in fourth.readings[-1][5] if c[0] == ch][0]
        first_own = [c for c in first.readings[0][5] if c[0] == ch][0]
        own_wh = first_own[2] * first.readings[0][4] / 3600
        total = sum(h.energy_wh for h in store.hourly(MID, START_UTC - 3600, NOW, ch))
        assert abs(total - ((last_mwh - first_mwh) / 1000 + own_wh)) < 0.01
    status = store.meters()
    assert [s.meter_id for s in status] == [MID]
    assert wire.counters_topic(MID) == "cw/nb-01/counters"
    store.close()
