"""Readings for the store tests, and what a store must answer for them (from the counting
rules applied in (boot, seq) order, or from the set of readings stored)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime

from citizenwatt.store import rules
from citizenwatt.store.port import ChannelReading, MeterSummary

T0 = 1_790_000_000.0  # 2026-09-21, a whole hour is not needed: spreading handles it
H10 = datetime(2026, 6, 1, 10, tzinfo=UTC).timestamp()  # 10:00:00 UTC


def series(n: int, *, boot: int = 1, start_wh: float = 0.0, t0: float = T0,
           interval_s: float = 10.0, meter: str = "m-1", channel: int = 0,
           seed: int | float = 1) -> list[ChannelReading]:
    """n readings of one channel every interval_s after t0, random power, counter rising."""
    rnd = random.Random(seed)
    out, energy = [], start_wh
    for seq in range(n):
        power = rnd.uniform(50, 3000)
        energy += power * interval_s / 3600
        out.append(ChannelReading(meter, channel, boot, seq, t0 + (seq + 1) * interval_s, True,
                                  interval_s, energy, power, power / 230, True))
    return out


def minutes(t0: float, t1: float, power_w: float = 1200.0, seq0: int = 0,
            counter0_wh: float = 0.0, meter: str = "m-1") -> list[ChannelReading]:
    """A reading every 60 s from t0 + 60 to t1 (t1 included) at constant power."""
    n = int(round((t1 - t0) / 60))
    return [ChannelReading(meter, 0, 1, seq0 + i, t0 + 60 * i, True, 60.0,
                           counter0_wh + power_w * 60 * i / 3600, power_w, power_w / 230, True)
            for i in range(1, n + 1)]


def hours_of(store, meter: str = "m-1", channel: int | None = None) -> list[tuple]:
    return [(h.hour_utc, h.energy_wh, h.readings)
            for h in store.hourly(meter, 0, 4e9, channel=channel)]


def total(store, meter: str = "m-1") -> float:
    return sum(h.energy_wh for h in store.hourly(meter, 0, 4e9))


def in_order_hours(rows, meter: str = "m-1", channel: int | None = None) -> list[tuple]:
    """(hour, Wh, readings) of a meter as the rules give them for the distinct readings of
    rows taken in (boot, seq) order, channel by channel: what every store must answer."""
    chains: dict[int, dict] = defaultdict(dict)
    for r in rows:
        if r.meter_id == meter and (channel is None or r.channel == channel):
            chains[r.channel].setdefault(r.order_key, r)  # the first copy is the one stored
    hours: dict[int, list] = defaultdict(lambda: [0.0, 0])
    for chain in chains.values():
        prev = None
        for _, r in sorted(chain.items()):
            for hour, wh, n in rules.hour_changes(r, rules.link(prev, r)):
                hours[hour][0] += wh
                hours[hour][1] += n
            prev = r
    return [(h, e, n) for h, (e, n) in sorted(hours.items())]


def assert_same_hours(got, want, rel: float = 1e-9) -> None:
    """Same hours and readings; energies equal but for the order of float additions."""
    import pytest

    assert [(h, n) for h, _, n in got] == [(h, n) for h, _, n in want]
    for (h, a, _), (_, b, _) in zip(got, want, strict=True):
        assert a == pytest.approx(b, rel=rel, abs=1e-9), h


class Reference:
    """What meters() must say, computed from the set of readings stored (first copy wins)."""

    def __init__(self):
        self.rows: dict[tuple, tuple[ChannelReading, float]] = {}
        self.status: dict[str, dict] = {}

    def write(self, rows, received_s: float) -> None:
        for r in rows:
            self.rows.setdefault((r.meter_id, r.channel, r.boot, r.seq), (r, received_s))

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        gone = [k for k, (r, _) in self.rows.items()
                if r.meter_id == meter_id and start_s <= r.ts_utc < end_s]
        for k in gone:
            del self.rows[k]
        return len(gone)

    def meters(self) -> list[MeterSummary]:
        by_meter: dict[str, list] = {}
        for r, rec in self.rows.values():
            by_meter.setdefault(r.meter_id, []).append((r, rec))
        return [MeterSummary(m, tuple(sorted({r.channel for r, _ in v})),
                             min(r.ts_utc for r, _ in v), max(r.ts_utc for r, _ in v),
                             max(rec for _, rec in v), len(v), self.status.get(m))
                for m, v in sorted(by_meter.items())]


def random_rows(rnd: random.Random) -> list[ChannelReading]:
    """Three meters, 1-3 channels each, each with a reboot whose clock went back."""
    rows = []
    for k, meter in enumerate(("m-a", "m-b", "m-c")):
        for ch in range(rnd.randint(1, 3)):
            first = series(rnd.randint(20, 120), meter=meter, channel=ch, seed=rnd.random(),
                           interval_s=rnd.choice((5.0, 10.0, 60.0)), t0=T0 + 1000 * k)
            # a reboot whose clock went back (unsynced, then stamped on arrival earlier)
            again = series(rnd.randint(5, 40), boot=2, meter=meter, channel=ch,
                           t0=first[len(first) // 2].ts_utc, seed=rnd.random())
            rows += first + again
    return rows


def feed(store, ref: Reference, rnd: random.Random, rows) -> None:
    """Shuffled, a third delivered twice, late readings, batches with growing received time."""
    mixed = rows + rnd.sample(rows, len(rows) // 3)
    rnd.shuffle(mixed)
    received = T0 + 50_000
    i = 0
    while i < len(mixed):
        n = rnd.randint(1, 60)
        received += rnd.uniform(0, 30)
        store.write(mixed[i:i + n], received)
        ref.write(mixed[i:i + n], received)
        i += n
        if rnd.random() < 0.1:
            assert store.meters() == ref.meters()


# -- hour boundaries, and a store written before reading_hour (for the upgrade tests) ------

BOUNDARY_HOURS = [(H10, 1200.0, 60), (H10 + 3600, 600.0, 30)]
# 11:00 keeps the gap's energy, with 0 readings
GAP_HOURS = [(H10, 1200.0, 60), (H10 + 3600, 546.666666667, 0), (H10 + 7200, 273.333333333, 1)]


def rounded_hours(store, meter: str = "m-1") -> list[tuple]:
    return [(h, round(e, 9), n) for h, e, n in hours_of(store, meter)]


def write_boundary_readings(store) -> None:
    # 10:00 -> 11:00:00 exactly, then 11:00 -> 11:30, the meter stops at 11:30:00 ...
    rows = minutes(H10, H10 + 3600) + minutes(H10 + 3600, H10 + 5400, seq0=60,
                                              counter0_wh=1200.0)
    # ... and another meter stops exactly at 12:00:00: nothing for 12:00-13:00
    other = minutes(H10 + 3600, H10 + 7200, meter="m-2")
    store.write(rows[::-1] + other, H10)  # newest first: the late-reading path too


def write_with_the_old_rule(store, monkeypatch) -> None:
    """What a store written before reading_hour holds: readings ending at hh:00:00 counted
    in hour hh. A third meter stops at 11:00:00 then resumes at 12:30 (a gap)."""
    with monkeypatch.context() as m:
        m.setattr(rules, "reading_hour", lambda ts: int(ts // 3600) * 3600)
        write_boundary_readings(store)
        gap = minutes(H10, H10 + 3600, meter="m-3")
        gap += minutes(H10 + 3600 + 5400 - 60, H10 + 3600 + 5400, seq0=60, counter0_wh=2000.0,
                       meter="m-3")
        store.write(gap, H10)


def downgrade(path) -> None:
    """Mark a SQLite file as written by version 1 (before the hour recount)."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
