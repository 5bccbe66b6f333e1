"""Energy per local hour, day, week or month, built from the store's UTC hours.

Pure functions, no I/O. Households live in local time: a day in Europe/Paris runs from
local midnight to local midnight, so it lasts 23 hours on the spring DST change and 25 on
the autumn one. We compute each bucket's bounds in UTC from the time zone, then add each
stored UTC hour into the bucket(s) it overlaps (in proportion of the overlap: exact for
zones whose offset is whole hours, like every European zone). A bucket with no stored
hour at all is a gap and has energy None, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from citizenwatt.store.port import HOUR_S, DayEnergy, HourEnergy

Resolution = Literal["hour", "day", "week", "month"]
RESOLUTIONS: tuple[str, ...] = ("hour", "day", "week", "month")


@dataclass(frozen=True, slots=True)
class Bucket:
    start_utc: int
    end_utc: int
    start_local: datetime
    energy_wh: float | None  # None: no reading covers any part of this bucket
    covered_h: float  # hours of the bucket covered by stored data
    export_wh: float = 0.0  # sent back to the grid (solar); 0 for a household that never exports

    @property
    def hours(self) -> float:
        return (self.end_utc - self.start_utc) / HOUR_S

    @property
    def complete(self) -> bool:
        return self.covered_h >= self.hours - 1e-6


def local_midnight_utc(day: date, tz: ZoneInfo) -> int:
    """UTC seconds of local midnight starting `day` (the first instant of the local day)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def snap_range(start: date, end: date, resolution: Resolution) -> tuple[date, date]:
    """Widen [start, end] (inclusive local dates) to whole weeks (ISO, Monday) or months."""
    if resolution == "week":
        return start - timedelta(days=start.weekday()), end + timedelta(days=6 - end.weekday())
    if resolution == "month":
        nxt = date(end.year + end.month // 12, end.month % 12 + 1, 1)
        return start.replace(day=1), nxt - timedelta(days=1)
    return start, end


def bucket_bounds(start: date, end: date, tz: ZoneInfo, resolution: Resolution) -> list[int]:
    """UTC boundaries b0 < b1 < ... < bn of the buckets covering local dates [start, end]."""
    start, end = snap_range(start, end, resolution)
    first = local_midnight_utc(start, tz)
    last = local_midnight_utc(end + timedelta(days=1), tz)
    if resolution == "hour":
        return list(range(first, last, HOUR_S)) + [last]
    bounds, d = [], start
    while d <= end:
        bounds.append(local_midnight_utc(d, tz))
        if resolution == "day":
            d += timedelta(days=1)
        elif resolution == "week":
            d += timedelta(days=7)
        else:
            d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    bounds.append(last)
    return bounds


def bucketize(hours: Iterable[HourEnergy], bounds: Sequence[int], tz: ZoneInfo) -> list[Bucket]:
    """Sum stored UTC hours into the buckets delimited by `bounds` (sorted UTC seconds)."""
    n = len(bounds) - 1
    energy = [0.0] * n
    exported = [0.0] * n
    covered = [0.0] * n
    seen = [False] * n
    i = 0
    for h in sorted(hours, key=lambda h: h.hour_utc):
        h0, h1 = h.hour_utc, h.hour_utc + HOUR_S
        while i < n and bounds[i + 1] <= h0:
            i += 1
        j = i
        while j < n and bounds[j] < h1:
            overlap = min(h1, bounds[j + 1]) - max(h0, bounds[j])
            if overlap > 0:
                energy[j] += h.energy_wh * overlap / HOUR_S
                exported[j] += h.export_wh * overlap / HOUR_S
                covered[j] += overlap / HOUR_S
                seen[j] = True
            j += 1
    return [
        Bucket(bounds[k], bounds[k + 1], datetime.fromtimestamp(bounds[k], tz),
               energy[k] if seen[k] else None, covered[k], exported[k])
        for k in range(n)
    ]


def bucketize_days(days: Iterable[DayEnergy], bounds: Sequence[int], tz: ZoneInfo) -> list[Bucket]:
    """bucketize() for buckets of whole local days, from the store's day tier (each day's
    energy and the mask of its hours that hold data): the same buckets, 365 rows a year
    instead of 8,760. `days` in the zone tz, bounds on its local midnights."""
    n = len(bounds) - 1
    energy = [0.0] * n
    exported = [0.0] * n
    covered = [0] * n
    seen = [False] * n
    i = 0
    for d in sorted(days, key=lambda d: d.day_utc):
        while i < n and bounds[i + 1] <= d.day_utc:
            i += 1
        if i < n and bounds[i] <= d.day_utc:
            energy[i] += d.energy_wh
            exported[i] += d.export_wh
            covered[i] += d.hours_mask.bit_count()
            seen[i] = seen[i] or d.hours_mask != 0
    return [
        Bucket(bounds[k], bounds[k + 1], datetime.fromtimestamp(bounds[k], tz),
               energy[k] if seen[k] else None, float(covered[k]), exported[k])
        for k in range(n)
    ]


@dataclass(frozen=True, slots=True)
class Totals:
    energy_wh: float | None
    hours: float
    covered_h: float
    gap_buckets: int
    export_wh: float = 0.0  # sent back to the grid over the buckets


def totals(buckets: Sequence[Bucket]) -> Totals:
    known = [b.energy_wh for b in buckets if b.energy_wh is not None]
    return Totals(
        energy_wh=sum(known) if known else None,
        hours=sum(b.hours for b in buckets),
        covered_h=sum(b.covered_h for b in buckets),
        gap_buckets=sum(1 for b in buckets if b.energy_wh is None),
        export_wh=sum(b.export_wh for b in buckets),
    )
