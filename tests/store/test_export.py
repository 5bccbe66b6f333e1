"""Energy sent back to the grid (solar export) through the storage port, on every backend:
counted per hour from the export counters by the same rules as imported energy (order of
arrival, resets, gaps), kept apart from it, and read back by latest, readings and hourly."""

from __future__ import annotations

import dataclasses
import random
import sqlite3

import pytest

from citizenwatt.store import rules
from citizenwatt.store.port import HOUR_S, ChannelReading
from citizenwatt.store.sqlite import SqliteStore
from tests.store.helpers import T0


def solar(n: int, *, boot: int = 1, seq0: int = 0, t0: float = T0, start=(0.0, 0.0),
          seed: int = 1, interval_s: float = 10.0, channel: int = 0) -> list[ChannelReading]:
    """n readings of a solar household's mains clamp: within each interval the house either
    imports or exports (net power from -2.5 kW to +1.5 kW), both counters rising."""
    rnd = random.Random(seed)
    imported, exported = start
    out = []
    for k in range(n):
        p = rnd.uniform(-2500, 1500)
        if p >= 0:
            imported += p * interval_s / 3600
        else:
            exported += -p * interval_s / 3600
        out.append(ChannelReading("m-1", channel, boot, seq0 + k, t0 + (k + 1) * interval_s, True,
                                  interval_s, imported, p, abs(p) / 230, False, 230.0,
                                  1.0 if p >= 0 else -1.0, export_wh=exported))
    return out


def totals(store, channel=None):
    hours = store.hourly("m-1", 0, 4e9, channel)
    return sum(h.energy_wh for h in hours), sum(h.export_wh for h in hours), hours


def test_export_is_counted_per_hour_apart_from_import(store):
    rows = solar(1000)
    for i in range(0, len(rows), 50):
        store.write(rows[i:i + 50], T0)
    imported, exported, hours = totals(store)
    first = rows[0]
    # the chain counts the counters' increase, plus the first reading's own interval
    assert imported == pytest.approx(rows[-1].energy_wh, rel=1e-9)
    assert exported == pytest.approx(rows[-1].export_wh, rel=1e-9)
    assert first.export_wh > 0 or first.energy_wh > 0
    assert sum(h.readings for h in hours) == 1000  # readings counted once, not twice
    # one whole hour: the export of the readings inside it
    h = hours[1]
    inside = [r for r in rows if h.hour_utc <= r.ts_utc - r.interval_s and r.ts_utc <= h.hour_utc + HOUR_S]
    assert h.export_wh == pytest.approx(sum(max(0.0, -r.power_w) * r.interval_s / 3600
                                            for r in inside), rel=0.02)
    assert h.energy_wh == pytest.approx(sum(r.interval_energy_wh for r in inside), rel=0.02)
    # latest and readings give the export counter back
    (last,) = store.latest("m-1")
    assert last.export_wh == pytest.approx(rows[-1].export_wh)
    got = store.readings("m-1", 0, 4e9)
    assert [r.export_wh for r in got] == pytest.approx([r.export_wh for r in rows])


def test_late_and_shuffled_arrivals_give_the_same_export_hours(backend):
    rows = solar(400, seed=5)
    ordered = backend.new()
    ordered.write(rows, T0)
    shuffled = backend.new()
    mixed = rows + rows[::4]
    random.Random(2).shuffle(mixed)
    for i in range(0, len(mixed), 30):
        shuffled.write(mixed[i:i + 30], T0)

    def key(s):
        return [(h.hour_utc, round(h.energy_wh, 6), round(h.export_wh, 6), h.readings)
                for h in s.hourly("m-1", 0, 4e9)]

    assert key(ordered) == key(shuffled)


def test_export_counter_going_down_or_a_long_gap_count_like_import(store):
    first = solar(60)
    # reflashed: boot 2 restarts both counters from 0
    again = solar(60, boot=2, t0=first[-1].ts_utc, seed=3)
    # then 3 days without a reading: a gap, not spread over the days
    gap_t0 = again[-1].ts_utc + 3 * 86400
    after = solar(30, boot=2, seq0=60, t0=gap_t0, seed=4,
                  start=(again[-1].energy_wh, again[-1].export_wh))
    store.write(first + again + after, T0)
    _, exported, hours = totals(store)
    own = [max(0.0, -r.power_w) * r.interval_s / 3600 for r in (again[0], after[0])]
    expected = (first[-1].export_wh + own[0] + (again[-1].export_wh - again[0].export_wh)
                + own[1] + (after[-1].export_wh - after[0].export_wh))
    assert exported == pytest.approx(expected, rel=1e-9)
    assert all(h.export_wh >= 0 for h in hours)
    # nothing in the hours of the gap
    assert not [h for h in hours if again[-1].ts_utc + HOUR_S < h.hour_utc < gap_t0 - 2 * HOUR_S]


def test_consumption_only_channels_and_version_1_readings_export_nothing(store):
    mains = solar(100)
    sub = [dataclasses.replace(r, channel=1, export_wh=None, power_w=abs(r.power_w) / 4,
                               energy_wh=r.energy_wh / 4) for r in mains]
    store.write(mains + sub, T0)
    assert totals(store, 1)[1] == 0.0
    assert totals(store, 0)[1] == pytest.approx(mains[-1].export_wh)
    assert totals(store)[1] == pytest.approx(mains[-1].export_wh)  # all channels: the mains'
    latest = {r.channel: r.export_wh for r in store.latest("m-1")}
    assert latest[1] is None and latest[0] == pytest.approx(mains[-1].export_wh)


def test_redelivery_with_another_export_counter_is_a_conflict(store):
    rows = solar(5)
    store.write(rows, T0)
    changed = dataclasses.replace(rows[2], export_wh=rows[2].export_wh + 5)
    res = store.write([changed, rows[3]], T0)
    assert res.duplicates == 1 and [c.seq for c in res.conflicts] == [2]


def test_export_view_mirrors_the_power():
    r = solar(1)[0]
    v = rules.export_view(r)
    assert (v.energy_wh, v.power_w, v.export_wh) == (r.export_wh, -r.power_w, None)
    assert rules.export_view(dataclasses.replace(r, export_wh=None)) is None


OLD_SCHEMA = """
CREATE TABLE reading (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, boot INTEGER NOT NULL,
    seq INTEGER NOT NULL, ts_utc REAL NOT NULL, ts_from_meter INTEGER NOT NULL,
    received_utc REAL NOT NULL, interval_s REAL NOT NULL, energy_wh REAL NOT NULL,
    power_w REAL NOT NULL, irms_a REAL NOT NULL, apparent INTEGER NOT NULL,
    vrms_v REAL, pf REAL, delta_wh REAL NOT NULL, delta_t0 REAL NOT NULL,
    PRIMARY KEY (meter_id, channel, boot, seq)) WITHOUT ROWID;
CREATE TABLE energy_hour (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, hour_utc INTEGER NOT NULL,
    energy_wh REAL NOT NULL, readings INTEGER NOT NULL,
    PRIMARY KEY (meter_id, channel, hour_utc)) WITHOUT ROWID;
"""


def test_a_file_written_before_export_opens_and_counts_on(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO reading VALUES ('m-1', 0, 1, 0, ?, 1, ?, 10, 5.0, 1800, 7.8, 0, "
               "230, 1, 5.0, ?)", (T0, T0, T0 - 10))
    db.execute("INSERT INTO energy_hour VALUES ('m-1', 0, ?, 5.0, 1)", (int(T0 // 3600) * 3600,))
    db.commit()
    db.close()
    store = SqliteStore(path)
    (old,) = store.latest("m-1")
    assert old.export_wh is None and old.energy_wh == 5.0
    rows = solar(20, seq0=1, start=(5.0, 0.0))
    store.write(rows, T0)
    imported, exported, _ = totals(store)
    assert imported == pytest.approx(rows[-1].energy_wh)
    # the first reading with an export counter starts the export chain (its own interval)
    own = max(0.0, -rows[0].power_w) * 10 / 3600
    assert exported == pytest.approx(rows[-1].export_wh - rows[0].export_wh + own)
    store.close()
