"""A household's savings over a period: its days from the store, its tariffs and outdoor
temperatures from the database, put through the formula in savings.py."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.config import ApiSettings
from citizenwatt.store.port import ReadingStore

from .consumption import check_range
from .household_data import day_uses
from .models import DailyTemperature, Household
from .savings import Savings, compute_savings
from .tariffs import price_on


def household_savings(db: Session, store: ReadingStore, hh: Household, start: date, end: date,
                      settings: ApiSettings) -> Savings:
    """Savings of `hh` from `start` to `end` (local days, included) against its baseline."""
    check_range(start, end, "day", settings)
    dep = hh.deployment
    if hh.baseline_start and hh.baseline_end:
        check_range(hh.baseline_start, hh.baseline_end, "day", settings)
        baseline = day_uses(store, hh, hh.baseline_start, hh.baseline_end)
    else:
        baseline = []
    period = day_uses(store, hh, start, end)
    prices = {d.day: price_on(dep.tariffs, hh.tariff_option, d.day) for d in period}
    days = [d.day for d in baseline] + [d.day for d in period]
    temps = None
    if days:
        rows = db.scalars(select(DailyTemperature).where(
            DailyTemperature.deployment_id == dep.id, DailyTemperature.day >= min(days),
            DailyTemperature.day <= max(days))).all()
        temps = {r.day: r.mean_temp_c for r in rows} or None
    return compute_savings(baseline, period, prices, dep.co2_g_per_kwh, temps, dep.hdd_base_c)
