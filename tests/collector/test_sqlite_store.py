"""The embedded store: idempotent writes, out-of-order arrivals, counter resets, hours."""

from __future__ import annotations

import random

import pytest

from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.port import ChannelReading, energy_delta_wh

T0 = 1_790_000_000.0  # 2026-09-21, a whole hour is not needed: spreading handles it


def series(n: int, *, boot: int = 1, start_wh: float = 0.0, t0: float = T0,
           interval_s: float = 10.0, meter: str = "m-1", channel: int = 0,
           seed: int = 1) -> list[ChannelReading]:
    rnd = random.Random(seed)
    out, energy = [], start_wh
    for seq in range(n):
        power = rnd.uniform(50, 3000)
        energy += power * interval_s / 3600
        out.append(ChannelReading(meter, channel, boot, seq, t0 + (seq + 1) * interval_s, True,
                                  interval_s, energy, power, power / 230, True))
    return out


def total(store: SqliteStore, meter: str = "m-1") -> float:
    return sum(h.energy_wh for h in store.hourly(meter, 0, 4e9))


def test_in_order_hours_sum_to_the_counter(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    rows = series(1000)
    for i in range(0, len(rows), 37):
        store.write(rows[i:i + 37], T0)
    assert total(store) == pytest.approx(rows[-1].energy_wh, rel=1e-9)
    hours = store.hourly("m-1", 0, 4e9)
    assert len(hours) >= 3 and sum(h.readings for h in hours) == 1000
    # each hour holds the energy consumed in it: check one whole hour directly
    h = hours[1]
    inside = [r for r in rows if h.hour_utc <= r.ts_utc - r.interval_s and r.ts_utc <= h.hour_utc + 3600]
    assert h.energy_wh == pytest.approx(sum(r.interval_energy_wh for r in inside), rel=0.02)


def test_shuffled_and_duplicated_arrivals_give_the_same_hours(tmp_path):
    rows = series(600, seed=7)
    ordered = SqliteStore(tmp_path / "a.sqlite")
    ordered.write(rows, T0)
    shuffled = SqliteStore(tmp_path / "b.sqlite")
    mixed = rows + rows[::3]
    random.Random(3).shuffle(mixed)
    dup = 0
    for i in range(0, len(mixed), 25):
        dup += shuffled.write(mixed[i:i + 25], T0).duplicates
    assert dup == len(rows[::3])
    a = [(h.hour_utc, round(h.energy_wh, 6), h.readings) for h in ordered.hourly("m-1", 0, 4e9)]
    b = [(h.hour_utc, round(h.energy_wh, 6), h.readings) for h in shuffled.hourly("m-1", 0, 4e9)]
    assert a == b
    assert total(shuffled) == pytest.approx(rows[-1].energy_wh, rel=1e-9)


def test_same_reading_twice_in_one_batch_is_stored_once(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    rows = series(3)
    res = store.write(rows + rows[1:2], T0)
    assert (res.stored, res.duplicates) == (3, 1)
    assert total(store) == pytest.approx(rows[-1].energy_wh)


def test_counter_going_down_never_counts_negative(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    first = series(100)  # ends near some kWh
    # a power cut restored an older checkpoint: boot 2 starts below the last value
    rolled = series(50, boot=2, start_wh=first[-1].energy_wh - 20, t0=first[-1].ts_utc, seed=2)
    # then the meter was reflashed: counter from 0
    fresh = series(50, boot=3, start_wh=0.0, t0=rolled[-1].ts_utc, seed=3)
    store.write(first + rolled + fresh, T0)
    expected = (first[-1].energy_wh
                + rolled[0].interval_energy_wh + (rolled[-1].energy_wh - rolled[0].energy_wh)
                + fresh[-1].energy_wh)
    assert total(store) == pytest.approx(expected, rel=1e-9)
    assert all(h.energy_wh >= 0 for h in store.hourly("m-1", 0, 4e9))


def test_delta_rule():
    a, b = series(2)
    assert energy_delta_wh(None, a) == pytest.approx(a.energy_wh)
    assert energy_delta_wh(a, b) == pytest.approx(b.energy_wh - a.energy_wh)
    assert energy_delta_wh(b, a) == pytest.approx(a.interval_energy_wh)


def test_channels_and_meters_are_kept_apart(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    c0, c1 = series(100, channel=0, seed=1), series(100, channel=1, seed=2)
    other = series(100, meter="m-2", seed=3)
    store.write(c0 + c1 + other, T0)
    assert sum(h.energy_wh for h in store.hourly("m-1", 0, 4e9, channel=1)) == \
        pytest.approx(c1[-1].energy_wh)
    assert total(store) == pytest.approx(c0[-1].energy_wh + c1[-1].energy_wh)
    assert total(store, "m-2") == pytest.approx(other[-1].energy_wh)
    assert [r.channel for r in store.latest("m-1")] == [0, 1]
    assert [m.meter_id for m in store.meters()] == ["m-1", "m-2"]


def test_two_writers_on_one_file_keep_the_chain(tmp_path):
    """Two collectors sharing one SQLite file: the second's cache must not go stale."""
    rows = series(200, seed=5)
    a, b = SqliteStore(tmp_path / "r.sqlite"), SqliteStore(tmp_path / "r.sqlite")
    for i in range(0, 200, 10):
        (a if (i // 10) % 2 else b).write(rows[i:i + 10], T0)
    assert total(a) == pytest.approx(rows[-1].energy_wh, rel=1e-9)
