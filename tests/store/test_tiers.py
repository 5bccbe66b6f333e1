"""The embedded store's tiers: packed blocks give back exactly what was packed, folding moves
readings down the tiers without changing a single hour, late readings among packed ones
are counted as if they had come in order, deletions reach every tier, the space comes back
to the file system, and a file of the previous layout is upgraded with every figure kept."""

from __future__ import annotations

import dataclasses
import os
import random
import sqlite3

import pytest

from citizenwatt.store import packing
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.rules import Link
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.tiers import DAY_S, Tiers
from tests.store.helpers import T0, hours_of, in_order_hours, series

TIERS = Tiers(raw_s=2 * DAY_S, aggregate_s=60, aggregate_keep_s=2 * DAY_S, hot_s=DAY_S)


def wire_like(rows: list[ChannelReading]) -> list[ChannelReading]:
    """Values rounded as the wire contract sends them (energy in mWh, power in cW...)."""
    return [dataclasses.replace(r, energy_wh=round(r.energy_wh, 3), power_w=round(r.power_w, 2),
                                irms_a=round(r.irms_a, 3)) for r in rows]


def two_channels(days: float, seed: int = 3) -> list[ChannelReading]:
    n = int(days * 8640)
    return wire_like(series(n, seed=seed) + series(n, channel=1, seed=seed + 1))


def write(store, rows, chunk=5000):
    for i in range(0, len(rows), chunk):
        store.write(rows[i:i + chunk], T0)


def figures(store, meter="m-1"):
    return (hours_of(store, meter), hours_of(store, meter, 0), hours_of(store, meter, 1),
            store.latest(meter), [dataclasses.replace(m, status=None) for m in store.meters()])


# -- packing ----------------------------------------------------------------------------------

def test_a_packed_block_gives_back_every_value_exactly():
    rnd = random.Random(7)
    rows, energy, prev = [], 1234.567, None
    for seq in range(300):
        power = round(rnd.uniform(0, 9000), 2) if seq % 7 else rnd.uniform(0, 9000)  # some unrounded
        energy = round(energy + power / 360, 3) if seq % 11 else energy + power / 360
        r = ChannelReading("m-x", 2, 3, 10 + seq, T0 + 10 * seq + (0.123 if seq % 5 else 0),
                           seq % 3 != 0, 10.0, energy, power, round(power / 230, 3), seq % 2 == 0,
                           None if seq % 4 else round(rnd.uniform(220, 245), 2),
                           None if seq % 4 else round(rnd.uniform(0, 1), 4))
        lnk = Link(rnd.uniform(0, 5), T0) if seq in (0, 100) else Link(
            energy - prev.energy_wh if energy >= prev.energy_wh else 0.0, prev.ts_utc)
        rows.append(packing.StoredReading(r, T0 + 10 * seq + 0.5, lnk))
        prev = r
    from citizenwatt.store.rules import link

    # what the store would have kept: the links the rules give, two of them set apart
    rows = [s if i in (0, 100) else dataclasses.replace(s, link=link(rows[i - 1].reading, s.reading))
            for i, s in enumerate(rows)]
    data, links = packing.pack_block(rows, 48 * 3600)
    back = packing.unpack_block("m-x", 2, data, links, 48 * 3600)
    assert [s.reading for s in back] == [s.reading for s in rows]
    assert [s.link for s in back] == [s.link for s in rows]
    assert [s.received_utc for s in back] == [s.received_utc for s in rows]
    assert len(links) == 2 * packing._LINK.size  # only the two links the rules do not give


def test_regular_readings_pack_under_16_bytes_each():
    rows = wire_like(series(360, seed=2))
    from citizenwatt.store.rules import link

    stored = [packing.StoredReading(r, r.ts_utc + 0.2, link(rows[i - 1] if i else None, r))
              for i, r in enumerate(rows)]
    data, links = packing.pack_block(stored, 48 * 3600)
    assert (len(data) + len(links)) / len(rows) < 16


# -- folding ----------------------------------------------------------------------------------

def test_folding_moves_readings_down_and_changes_no_figure(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    rows = two_channels(5)
    write(store, rows)
    before = figures(store)
    every = store.readings("m-1", 0, 4e9)
    now = rows[-1].ts_utc + 10
    report = store.fold(now, TIERS)
    assert report.packed > 0 and report.aggregated > 0 and report.expired > 0
    assert figures(store) == before
    # raw and hot tiers: the readings themselves
    assert store.readings("m-1", now - 2 * DAY_S, 4e9) == [
        r for r in every if r.ts_utc >= now - 2 * DAY_S]
    # the aggregate tier: one reading per minute and channel, the counter at the minute's end
    lo, hi = now - 4 * DAY_S + 3600, now - 2 * DAY_S - 3600
    folded = store.readings("m-1", lo, hi)
    last_of_minute = {(r.channel, int(r.ts_utc // 60)): r for r in every}
    assert {(r.channel, int(r.ts_utc // 60)) for r in folded} == {
        k for k, r in last_of_minute.items() if lo <= r.ts_utc < hi}
    for r in folded:
        src = last_of_minute[(r.channel, int(r.ts_utc // 60))]
        assert (r.energy_wh, r.seq, r.interval_s) == (src.energy_wh, src.seq, 60.0)
    # past the aggregates' retention: nothing left but the hours
    assert store.readings("m-1", 0, now - 4 * DAY_S - 3600) == []
    # a second fold has nothing to do
    again = store.fold(now, TIERS)
    assert (again.packed, again.aggregated, again.expired) == (0, 0, 0)
    store.close()


def test_folding_in_small_steps_ends_where_one_fold_does(tmp_path):
    rows = two_channels(3, seed=9)
    a, b = SqliteStore(tmp_path / "a.sqlite"), SqliteStore(tmp_path / "b.sqlite")
    write(a, rows)
    write(b, rows)
    now = rows[-1].ts_utc + 10
    a.fold(now, TIERS)
    steps = 0
    while not b.fold(now, TIERS, max_readings=3000).done:
        steps += 1
    assert steps >= 5
    got, want = b.readings("m-1", 0, 4e9), a.readings("m-1", 0, 4e9)
    assert [(r.channel, r.order_key, r.ts_utc, r.energy_wh, r.interval_s) for r in got] == [
        (r.channel, r.order_key, r.ts_utc, r.energy_wh, r.interval_s) for r in want]
    # a step cut between two chunks: its means combined from the parts' (rounded) means
    for x, y in zip(got, want, strict=True):
        assert x.power_w == pytest.approx(y.power_w, abs=0.011)
        assert x.irms_a == pytest.approx(y.irms_a, abs=0.0011)
    assert figures(b) == figures(a)


def test_space_goes_back_to_the_file_system(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    write(store, two_channels(4))
    store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(tmp_path / "r.sqlite")
    report = store.fold(T0 + 4 * DAY_S + 10, TIERS)
    store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert report.bytes_freed > 0
    assert os.path.getsize(tmp_path / "r.sqlite") < size * 0.6


# -- late readings, redeliveries, deletions ---------------------------------------------------

def test_late_readings_among_packed_ones_count_as_in_order(tmp_path):
    rows = two_channels(3, seed=4)
    rnd = random.Random(1)
    late = set(rnd.sample(range(len(rows) // 3), 40))  # in the packed days
    store = SqliteStore(tmp_path / "r.sqlite")
    write(store, [r for i, r in enumerate(rows) if i not in late])
    now = rows[-1].ts_utc + 10
    store.fold(now, Tiers(raw_s=10 * DAY_S, aggregate_s=60, aggregate_keep_s=DAY_S, hot_s=DAY_S))
    for i in sorted(late, reverse=True):
        res = store.write([rows[i]], now)
        assert (res.stored, res.conflicts) == (1, ())
    # redeliveries of packed readings: recognised, nothing counted twice
    again = store.write([rows[5], rows[len(rows) // 4]], now)
    assert (again.stored, again.duplicates) == (0, 2)
    want = in_order_hours(rows)
    got = hours_of(store)
    assert [(h, n) for h, _, n in got] == [(h, n) for h, _, n in want]
    assert [e for _, e, _ in got] == pytest.approx([e for _, e, _ in want], rel=1e-9)
    assert len(store.readings("m-1", 0, 4e9)) == len(rows)
    # folded again, the same
    store.fold(now, Tiers(raw_s=10 * DAY_S, aggregate_s=60, aggregate_keep_s=DAY_S, hot_s=DAY_S))
    assert hours_of(store) == got


def test_a_late_reading_older_than_the_raw_tier_is_kept_aside(tmp_path):
    rows = two_channels(4, seed=5)
    store = SqliteStore(tmp_path / "r.sqlite")
    write(store, rows[:100] + rows[101:])
    store.fold(rows[-1].ts_utc + 10, TIERS)
    hours = hours_of(store)
    res = store.write([rows[100]], rows[-1].ts_utc)
    assert (res.stored, res.conflicts) == (0, (rows[100],))  # the collector dead-letters it
    assert hours_of(store) == hours


def test_deletion_reaches_every_tier(tmp_path):
    rows = two_channels(5, seed=6)
    store = SqliteStore(tmp_path / "r.sqlite")
    write(store, rows)
    now = rows[-1].ts_utc + 10
    store.fold(now, Tiers(raw_s=2 * DAY_S, aggregate_s=60, aggregate_keep_s=30 * DAY_S, hot_s=DAY_S))
    a, b = now - 3.5 * DAY_S, now - 0.5 * DAY_S  # aggregates, blocks and hot rows
    hours, latest = hours_of(store), store.latest("m-1")
    held = store.readings("m-1", a, b)
    assert {r.interval_s for r in held} == {10.0, 60.0}  # raw and folded readings
    n = store.delete("m-1", a, b)
    assert store.readings("m-1", a, b) == []
    assert hours_of(store) == [h for h in hours if not a <= h[0] < b]
    assert store.latest("m-1") == latest
    # every reading is counted once: erased, or still in some tier
    assert sum(m.readings for m in store.meters()) == len(rows) - n
    assert n > len(held)  # the folded ones stood for several readings each


# -- upgrade of a file of the previous layout -------------------------------------------------

V2_SCHEMA_TABLES = ("reading", "energy_hour", "channel_summary", "meter_status", "rejected")


def make_v2_file(src, dst) -> None:
    """The file version 2 wrote: the same five tables, no tiers, auto_vacuum off."""
    old = sqlite3.connect(src)
    new = sqlite3.connect(dst)
    for (sql,) in old.execute("SELECT sql FROM sqlite_schema WHERE type='table' AND name IN "
                              f"({','.join('?' * len(V2_SCHEMA_TABLES))})", V2_SCHEMA_TABLES):
        new.execute(sql)
    for t in V2_SCHEMA_TABLES:
        rows = old.execute(f"SELECT * FROM {t}").fetchall()
        if rows:
            new.executemany(f"INSERT INTO {t} VALUES ({','.join('?' * len(rows[0]))})", rows)
    new.execute("PRAGMA user_version=2")
    new.commit()
    assert new.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    new.close()
    old.close()


def test_a_file_of_the_previous_layout_is_upgraded_with_every_figure_kept(tmp_path):
    rows = two_channels(4, seed=8)
    ref = SqliteStore(tmp_path / "ref.sqlite")
    write(ref, rows)
    want, every = figures(ref), ref.readings("m-1", 0, 4e9)
    days = ref.daily("m-1", 0, 4e9, "Europe/Paris")
    ref.close()
    make_v2_file(tmp_path / "ref.sqlite", tmp_path / "old.sqlite")
    store = SqliteStore(tmp_path / "old.sqlite")
    db = store.connection()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert figures(store) == want
    assert store.readings("m-1", 0, 4e9) == every
    # the day tier, counted at the upgrade from the hours
    got = store.daily("m-1", 0, 4e9, "Europe/Paris")
    assert [(d.day_utc, d.hours_mask) for d in got] == [(d.day_utc, d.hours_mask) for d in days]
    assert [d.energy_wh for d in got] == pytest.approx([d.energy_wh for d in days], rel=1e-12)
    now = rows[-1].ts_utc + 10
    store.fold(now, Tiers(raw_s=10 * DAY_S, aggregate_s=60, aggregate_keep_s=DAY_S, hot_s=DAY_S))
    assert figures(store) == want
    assert store.readings("m-1", 0, 4e9) == every
    # and it goes on counting after the upgrade
    more = wire_like(series(100, seed=3, t0=rows[-1].ts_utc, start_wh=rows[-2].energy_wh))
    store.write([dataclasses.replace(r, seq=r.seq + 4 * 8640) for r in more], now)
    assert hours_of(store, "m-1", 0)[-1][0] >= want[1][-1][0]


# -- the day tier -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2])
def test_the_day_tier_gives_the_days_the_hours_give(tmp_path, seed):
    """Days kept at write time (shuffled readings, late ones, gaps, both DST changes, a
    deletion) are the days summed from the hours: energy, and the hours each covers."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from citizenwatt.api.energy import bucket_bounds, bucketize, bucketize_days

    paris = ZoneInfo("Europe/Paris")
    rnd = random.Random(seed)
    rows = []
    for t0, n in ((1774738800.0 - 2 * DAY_S, 4 * 1440), (1792882800.0 - 2 * DAY_S, 4 * 1440)):
        # around 2026-03-29 and 2026-10-25, a reading a minute with holes of hours
        for ch in (0, 1):
            chain = series(n, interval_s=60.0, t0=t0, seed=rnd.random(), channel=ch)
            rows += [r for r in chain if not 7 <= (r.ts_utc // 3600) % 29 < 10]
    rnd.shuffle(rows)
    store = SqliteStore(tmp_path / "r.sqlite")
    for i in range(0, len(rows), 700):
        store.write(rows[i:i + 700], T0)
    store.delete("m-1", 1792882800.0 + 5 * 3600, 1792882800.0 + 30 * 3600)
    for start, end in ((date(2026, 3, 26), date(2026, 4, 2)), (date(2026, 10, 22), date(2026, 10, 29))):
        bounds = bucket_bounds(start, end, paris, "day")
        for ch in (None, 0, 1):
            days = store.daily("m-1", bounds[0], bounds[-1], "Europe/Paris", ch)
            want = bucketize(store.hourly("m-1", bounds[0], bounds[-1], ch), bounds, paris)
            got = bucketize_days(days, bounds, paris)
            assert [(b.start_utc, b.covered_h, b.energy_wh is None) for b in got] == [
                (b.start_utc, b.covered_h, b.energy_wh is None) for b in want]
            assert [b.energy_wh or 0 for b in got] == pytest.approx(
                [b.energy_wh or 0 for b in want], rel=1e-12, abs=1e-9)
            assert {b.hours for b in got} - {24.0} in ({23.0}, {25.0})  # the DST day
            assert any(0 < b.covered_h < b.hours for b in got)  # the holes are counted
    # another zone's days: not kept, the API sums the hours
    assert store.daily("m-1", 0, 4e9, "Europe/London") is None
    # the store opened for another zone counts its days again from the hours
    store.close()
    london = SqliteStore(tmp_path / "r.sqlite", timezone="Europe/London")
    days = london.daily("m-1", 0, 4e9, "Europe/London")
    assert sum(d.energy_wh for d in days) == pytest.approx(
        sum(h.energy_wh for h in london.hourly("m-1", 0, 4e9)), rel=1e-12)
    assert all(d.day_utc % 3600 == 0 and datetime_hour(d.day_utc, "Europe/London") == 0 for d in days)


def datetime_hour(t: float, zone: str) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t, ZoneInfo(zone)).hour


def test_export_counters_survive_packing_and_late_readings(tmp_path):
    """A solar channel: its export counter and the hours of energy sent back are packed,
    thawed and re-chained like the import ones, as a store that got everything in order."""
    rnd = random.Random(4)
    rows, imp, exp = [], 1000.0, 500.0
    for seq in range(1, 3 * 8640 // 6):  # three days, a reading a minute
        p = round(rnd.uniform(-2500, 1500), 2)  # negative: panels sending power back
        imp = round(imp + max(p, 0) / 60, 3)
        exp = round(exp + max(-p, 0) / 60, 3)
        rows.append(ChannelReading("m-1", 0, 1, seq, T0 + 60 * seq, True, 60.0, imp, p,
                                   round(abs(p) / 230, 3), True, export_wh=exp))
    late = set(rnd.sample(range(len(rows) // 2), 30))
    ref, store = SqliteStore(tmp_path / "ref.sqlite"), SqliteStore(tmp_path / "r.sqlite")
    write(ref, rows)
    write(store, [r for i, r in enumerate(rows) if i not in late])
    now = rows[-1].ts_utc + 60
    tiers = Tiers(raw_s=10 * DAY_S, aggregate_s=60, aggregate_keep_s=DAY_S, hot_s=DAY_S / 2)
    assert store.fold(now, tiers).packed > 0
    for i in sorted(late):
        assert store.write([rows[i]], now).stored == 1
    store.fold(now, tiers)
    got = store.hourly("m-1", 0, 4e9)
    want = ref.hourly("m-1", 0, 4e9)
    assert [(h.hour_utc, h.readings) for h in got] == [(h.hour_utc, h.readings) for h in want]
    assert [h.export_wh for h in got] == pytest.approx([h.export_wh for h in want], rel=1e-9)
    assert sum(h.export_wh for h in got) > 1000
    assert [h.energy_wh for h in got] == pytest.approx([h.energy_wh for h in want], rel=1e-9)
    assert store.readings("m-1", 0, 4e9) == rows
    days = store.daily("m-1", 0, 4e9, "Europe/Paris")
    assert sum(d.export_wh for d in days) == pytest.approx(sum(h.export_wh for h in want), rel=1e-9)
