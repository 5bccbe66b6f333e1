"""The store's defences as pure rules: a long gap is recorded as a gap (bounded hours per
reading), and a (boot, seq) far ahead of a meter's known key is not plausible."""

from __future__ import annotations

import pytest

from citizenwatt.store.port import HOUR_S, ChannelReading
from citizenwatt.store.rules import (
    BOOT_SLACK,
    MAX_GAP_S,
    MIN_BOOT_S,
    MIN_INTERVAL_S,
    SEQ_SLACK,
    insert_reading,
    key_is_plausible,
    link,
)

T2020 = 1577836800.0 + 3600
NOW = 1795000000.0


def reading(seq: int, ts: float, energy_wh: float, power_w: float = 600.0,
            interval_s: float = 10.0) -> ChannelReading:
    return ChannelReading("m-1", 0, 1, seq, ts, True, interval_s, energy_wh, power_w,
                          power_w / 230, False)


def test_a_gap_longer_than_the_bound_counts_only_the_readings_own_interval():
    prev = reading(0, T2020, 100.0)
    cur = reading(1, NOW, 5000.0, power_w=720.0)
    lnk = link(prev, cur)
    assert lnk.start_s == cur.ts_utc - cur.interval_s
    assert lnk.energy_wh == pytest.approx(720.0 * 10 / 3600)
    ins = insert_reading(prev, cur)
    hours = {h for h, _wh, _n in ins.hours}
    assert len(hours) <= 2  # its own 10 s, not one row per hour since 2020
    assert len(ins.hours) <= 3


def test_a_gap_within_the_bound_is_still_spread_hour_by_hour():
    prev = reading(0, NOW - MAX_GAP_S + 1, 100.0)
    cur = reading(1, NOW, 148.0)
    lnk = link(prev, cur)
    assert lnk.start_s == prev.ts_utc and lnk.energy_wh == pytest.approx(48.0)
    ins = insert_reading(prev, cur)
    spread = [wh for _h, wh, _n in ins.hours]
    assert len({h for h, _wh, _n in ins.hours}) >= 48
    assert sum(spread) == pytest.approx(48.0)


def test_the_bound_is_a_parameter_and_a_late_reading_rechains_by_the_same_rule():
    a, b, c = reading(0, NOW - 10 * HOUR_S, 0.0), reading(1, NOW - 5 * HOUR_S, 5.0), \
        reading(2, NOW, 10.0)
    # with a 6 h bound a -> c is a gap, a -> b and b -> c are not
    assert link(a, c, 6 * HOUR_S).start_s == c.ts_utc - c.interval_s
    late = insert_reading(a, b, c, link(a, c, 6 * HOUR_S), 6 * HOUR_S)
    assert late.link.start_s == a.ts_utc and late.next_link.start_s == b.ts_utc
    total = sum(wh for _h, wh, _n in late.hours) + link(a, c, 6 * HOUR_S).energy_wh
    assert total == pytest.approx(10.0)  # the same as a, b, c counted in order


@pytest.mark.parametrize("known, key, elapsed_s, plausible", [
    (None, (2 ** 53 - 1, 0), 0.0, True),  # nothing known: nothing to compare with
    ((3, 500), (3, 499), 0.0, True),  # late
    ((3, 500), (2, 10 ** 9), 0.0, True),  # an earlier boot: late
    ((3, 500), (3, 500 + SEQ_SLACK), 0.0, True),
    ((3, 500), (3, 501 + SEQ_SLACK), 0.0, False),
    ((3, 500), (3, 500 + SEQ_SLACK + 86400), 86400 * MIN_INTERVAL_S, True),  # a day offline
    ((3, 500), (4, 0), 0.0, True),  # a reboot
    ((3, 500), (3 + BOOT_SLACK, 0), 0.0, True),
    ((3, 500), (4 + BOOT_SLACK, 0), 0.0, False),
    ((3, 500), (4 + BOOT_SLACK, 0), MIN_BOOT_S, True),
    ((3, 500), (4, SEQ_SLACK + 1), 0.0, False),  # a new boot counts seq from 0
    ((3, 500), (2 ** 53 - 1, 0), 10 * 365 * 86400.0, False),
    ((3, 500), (3, 501 + SEQ_SLACK), -50.0, False),  # a clock going back gives no credit
])
def test_key_plausibility(known, key, elapsed_s, plausible):
    assert key_is_plausible(known, key, elapsed_s) is plausible
