"""A meter reflashed from scratch counts boot and seq from 1 again: its readings reuse keys
of readings already stored. They are not redeliveries, so they must not be dropped as
duplicates: the store reports them as conflicts (tests/store/test_conformance.py, on every
backend) and the collector keeps them whole as dead letters, counted under key_conflict."""

from __future__ import annotations

import time

from citizenwatt.collector.service import KEY_CONFLICT
from citizenwatt.firmware import wire
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import run_collector_on

NOW = time.time()


def test_collector_keeps_conflicting_readings_as_whole_dead_letters(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")

    def reading(seq, energy_wh, ts):
        return wire.encode_reading("m-1", 1, seq, 1000 * seq, 10, [
            wire.channel(0, energy_wh, 360.0, 1.6), wire.channel(1, energy_wh / 2, 10.0, 0.1)],
            ts=ts)

    sent = [reading(0, 100.0, NOW - 100), reading(1, 101.0, NOW - 90),
            reading(1, 101.0, NOW - 90),  # a redelivery
            reading(0, 0.1, NOW - 20)]  # the reflashed meter's first reading
    collector = run_collector_on(mosquitto, store, [("cw/m-1/reading", p) for p in sent],
                                 "conflict-test")
    assert collector.metrics.rejected[KEY_CONFLICT] == 1
    # messages handled as readings: 2 new + 1 redelivery; rows: 4 stored, 2 duplicates
    assert collector.metrics.readings_stored == 3
    assert (collector.metrics.stored, collector.metrics.duplicates) == (4, 2)
    assert store.rejections() == {KEY_CONFLICT: 1}
    with store.connection() as db:
        payload, detail = db.execute(
            "SELECT payload_head, detail FROM rejected WHERE reason=?", (KEY_CONFLICT,)).fetchone()
    assert bytes(payload) == sent[3]  # whole, nothing lost
    assert "reflashed" in detail
