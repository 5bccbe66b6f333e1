"""Comparison with similar households: the median daily use of the other households of
the same deployment and profile, shown only when at least MIN_GROUP of them have enough
data, so no single household's figure can be told apart."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.store.port import ReadingStore

from .household_data import household_buckets
from .models import Household

MIN_GROUP = 5
MIN_DAY_SHARE = 0.5  # a household counts when at least half the days are fully measured
# The median of an odd group is one real household's figure: it is only ever shown as a
# mean over at least a week, rounded to half a kWh a day, so that no one's day can be read.
MIN_DAYS = 7
MEDIAN_STEP_KWH = 0.5


@dataclass
class Comparison:
    status: str  # ok | no_profile | group_too_small | no_own_data
    profile: str
    group_size: int = 0
    own_kwh_per_day: float | None = None
    median_kwh_per_day: float | None = None
    difference_pct: float | None = None


def mean_daily_kwh(store: ReadingStore, hh: Household, start: date, end: date) -> float | None:
    buckets, _ = household_buckets(store, hh, start, end, "day")
    full = [b for b in buckets if b.complete and b.energy_wh is not None]
    if not full or len(full) < MIN_DAY_SHARE * len(buckets):
        return None
    # Per hour x 24, so a 23- or 25-hour DST day does not tilt the mean.
    return sum(b.energy_wh or 0.0 for b in full) / sum(b.hours for b in full) * 24 / 1000.0


def compare(db: Session, store: ReadingStore, hh: Household, start: date, end: date) -> Comparison:
    start = min(start, date.fromordinal(end.toordinal() - (MIN_DAYS - 1)))
    out = Comparison(status="ok", profile=hh.profile)
    if not hh.profile:
        out.status = "no_profile"
        return out
    peers = db.scalars(select(Household).where(
        Household.deployment_id == hh.deployment_id, Household.profile == hh.profile,
        Household.id != hh.id)).all()
    values = [v for p in peers if (v := mean_daily_kwh(store, p, start, end)) is not None]
    out.group_size = len(values)
    out.own_kwh_per_day = mean_daily_kwh(store, hh, start, end)
    if len(values) < MIN_GROUP:
        out.status = "group_too_small"
        return out
    out.median_kwh_per_day = round(statistics.median(values) / MEDIAN_STEP_KWH) * MEDIAN_STEP_KWH
    if out.own_kwh_per_day is None:
        out.status = "no_own_data"
    elif out.median_kwh_per_day > 0:
        out.difference_pct = round(100.0 * (out.own_kwh_per_day / out.median_kwh_per_day - 1.0))
    return out
