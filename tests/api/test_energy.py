"""Local-time bucketing of stored UTC hours (pure functions, no store)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from citizenwatt.api.energy import bucket_bounds, bucketize, totals
from citizenwatt.store.port import HourEnergy

PARIS = ZoneInfo("Europe/Paris")


def hours_between(b0: int, b1: int, wh: float = 100.0) -> list[HourEnergy]:
    return [HourEnergy(h, wh, 1) for h in range(b0, b1, 3600)]


def test_dst_days_have_23_and_25_hours():
    for day, n in ((date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)):
        bounds = bucket_bounds(day, day, PARIS, "hour")
        assert len(bounds) - 1 == n
        (b,) = bucketize(hours_between(bounds[0], bounds[-1]), bucket_bounds(day, day, PARIS, "day"), PARIS)
        assert b.hours == n
        assert b.energy_wh == n * 100.0
        assert b.complete


def test_autumn_day_labels_repeat_two_oclock_with_both_offsets():
    bounds = bucket_bounds(date(2026, 10, 25), date(2026, 10, 25), PARIS, "hour")
    buckets = bucketize([], bounds, PARIS)
    labels = [b.start_local.isoformat() for b in buckets]
    assert "2026-10-25T02:00:00+02:00" in labels and "2026-10-25T02:00:00+01:00" in labels
    assert all(b.energy_wh is None for b in buckets)


def test_gaps_are_none_and_partial_buckets_report_coverage():
    day = date(2026, 6, 1)
    bounds = bucket_bounds(day, day, PARIS, "hour")
    data = [
        h for h in hours_between(bounds[0], bounds[-1]) if not 10 * 3600 <= h.hour_utc - bounds[0] < 13 * 3600
    ]
    hourly = bucketize(data, bounds, PARIS)
    assert [b.energy_wh for b in hourly][9:14] == [100.0, None, None, None, 100.0]
    (d,) = bucketize(data, bucket_bounds(day, day, PARIS, "day"), PARIS)
    assert d.energy_wh == 2100.0 and d.covered_h == 21 and not d.complete
    t = totals(hourly)
    assert t.gap_buckets == 3 and t.energy_wh == 2100.0


def test_zero_is_a_value_not_a_gap():
    day = date(2026, 6, 1)
    bounds = bucket_bounds(day, day, PARIS, "hour")
    (b0, *_rest) = bucketize([HourEnergy(bounds[0], 0.0, 3)], bounds, PARIS)
    assert b0.energy_wh == 0.0
    assert _rest[0].energy_wh is None


def test_weeks_and_months_snap_to_whole_periods_and_conserve_energy():
    tz = PARIS
    bounds = bucket_bounds(date(2026, 3, 4), date(2026, 3, 10), tz, "week")
    assert [b.start_local.date().isoformat() for b in bucketize([], bounds, tz)] == [
        "2026-03-02",
        "2026-03-09",
    ]
    months = bucket_bounds(date(2026, 2, 10), date(2026, 4, 2), tz, "month")
    data = hours_between(months[0], months[-1], 1.0)
    got = bucketize(data, months, tz)
    # February 672 h, March 743 h (spring DST), April 720 h.
    assert [b.energy_wh for b in got] == [672.0, 743.0, 720.0]
    assert sum(b.energy_wh for b in got) == len(data)


def test_half_hour_offset_zone_splits_hours_in_proportion():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: each UTC hour straddles two local hours
    day = date(2026, 6, 1)
    bounds = bucket_bounds(day, day, kolkata, "day")
    data = hours_between(bounds[0] - 1800, bounds[-1] + 1800)
    (d,) = bucketize(data, bounds, kolkata)
    assert abs(d.energy_wh - 2400.0) < 1e-9 and abs(d.covered_h - 24) < 1e-9
