"""What the routes ask the time-series store, in household terms: live power of a meter,
its energy per local bucket over a date range. Shared by the JSON API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from citizenwatt.config import ApiSettings, check_timezone
from citizenwatt.i18n import N_
from citizenwatt.store.port import ChannelReading, ReadingStore

from .energy import (
    Bucket,
    Resolution,
    Totals,
    bucket_bounds,
    bucketize,
    bucketize_days,
    snap_range,
    totals,
)
from .errors import ApiError

MIN_DATE = date(2020, 1, 1)  # the wire contract rejects earlier timestamps
MAX_DATE = date(2100, 12, 31)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (Europe/Paris, UTC...), else a 422 saying to use such a name;
    the same check as the [api] timezone setting's at load."""
    try:
        return check_timezone(name)
    except ValueError:
        raise ApiError(422, "timezone", N_("The time zone \"{value}\" is unknown: use a name "
                                           "such as Europe/Paris."), value=name[:60]) from None


@dataclass(frozen=True)
class LivePower:
    meter_id: str
    ts_utc: float
    age_s: float
    stale: bool
    power_w: float
    channels: list[ChannelReading]


def live_power(store: ReadingStore, meter_id: str, now_s: float,
               settings: ApiSettings) -> LivePower:
    rows = store.latest(meter_id)
    if not rows:
        raise ApiError(404, "meter_unknown", N_("Meter \"{meter_id}\" has not sent anything yet. Check its "
                                                "id, or wait for its first reading."), meter_id=meter_id)
    ts = max(r.ts_utc for r in rows)
    age = max(0.0, now_s - ts)
    return LivePower(meter_id=meter_id, ts_utc=ts, age_s=age, stale=age > settings.stale_after_s,
                     power_w=sum(r.power_w for r in rows), channels=rows)


def check_dates(start: date, end: date) -> None:
    """Both days within the supported years, and in order; 422 with a sentence otherwise."""
    for d in (start, end):
        if not MIN_DATE <= d <= MAX_DATE:
            raise ApiError(422, "date_bounds", N_("The date {value} is outside the accepted bounds ({min} "
                                                  "to {max})."), value=d.isoformat(),
                           min=MIN_DATE.isoformat(), max=MAX_DATE.isoformat())
    if end < start:
        raise ApiError(422, "range_order", N_("The end date ({end}) is before the start date ({start}): "
                                              "swap them."), start=start.isoformat(), end=end.isoformat())


def check_range(start: date, end: date, resolution: Resolution, settings: ApiSettings) -> None:
    check_dates(start, end)
    s, e = snap_range(start, end, resolution)
    limit = settings.max_hour_range_days if resolution == "hour" else settings.max_day_range_days
    check_span(s, e, limit, resolution)


def check_span(start: date, end: date, max_days: int, resolution: str = "day") -> None:
    """At most max_days days from start to end included, else a 422 saying to shorten it."""
    days = (end - start).days + 1
    if days > max_days:
        raise ApiError(422, "range_too_long", N_("The range spans {days} days; at resolution "
                                                 "\"{resolution}\" at most {max_days} days are allowed. "
                                                 "Shorten the range or pick a coarser resolution (day, "
                                                 "week, month)."), days=days, resolution=resolution,
                       max_days=max_days)


def energy(store: ReadingStore, meter_id: str, start: date, end: date,
           resolution: Resolution, tz: ZoneInfo, settings: ApiSettings,
           channel: int | None = None) -> tuple[list[Bucket], Totals]:
    check_range(start, end, resolution, settings)
    bounds = bucket_bounds(start, end, tz, resolution)
    daily = getattr(store, "daily", None) if resolution != "hour" else None
    days = daily(meter_id, bounds[0], bounds[-1], tz.key, channel) if daily else None
    if days is not None:  # the store's day tier, in this zone
        buckets = bucketize_days(days, bounds, tz)
    else:
        buckets = bucketize(store.hourly(meter_id, bounds[0], bounds[-1], channel), bounds, tz)
    return buckets, totals(buckets)


def local_today(now_s: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(now_s, tz).date()
