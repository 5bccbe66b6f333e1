"""A household's time series, assembled from the meters it had over time.

A meter measures a household from a local date to another (it may move): each stored UTC
hour is taken from the meter that measured the household during that hour. Channels
marked "sub" (a water heater under the whole-house clamp) are shown but not added twice
into the household's total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from citizenwatt.firmware import wire
from citizenwatt.store.port import HourEnergy, ReadingStore

from .energy import Bucket, Resolution, Totals, bucket_bounds, bucketize, local_midnight_utc, totals
from .models import Household, MeterAssignment
from .savings import DayUse


@dataclass(frozen=True)
class Source:
    meter_id: str
    channel: int | None  # None: all channels of the meter
    start_s: float
    end_s: float


def household_zone(hh: Household) -> ZoneInfo:
    return ZoneInfo(hh.deployment.timezone)


def assignment_span(a: MeterAssignment, tz: ZoneInfo) -> tuple[float, float]:
    end = local_midnight_utc(a.valid_to, tz) if a.valid_to else math.inf
    return local_midnight_utc(a.valid_from, tz), end


def sources(hh: Household, tz: ZoneInfo, start_s: float, end_s: float,
            channel: int | None = None) -> list[Source]:
    out = []
    for a in hh.assignments:
        a0, a1 = assignment_span(a, tz)
        s, e = max(start_s, a0), min(end_s, a1)
        if s >= e:
            continue
        if channel is not None:
            out.append(Source(a.meter_id, channel, s, e))
            continue
        subs = {c.channel for c in a.meter.channels if c.role == "sub"}
        if not subs:
            out.append(Source(a.meter_id, None, s, e))
        else:
            out.extend(Source(a.meter_id, c, s, e) for c in range(wire.MAX_CHANNELS) if c not in subs)
    return out


def merged_hours(store: ReadingStore, srcs: list[Source]) -> list[HourEnergy]:
    if len(srcs) == 1:
        s = srcs[0]
        return store.hourly(s.meter_id, s.start_s, s.end_s, s.channel)
    acc: dict[int, list] = {}
    for s in srcs:
        for h in store.hourly(s.meter_id, s.start_s, s.end_s, s.channel):
            cur = acc.setdefault(h.hour_utc, [0.0, 0])
            cur[0] += h.energy_wh
            cur[1] += h.readings
    return [HourEnergy(k, v[0], v[1]) for k, v in sorted(acc.items())]


def household_buckets(store: ReadingStore, hh: Household, start: date, end: date,
                      resolution: Resolution, channel: int | None = None
                      ) -> tuple[list[Bucket], Totals]:
    tz = household_zone(hh)
    bounds = bucket_bounds(start, end, tz, resolution)
    hours = merged_hours(store, sources(hh, tz, bounds[0], bounds[-1], channel))
    buckets = bucketize(hours, bounds, tz)
    return buckets, totals(buckets)


def is_offpeak(local_hour: int, start_h: int, end_h: int) -> bool:
    if start_h == end_h:
        return False
    if start_h < end_h:
        return start_h <= local_hour < end_h
    return local_hour >= start_h or local_hour < end_h


def day_uses(store: ReadingStore, hh: Household, start: date, end: date) -> list[DayUse]:
    """Energy per local day with its off-peak part, for the savings."""
    hourly, _ = household_buckets(store, hh, start, end, "hour")
    return days_of_hours(hourly, hh, start, end)


def days_of_hours(hourly: list[Bucket], hh: Household, start: date, end: date) -> list[DayUse]:
    """day_uses() from the household's hourly buckets of start..end, already read."""
    days: dict[date, list] = {}
    for b in hourly:
        d = days.setdefault(b.start_local.date(), [0.0, 0.0, True, False, 0.0])
        d[4] += b.hours
        if b.energy_wh is None or not b.complete:
            d[2] = False
        if b.energy_wh is not None:
            d[3] = True
            d[0] += b.energy_wh
            if is_offpeak(b.start_local.hour, hh.offpeak_start_h, hh.offpeak_end_h):
                d[1] += b.energy_wh
    out, day = [], start
    while day <= end:
        e, off, complete, seen, hours = days.get(day, [0.0, 0.0, False, False, 24.0])
        out.append(DayUse(day, e / 1000 if seen else None, complete and seen, off / 1000, hours))
        day += timedelta(days=1)
    return out


def active_assignments(hh: Household, today: date) -> list[MeterAssignment]:
    return [a for a in hh.assignments
            if a.valid_from <= today and (a.valid_to is None or today < a.valid_to)]


@dataclass
class ChannelLive:
    meter_id: str
    channel: int
    label: str | None
    sub: bool
    power_w: float
    ts_utc: float


@dataclass
class HouseholdLive:
    power_w: float | None
    ts_utc: float | None
    age_s: float | None
    channels: list[ChannelLive]


def household_live(store: ReadingStore, hh: Household, now_s: float) -> HouseholdLive:
    tz = household_zone(hh)
    from datetime import datetime
    today = datetime.fromtimestamp(now_s, tz).date()
    chans: list[ChannelLive] = []
    for a in active_assignments(hh, today):
        labels = {c.channel: c for c in a.meter.channels}
        for r in store.latest(a.meter_id):
            c = labels.get(r.channel)
            chans.append(ChannelLive(a.meter_id, r.channel, c.label if c else None,
                                     bool(c and c.role == "sub"), r.power_w, r.ts_utc))
    if not chans:
        return HouseholdLive(None, None, None, [])
    ts = max(c.ts_utc for c in chans)
    return HouseholdLive(sum(c.power_w for c in chans if not c.sub), ts, max(0.0, now_s - ts), chans)
