"""A household's time series, assembled from the meters it had over time.

A meter measures a household from a local date to another (it may move): each stored UTC
hour is taken from the meter that measured the household during that hour. Channels
marked "sub" (a water heater under the whole-house clamp) are shown but not added twice
into the household's total.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from citizenwatt.firmware import wire
from citizenwatt.store.port import DayEnergy, HourEnergy, ReadingStore

from .channel_roles import derive_role, published_channels
from .energy import (
    Bucket,
    Resolution,
    Totals,
    bucket_bounds,
    bucketize,
    bucketize_days,
    local_midnight_utc,
    totals,
)
from .models import Household, Meter, MeterAssignment
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


def counted_channels(meter) -> list[int] | None:
    """The channels of a meter that count in a household's total: all but its "sub" ones
    (registration gives every channel it knows a role; see channel_roles). None: all."""
    subs = {c.channel for c in meter.channels if c.role == "sub"}
    if not subs:
        return None
    return [c for c in range(wire.MAX_CHANNELS) if c not in subs]


def meter_mains(db: Session, store: ReadingStore, meter_id: str) -> tuple[list[int] | None, dict[int, str]]:
    """A meter seen on its own (the open /m/<meter> page, its live JSON): its channels that
    measure the whole home (None: all of them) and its channel labels. Its roles when it is
    registered, else the channels its published labels do not name as a sub-circuit."""
    m = db.get(Meter, meter_id)
    if m is not None and m.channels:
        return counted_channels(m), {c.channel: c.label for c in m.channels if c.label}
    labels, seen = published_channels(store, meter_id)
    every = seen | set(labels)
    subs = {c for c in every if derive_role(c, labels.get(c)) == "sub"}
    return (sorted(every - subs) if subs else None), labels


def sources(hh: Household, tz: ZoneInfo, start_s: float, end_s: float,
            channel: int | None = None, role: str = "main") -> list[Source]:
    """Where the household's series comes from over [start_s, end_s): each meter's main
    channels (role "main", the total) or its sub channels (role "sub", the breakdown), or
    the one `channel` asked for."""
    out = []
    for a in hh.assignments:
        a0, a1 = assignment_span(a, tz)
        s, e = max(start_s, a0), min(end_s, a1)
        if s >= e:
            continue
        if channel is not None:
            out.append(Source(a.meter_id, channel, s, e))
            continue
        if role == "sub":
            out.extend(Source(a.meter_id, c.channel, s, e) for c in a.meter.channels if c.role == "sub")
            continue
        mains = counted_channels(a.meter)
        if mains is None:
            out.append(Source(a.meter_id, None, s, e))
        else:
            out.extend(Source(a.meter_id, c, s, e) for c in mains)
    return out


def merged_hours(store: ReadingStore, srcs: list[Source]) -> list[HourEnergy]:
    if not srcs:
        return []
    if len(srcs) == 1:
        s = srcs[0]
        return store.hourly(s.meter_id, s.start_s, s.end_s, s.channel)
    acc: dict[int, list] = {}
    for s in srcs:
        for h in store.hourly(s.meter_id, s.start_s, s.end_s, s.channel):
            cur = acc.setdefault(h.hour_utc, [0.0, 0, 0.0])
            cur[0] += h.energy_wh
            cur[1] += h.readings
            cur[2] += h.export_wh
    return [HourEnergy(k, v[0], v[1], v[2]) for k, v in sorted(acc.items())]


def merged_days(store: ReadingStore, srcs: list[Source], tz: ZoneInfo) -> list[DayEnergy] | None:
    """The sources' local days from the store's day tier (energies added, hours united), or
    None when the store keeps no days in this zone: then the hours are summed."""
    daily = getattr(store, "daily", None)
    if daily is None:
        return None
    acc: dict[int, list] = {}
    for s in srcs:
        days = daily(s.meter_id, s.start_s, s.end_s, tz.key, s.channel)
        if days is None:
            return None
        for d in days:
            cur = acc.setdefault(d.day_utc, [0.0, 0, 0.0])
            cur[0] += d.energy_wh
            cur[1] |= d.hours_mask
            cur[2] += d.export_wh
    return [DayEnergy(k, v[0], v[1], v[2]) for k, v in sorted(acc.items())]


def household_buckets(store: ReadingStore, hh: Household, start: date, end: date,
                      resolution: Resolution, channel: int | None = None
                      ) -> tuple[list[Bucket], Totals]:
    tz = household_zone(hh)
    bounds = bucket_bounds(start, end, tz, resolution)
    srcs = sources(hh, tz, bounds[0], bounds[-1], channel)
    # days, weeks, months: from the day tier when the store keeps this zone's days (its
    # sources start and end on local midnights: assignments are by local date)
    days = merged_days(store, srcs, tz) if resolution != "hour" else None
    if days is not None:
        buckets = bucketize_days(days, bounds, tz)
    else:
        buckets = bucketize(merged_hours(store, srcs), bounds, tz)
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


def household_key(hh: Household) -> tuple:
    """What a household's figures are computed from besides the store (its zone, its meters
    over time, their channels' labels and roles): the key of its cached figures, so that a
    change of any of these is never answered from the cache."""
    return (hh.id, hh.deployment.timezone, tuple(
        (a.meter_id, a.valid_from, a.valid_to, tuple((c.channel, c.label, c.role) for c in a.meter.channels))
        for a in hh.assignments))


def household_live(store: ReadingStore, hh: Household, now_s: float,
                   channels: Callable[[date], list[ChannelLive]] | None = None) -> HouseholdLive:
    """Live power of the household at now_s; `channels(today)` may give live_channels()
    from a cache."""
    from datetime import datetime
    today = datetime.fromtimestamp(now_s, household_zone(hh)).date()
    return live_of(channels(today) if channels else live_channels(store, hh, today), now_s)


def live_of(chans: list[ChannelLive], now_s: float) -> HouseholdLive:
    """The household's live power at now_s from the newest reading of each of its channels."""
    if not chans:
        return HouseholdLive(None, None, None, [])
    ts = max(c.ts_utc for c in chans)
    return HouseholdLive(sum(c.power_w for c in chans if not c.sub), ts, max(0.0, now_s - ts), chans)


def live_channels(store: ReadingStore, hh: Household, today: date) -> list[ChannelLive]:
    """The newest reading of each channel of the meters at the household's home on `today`."""
    chans: list[ChannelLive] = []
    for a in active_assignments(hh, today):
        labels = {c.channel: c for c in a.meter.channels}
        mains = counted_channels(a.meter)
        for r in store.latest(a.meter_id):
            c = labels.get(r.channel)
            # sub: not added to the total (a sub-circuit, or a channel given no role yet)
            chans.append(ChannelLive(a.meter_id, r.channel, c.label if c else None,
                                     mains is not None and r.channel not in mains, r.power_w, r.ts_utc))
    return chans


@dataclass(frozen=True)
class SubEnergy:
    """A sub-circuit's energy over a period, already inside the household's total."""
    label: str  # the channel's label; "" when it has none (the page then names the clamp)
    channel: int
    energy_wh: float | None


def household_breakdown(store: ReadingStore, hh: Household, start: date, end: date) -> list[SubEnergy]:
    """Energy of each sub channel from local day `start` to `end` (included), the ones with
    the same label (a meter replaced) added together, in channel order."""
    tz = household_zone(hh)
    bounds = [local_midnight_utc(start, tz), local_midnight_utc(end + timedelta(days=1), tz)]
    acc: dict[str, list] = {}
    for src in sources(hh, tz, bounds[0], bounds[-1], role="sub"):
        label = next((c.label for a in hh.assignments if a.meter_id == src.meter_id
                      for c in a.meter.channels if c.channel == src.channel), "")
        hours = store.hourly(src.meter_id, src.start_s, src.end_s, src.channel)
        wh = bucketize(hours, bounds, tz)[0].energy_wh
        cur = acc.setdefault(label or f"#{src.channel}", [label, src.channel, None])
        if wh is not None:
            cur[2] = (cur[2] or 0.0) + wh
    return sorted((SubEnergy(*v) for v in acc.values()), key=lambda x: x.channel)


# Sub-circuits above the whole home by more than this, over a day, mean wrong roles (a sub
# clamp marked main, or clamps swapped) or a faulty clamp: 3 % covers two clamps' errors,
# the absolute part the noise floor of an idle day.
SUB_EXCESS_RATIO = 0.03
SUB_EXCESS_WH = 20.0


def sub_excess_day(store: ReadingStore, hh: Household, start: date, end: date) -> date | None:
    """The last local day from `start` to `end` on which the household's sub channels added
    up to more than its main ones (beyond the tolerance above), else None."""
    tz = household_zone(hh)
    bounds = bucket_bounds(start, end, tz, "day")
    subs = sources(hh, tz, bounds[0], bounds[-1], role="sub")
    if not subs:
        return None
    main = bucketize(merged_hours(store, sources(hh, tz, bounds[0], bounds[-1])), bounds, tz)
    sub = bucketize(merged_hours(store, subs), bounds, tz)
    found = None
    for m, sb in zip(main, sub, strict=True):
        limit_wh = (m.energy_wh or 0.0) * (1 + SUB_EXCESS_RATIO) + SUB_EXCESS_WH
        if sb.energy_wh is not None and sb.energy_wh > limit_wh:
            found = m.start_local.date()
    return found
