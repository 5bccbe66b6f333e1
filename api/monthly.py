"""A household's month on paper: its kWh and euros, a point of comparison (the same month a
year before, else its baseline), similar households, and one tip drawn from its own hours.

Every figure comes from the functions the pages use (household_buckets, day_uses,
household_savings, compare), so the paper says what the screen says.
"""

from __future__ import annotations

import calendar
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from citizenwatt.config import ApiSettings
from citizenwatt.i18n import N_
from citizenwatt.store.port import HourEnergy, ReadingStore

from .comparison import Comparison, compare
from .consumption import check_dates
from .energy import Bucket
from .errors import ApiError
from .household_data import days_of_hours, household_buckets, is_offpeak
from .household_savings import household_savings
from .models import Household
from .savings import DayPrice, DayUse
from .tariffs import price_on

# The same month a year before is the point of comparison when at least this share of
# its hours was measured; otherwise the baseline (when the household has one).
MIN_LAST_YEAR_SHARE = 0.9
# Below this, the night base load is not worth a tip (a fridge and a box: 40-60 W).
STANDBY_TIP_W = 60.0
# Off-peak tariff: below this share of the energy in off-peak hours, shifting is the tip.
OFFPEAK_TIP_SHARE = 0.4


def parse_month(text: str) -> tuple[date, date]:
    """"2026-03" -> (1 March, 31 March); 422 with what to type otherwise."""
    try:
        year, month = (int(x) for x in text.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise ApiError(422, "month", N_('The parameter "{name}" is not valid ({detail}). Fix it and try '
                                        'again.'), name="month", detail="AAAA-MM / YYYY-MM") from None
    last = first.replace(day=calendar.monthrange(year, month)[1])
    check_dates(first, last)
    return first, last


def month_cost_eur(days: Sequence[DayUse], prices: dict[date, DayPrice | None]) -> tuple[float | None, int]:
    """Euros of the measured energy, each day at its tariff (peak and off-peak hours apart);
    returns (euros or None when no measured day has a price, measured days without a price)."""
    eur, priced, unpriced = 0.0, 0, 0
    for d in days:
        if d.energy_kwh is None:
            continue
        price = prices.get(d.day)
        if price is None:
            unpriced += 1
            continue
        priced += 1
        eur += ((d.energy_kwh - d.offpeak_kwh) * price.peak_eur_per_kwh
                + d.offpeak_kwh * price.offpeak_eur_per_kwh)
    return (eur if priced else None), unpriced


@dataclass(frozen=True)
class Tip:
    kind: str  # standby | offpeak | peak_hour
    standby_w: float = 0.0
    standby_kwh_per_year: float = 0.0
    standby_eur_per_year: float | None = None
    offpeak_pct: float = 0.0
    peak_hour: int = 0
    peak_hour_kwh_per_day: float = 0.0


def pick_tip(hours: Sequence[Bucket], hh: Household, price: DayPrice | None) -> Tip | None:
    """One concrete tip from the month's own hours: the night base load when it is high,
    else shifting to off-peak hours for an off-peak tariff, else the costliest hour."""
    # (local hour, Wh, hours) of the fully measured hours
    measured = [(b.start_local.hour, b.energy_wh, b.hours) for b in hours
                if b.energy_wh is not None and b.complete]
    if len(measured) < 24:
        return None
    # Night base load: the 10th percentile of the hourly power (what never switches off).
    watts = sorted(wh / h for _hour, wh, h in measured)
    standby_w = watts[len(watts) // 10]
    if standby_w >= STANDBY_TIP_W:
        kwh_year = standby_w * 8760 / 1000
        return Tip("standby", standby_w=standby_w, standby_kwh_per_year=kwh_year,
                   standby_eur_per_year=None if price is None else kwh_year * price.peak_eur_per_kwh)
    total = sum(wh for _hour, wh, _h in measured)
    if hh.tariff_option == "hphc" and total > 0:
        off = sum(wh for hour, wh, _h in measured if is_offpeak(hour, hh.offpeak_start_h, hh.offpeak_end_h))
        if off / total < OFFPEAK_TIP_SHARE:
            return Tip("offpeak", offpeak_pct=100 * off / total)
    by_hour: dict[int, list[float]] = {}
    for hour, wh, _h in measured:
        by_hour.setdefault(hour, []).append(wh)
    peak, values = max(by_hour.items(), key=lambda kv: statistics.fmean(kv[1]))
    return Tip("peak_hour", peak_hour=peak, peak_hour_kwh_per_day=statistics.fmean(values) / 1000)


class HoursOnce:
    """The store, with its hourly() answers kept: the month's figures (energy, euros,
    savings, comparison) each read the same hours through the domain functions."""

    def __init__(self, store: ReadingStore):
        self._store = store
        self._hours: dict[tuple, list[HourEnergy]] = {}

    def hourly(self, meter_id: str, start_s: float, end_s: float,
               channel: int | None = None) -> list[HourEnergy]:
        key = (meter_id, start_s, end_s, channel)
        if key not in self._hours:
            self._hours[key] = self._store.hourly(meter_id, start_s, end_s, channel)
        return self._hours[key]

    def __getattr__(self, name: str):
        return getattr(self._store, name)


@dataclass
class MonthSummary:
    household_id: int
    name: str
    month: date  # first day
    end: date  # last day
    kwh: float | None
    measured_days: int
    days: int
    eur: float | None
    unpriced_days: int
    # the point of comparison: "last_year" (the same month a year before), "baseline", or None
    reference: str | None
    reference_kwh: float | None  # last year's month, or what the baseline rate expects
    reference_pct: float | None  # + uses more, - uses less than the reference
    comparison: Comparison
    tip: Tip | None


def month_summary(db: Session, store: ReadingStore, hh: Household, month: str | date,
                  settings: ApiSettings, peer_means: dict | None = None) -> MonthSummary:
    """The month of `hh` (a "YYYY-MM" text or its first day). `peer_means` is compare()'s
    cache, shared across a deployment's households so a batch reads each one once."""
    first, last = parse_month(month) if isinstance(month, str) else parse_month(month.strftime("%Y-%m"))
    store = HoursOnce(store)  # the month's hours are asked for by each figure: read them once
    hours, total = household_buckets(store, hh, first, last, "hour")
    days = days_of_hours(hours, hh, first, last)
    prices = {d.day: price_on(hh.deployment.tariffs, hh.tariff_option, d.day) for d in days}
    eur, unpriced = month_cost_eur(days, prices)
    kwh = None if total.energy_wh is None else total.energy_wh / 1000
    reference = reference_kwh = reference_pct = None
    ly_first = first.replace(year=first.year - 1)
    ly_last = ly_first.replace(day=calendar.monthrange(ly_first.year, ly_first.month)[1])
    _ly_buckets, ly = household_buckets(store, hh, ly_first, ly_last, "day")
    if ly.energy_wh is not None and ly.covered_h >= MIN_LAST_YEAR_SHARE * ly.hours and kwh is not None:
        reference, reference_kwh = "last_year", ly.energy_wh / 1000
        reference_pct = 100 * (kwh / reference_kwh - 1) if reference_kwh > 0 else None
    elif hh.baseline_start and hh.baseline_end and last > hh.baseline_end:
        s = household_savings(db, store, hh, max(first, hh.baseline_end + timedelta(days=1)), last, settings)
        if s.status == "ok" and s.expected_kwh:
            reference, reference_kwh = "baseline", s.expected_kwh
            reference_pct = -s.saved_pct if s.saved_pct is not None else None
    return MonthSummary(
        household_id=hh.id, name=hh.name, month=first, end=last, kwh=kwh,
        measured_days=sum(1 for d in days if d.energy_kwh is not None), days=len(days),
        eur=eur, unpriced_days=unpriced, reference=reference, reference_kwh=reference_kwh,
        reference_pct=reference_pct, comparison=compare(db, store, hh, first, last, peer_means),
        tip=pick_tip(hours, hh, prices.get(last) or next((p for p in prices.values() if p), None)))
