"""The savings formula (pure functions): mean baseline, DST days, degree-days, tariffs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from citizenwatt.api.savings import DayPrice, DayUse, compute_savings, fit_line, hdd

D0 = date(2026, 1, 1)


def days(n, kwh, start=D0, offpeak_share=0.0, complete=True):
    out = []
    for i in range(n):
        e = kwh(i) if callable(kwh) else kwh
        out.append(DayUse(start + timedelta(days=i), e, complete, e * offpeak_share))
    return out


def test_mean_baseline_times_days_minus_actual():
    s = compute_savings(days(10, 10.0), days(5, 8.0, D0 + timedelta(days=30)), {}, 50.0)
    assert s.status == "ok" and s.method == "mean"
    assert s.expected_kwh == pytest.approx(50.0) and s.actual_kwh == pytest.approx(40.0)
    assert s.saved_kwh == pytest.approx(10.0) and s.saved_pct == pytest.approx(20.0)
    assert s.saved_kg_co2 == pytest.approx(0.5) and s.saved_eur is None and s.priced_days == 0


def test_incomplete_days_are_left_out_on_both_sides():
    base = days(10, 10.0) + [DayUse(D0 + timedelta(days=10), 2.0, False)]
    period = days(4, 9.0, D0 + timedelta(days=30)) + [DayUse(D0 + timedelta(days=40), None, False)]
    s = compute_savings(base, period, {}, 0.0)
    assert s.baseline_days == 10 and s.baseline_kwh_per_day == pytest.approx(10.0)
    assert s.period_days == 4 and s.skipped_days == 1 and s.saved_kwh == pytest.approx(4.0)


def test_short_or_missing_baseline():
    assert compute_savings([], days(3, 1.0), {}, 0).status == "no_baseline"
    s = compute_savings(days(6, 1.0), days(3, 1.0), {}, 0)
    assert s.status == "baseline_too_short" and s.baseline_days == 6
    assert compute_savings(days(7, 1.0), [], {}, 0).status == "no_period_data"


def test_dst_day_expects_its_own_number_of_hours():
    period = [DayUse(date(2026, 3, 29), 9.2, True, 0.0, hours=23),
              DayUse(date(2026, 10, 25), 10.0, True, 0.0, hours=25)]
    s = compute_savings(days(7, 9.6), period, {}, 0)
    assert s.expected_kwh == pytest.approx(9.6 * 23 / 24 + 9.6 * 25 / 24)
    assert s.saved_kwh == pytest.approx(0.0, abs=1e-9)  # 0.4 kWh an hour, as in the baseline


def test_prices_per_day_and_offpeak_shift():
    base = days(7, 10.0, offpeak_share=0.25)
    period = days(2, 10.0, D0 + timedelta(days=30), offpeak_share=0.5)
    price = DayPrice(0.20, 0.10)
    prices = {period[0].day: price}  # the second day has no known price
    s = compute_savings(base, period, prices, 0)
    # Same kWh, but half off-peak instead of a quarter on the priced day: 10 x 0.25 x 0.10.
    assert s.saved_kwh == pytest.approx(0.0) and s.priced_days == 1
    assert s.saved_eur == pytest.approx(10 * (0.75 * 0.2 + 0.25 * 0.1) - (5 * 0.2 + 5 * 0.1))
    assert s.saved_eur == pytest.approx(0.25)


def test_degree_days_model_when_temperature_explains_use():
    # Baseline: kWh = 5 + 0.5 x HDD over 20 days of varying temperature.
    temps = {D0 + timedelta(days=i): 18.0 - (i % 10) for i in range(60)}
    base = days(20, lambda i: 5 + 0.5 * hdd(temps[D0 + timedelta(days=i)]))
    # Period: colder (HDD 12), using 9 kWh; the model expects 5 + 6 = 11.
    pstart = D0 + timedelta(days=40)
    for i in range(5):
        temps[pstart + timedelta(days=i)] = 6.0
    period = days(5, 9.0, pstart)
    s = compute_savings(base, period, {}, 60.0, temps)
    assert s.method == "degree_days"
    assert s.dd_intercept_kwh == pytest.approx(5.0) and s.dd_slope_kwh_per_hdd == pytest.approx(0.5)
    assert s.dd_r2 == pytest.approx(1.0)
    assert s.expected_kwh == pytest.approx(55.0) and s.saved_kwh == pytest.approx(10.0)
    # Without the temperatures the plain mean (7.25 kWh) would call it a loss.
    assert compute_savings(base, period, {}, 60.0).saved_kwh == pytest.approx(5 * 7.25 - 45.0)


def test_fit_line_needs_varying_x():
    assert fit_line([1, 1, 1], [1, 2, 3]) is None
    a, b, r2 = fit_line([0, 1, 2], [1, 3, 5])
    assert (a, b, r2) == (pytest.approx(1), pytest.approx(2), pytest.approx(1))
