"""The savings formula, in one place (pure functions, no I/O).

Savings for a period = what the household would have used at its baseline rate - what it
used (IPMVP option C, simplest honest form):
- baseline rate = mean kWh per complete day over the baseline period (per hour, in fact:
  a 23-hour DST day is expected to use 23/24 of a normal day);
- with a daily outdoor temperature, the rate is instead a line fitted over the baseline
  days, kWh = a + b x HDD (heating degree-days, base 18 C), used when it explains the
  baseline (enough days, b > 0);
- only days whose every hour was measured count, on both sides;
- euros: the expected kWh are priced at the baseline's share of off-peak hours, the
  actual kWh at their real peak/off-peak split, with the tariff valid on each day;
- kg CO2 = saved kWh x the deployment's factor (g/kWh, with its source).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

MIN_BASELINE_DAYS = 7
MIN_DD_DAYS = 14  # fewer baseline days with a temperature: no degree-day fit


@dataclass(frozen=True, slots=True)
class DayUse:
    day: date
    energy_kwh: float | None
    complete: bool
    offpeak_kwh: float = 0.0
    hours: float = 24.0  # 23 or 25 on DST days


@dataclass(frozen=True, slots=True)
class DayPrice:
    peak_eur_per_kwh: float
    offpeak_eur_per_kwh: float  # equal to peak for the base option


def hdd(mean_temp_c: float, base_c: float = 18.0) -> float:
    return max(0.0, base_c - mean_temp_c)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares y = a + b x; returns (a, b, r2) or None when x does not vary."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    syy = sum((y - my) ** 2 for y in ys)
    r2 = 1.0 - sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / syy if syy > 0 else 1.0
    return a, b, r2


@dataclass
class Savings:
    status: str  # ok | no_baseline | baseline_too_short | no_period_data
    method: str = "mean"  # mean | degree_days
    baseline_days: int = 0
    baseline_kwh_per_day: float | None = None
    baseline_offpeak_share: float | None = None
    dd_intercept_kwh: float | None = None
    dd_slope_kwh_per_hdd: float | None = None
    dd_r2: float | None = None
    period_days: int = 0
    skipped_days: int = 0
    expected_kwh: float | None = None
    actual_kwh: float | None = None
    saved_kwh: float | None = None
    saved_pct: float | None = None
    priced_days: int = 0
    expected_eur: float | None = None
    actual_eur: float | None = None
    saved_eur: float | None = None
    co2_g_per_kwh: float | None = None
    saved_kg_co2: float | None = None
    days: list[dict] = field(default_factory=list)


def compute_savings(baseline: Sequence[DayUse], period: Sequence[DayUse],
                    prices: Mapping[date, DayPrice | None], co2_g_per_kwh: float,
                    temps_c: Mapping[date, float] | None = None,
                    hdd_base_c: float = 18.0) -> Savings:
    base = [d for d in baseline if d.complete and d.energy_kwh is not None]
    if not baseline:
        return Savings(status="no_baseline")
    if len(base) < MIN_BASELINE_DAYS:
        return Savings(status="baseline_too_short", baseline_days=len(base))
    base_kwh = sum(d.energy_kwh or 0.0 for d in base)  # None filtered out above
    mean = base_kwh / sum(d.hours for d in base) * 24.0
    share = sum(d.offpeak_kwh for d in base) / base_kwh if base_kwh > 0 else 0.0
    out = Savings(status="ok", baseline_days=len(base), baseline_kwh_per_day=mean,
                  baseline_offpeak_share=share, co2_g_per_kwh=co2_g_per_kwh)

    # 1. Choose the model: degree-days when temperatures explain the baseline.
    fit = None
    if temps_c:
        pts = [(hdd(temps_c[d.day], hdd_base_c), (d.energy_kwh or 0.0) * 24.0 / d.hours)
               for d in base if d.day in temps_c]
        if len(pts) >= MIN_DD_DAYS:
            fit = fit_line([p[0] for p in pts], [p[1] for p in pts])
            if fit is not None and fit[1] <= 0:
                fit = None  # colder days do not cost more: the plain mean is more honest
    if fit is not None:
        out.method = "degree_days"
        out.dd_intercept_kwh, out.dd_slope_kwh_per_hdd, out.dd_r2 = fit

    # 2. Expected and actual, day by day, on complete days only.
    expected = actual = 0.0
    exp_eur = act_eur = 0.0
    used = priced = 0
    for d in period:
        if not d.complete or d.energy_kwh is None:
            out.skipped_days += 1
            continue
        if fit is not None and temps_c is not None:
            if d.day not in temps_c:
                out.skipped_days += 1
                continue
            exp_d = max(0.0, fit[0] + fit[1] * hdd(temps_c[d.day], hdd_base_c))
        else:
            exp_d = mean
        exp_d *= d.hours / 24.0
        used += 1
        expected += exp_d
        actual += d.energy_kwh
        price = prices.get(d.day)
        day = {"day": d.day.isoformat(), "expected_kwh": exp_d, "actual_kwh": d.energy_kwh,
               "saved_eur": None}
        if price is not None:
            priced += 1
            e = exp_d * (share * price.offpeak_eur_per_kwh + (1 - share) * price.peak_eur_per_kwh)
            a = ((d.energy_kwh - d.offpeak_kwh) * price.peak_eur_per_kwh
                 + d.offpeak_kwh * price.offpeak_eur_per_kwh)
            exp_eur += e
            act_eur += a
            day["saved_eur"] = e - a
        out.days.append(day)
    if used == 0:
        out.status = "no_period_data"
        return out
    out.period_days, out.priced_days = used, priced
    out.expected_kwh, out.actual_kwh = expected, actual
    out.saved_kwh = expected - actual
    out.saved_pct = 100.0 * out.saved_kwh / expected if expected > 0 else None
    if priced:
        out.expected_eur, out.actual_eur, out.saved_eur = exp_eur, act_eur, exp_eur - act_eur
    out.saved_kg_co2 = out.saved_kwh * co2_g_per_kwh / 1000.0
    return out
