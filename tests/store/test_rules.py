"""The counting rules (store/rules.py) on their own: pure functions, values worked by hand.
Every backend applies them; test_conformance.py checks that each does."""

from __future__ import annotations

import dataclasses

import pytest

from citizenwatt.store.port import ChannelReading
from citizenwatt.store.rules import (
    Link,
    delta_start,
    energy_delta_wh,
    hour_changes,
    insert_reading,
    link,
    reading_hour,
    same_reading,
    spread_over_hours,
)
from tests.store.helpers import H10, series


def at(seq: int, ts: float, energy_wh: float, power_w: float = 600.0,
       boot: int = 1) -> ChannelReading:
    return ChannelReading("m-1", 0, boot, seq, ts, True, 60.0, energy_wh, power_w,
                          power_w / 230, True)


def test_delta_rule():
    a, b = series(2)
    assert energy_delta_wh(None, a) == pytest.approx(a.energy_wh)
    assert energy_delta_wh(a, b) == pytest.approx(b.energy_wh - a.energy_wh)
    assert energy_delta_wh(b, a) == pytest.approx(a.interval_energy_wh)


def test_a_first_or_reset_reading_counts_its_own_interval_at_most_its_counter():
    fresh = at(0, H10 + 60, 3.0)  # 600 W for 60 s is 10 Wh, but the counter says 3
    assert energy_delta_wh(None, fresh) == 3.0
    assert delta_start(None, fresh) == H10  # its own interval
    before = at(9, H10, 500.0)
    reset = at(0, H10 + 60, 400.0, boot=2)  # an older checkpoint: the counter went down
    assert energy_delta_wh(before, reset) == 10.0
    assert delta_start(before, reset) == H10
    later = at(1, H10 + 600, 402.0, boot=2)  # then the counter is followed again
    assert energy_delta_wh(reset, later) == 2.0 and delta_start(reset, later) == H10 + 60


def test_reading_hour_is_the_hour_of_the_last_instant():
    assert reading_hour(H10 + 3600) == H10  # ends at 11:00:00: measured 10:59:xx
    assert reading_hour(H10 + 3600.001) == H10 + 3600
    assert reading_hour(H10 + 1800) == H10
    assert reading_hour(H10 + 1e-3) == H10
    assert reading_hour(H10) == H10 - 3600


def test_spread_over_hours_stops_at_the_boundary():
    assert list(spread_over_hours(H10, H10 + 3600, 60.0)) == [(H10, 60.0)]
    assert list(spread_over_hours(H10 + 1800, H10 + 7200, 90.0)) == \
        [(H10, 30.0), (H10 + 3600, 60.0)]
    # a degenerate span (no length) lands in the hour of its end, the same rule
    assert list(spread_over_hours(H10 + 3600, H10 + 3600, 5.0)) == [(H10, 5.0)]


def test_same_reading_tells_a_redelivery_from_a_reflashed_meter():
    r = at(3, H10 + 180, 30.0)
    assert same_reading(r, r)
    # stamped by the collector on arrival: another time, still the same reading
    stamped = dataclasses.replace(r, ts_from_meter=False)
    assert same_reading(stamped, dataclasses.replace(stamped, ts_utc=r.ts_utc + 40))
    assert not same_reading(r, dataclasses.replace(r, energy_wh=0.2))  # counter from 0
    assert not same_reading(r, dataclasses.replace(r, ts_utc=r.ts_utc + 5))


def test_hour_changes_spread_the_link_and_count_the_reading_once():
    r = at(1, H10 + 3600 + 900, 40.0)  # ends at 11:15
    lnk = Link(30.0, H10 + 2700)  # 30 Wh since 10:45: 15 min in each hour
    assert hour_changes(r, lnk) == [(H10, 15.0, 0), (H10 + 3600, 15.0, 0), (H10 + 3600, 0.0, 1)]
    assert hour_changes(r, lnk, 0) == [(H10, 15.0, 0), (H10 + 3600, 15.0, 0)]


def test_insert_reading_rechains_the_next_one():
    r0, r1, r2 = at(0, H10 + 60, 10.0), at(1, H10 + 1860, 40.0), at(2, H10 + 4200, 70.0)
    # in order: each reading links to the one before it
    newest = insert_reading(r0, r1)
    assert newest.link == Link(30.0, H10 + 60) and newest.next_link is None
    # r1 late, after r2 was linked to r0 (60 Wh over 10:01 -> 11:10)
    old = link(r0, r2)
    assert old == Link(60.0, H10 + 60)
    late = insert_reading(r0, r1, r2, old)
    assert late.link == Link(30.0, H10 + 60)
    assert late.next_link == Link(30.0, H10 + 1860)
    net: dict[int, list] = {}
    for hour, wh, n in late.hours:
        h = net.setdefault(hour, [0.0, 0])
        h[0] += wh
        h[1] += n
    # one more reading, in 10:00; the counters fix the total, so only where it lies moves:
    # r2's 60 Wh over 4140 s (600 s after 11:00) become r1's 30 Wh in 10:00 and r2's
    # 30 Wh over 2340 s (the same 600 s after 11:00)
    assert net[H10][1] == 1 and net[H10 + 3600][1] == 0
    assert net[H10][0] + net[H10 + 3600][0] == pytest.approx(0.0, abs=1e-12)
    assert net[H10 + 3600][0] == pytest.approx(30.0 * 600 / 2340 - 60.0 * 600 / 4140)
    with pytest.raises(ValueError):
        insert_reading(r0, r1, r2)  # the next reading's stored link is needed
