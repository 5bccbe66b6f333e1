"""The collector's defences alone (collector/guard.py), with time pinned through the
arguments: suspect keys held and promoted, per-meter quotas, rejections rate-limited."""

from __future__ import annotations

import logging

from citizenwatt.collector.guard import (
    CONFIRM_READINGS,
    CONFIRM_S,
    HELD_PER_METER,
    KeyGuard,
    Quota,
    RejectLog,
)
from citizenwatt.store.port import ChannelReading

T0 = 1795000000.0
FORGED_BOOT = 2 ** 53 - 1


def rows(boot: int, seq: int) -> list[ChannelReading]:
    return [ChannelReading("m-1", 0, boot, seq, T0, True, 10.0, seq * 1.0, 500.0, 2.2, False)]


def guard(known=None) -> tuple[KeyGuard, list[str]]:
    asked: list[str] = []

    def known_key(meter):
        asked.append(meter)
        return known

    return KeyGuard(known_key), asked


def test_the_known_key_is_read_once_per_meter_and_follows_trusted_readings():
    g, asked = guard(((1, 10), T0 - 100))
    assert g.verdict("m-1", (1, 11), rows(1, 11), T0) == (True, rows(1, 11))
    assert g.verdict("m-1", (1, 12), rows(1, 12), T0 + 10) == (True, rows(1, 12))
    assert asked == ["m-1"]
    # a key far ahead is suspect: kept by the caller as a dead letter, nothing stored
    assert g.verdict("m-1", (FORGED_BOOT, 0), rows(FORGED_BOOT, 0), T0 + 11) == (False, [])
    # the genuine continuation is trusted, and the next jump is measured from it
    assert g.verdict("m-1", (1, 13), rows(1, 13), T0 + 20)[0] is True
    assert g.verdict("m-1", (1, 13 + 1001), rows(1, 1014), T0 + 20)[0] is False


def test_a_suspect_chain_is_promoted_only_when_the_meter_confirms_it_over_time():
    g, _ = guard(((1, 10), T0))
    jump = 5000
    # forged keys published at once, however many and consecutive: never promoted
    for i in range(20):
        assert g.verdict("m-1", (1, jump + i), rows(1, jump + i), T0 + 1) == (False, [])
    # a genuine reading in between: what was held stays suspect
    assert g.verdict("m-1", (1, 11), rows(1, 11), T0 + 2)[0] is True
    # a meter that really jumped and goes on from there, reading after reading
    got = []
    t = T0 + 3
    step_s = CONFIRM_S / (CONFIRM_READINGS - 1)
    for i in range(CONFIRM_READINGS):
        trusted, out = g.verdict("m-1", (1, 2 * jump + i), rows(1, 2 * jump + i), t)
        assert trusted is False
        got.append(out)
        t += step_s
    assert got[:-1] == [[]] * (CONFIRM_READINGS - 1)
    assert [r.seq for r in got[-1]] == [2 * jump + i for i in range(CONFIRM_READINGS)]
    # from then on that line is trusted, and the old one is late (stored, not newest)
    assert g.verdict("m-1", (1, 2 * jump + 3), rows(1, 2 * jump + 3), t)[0] is True
    assert g.verdict("m-1", (1, 12), rows(1, 12), t)[0] is True


def test_a_chain_too_quick_to_be_a_meter_is_not_promoted():
    g, _ = guard(((1, 10), T0))
    outs = [g.verdict("m-1", (1, 9000 + i), rows(1, 9000 + i), T0 + i * 0.1)[1]
            for i in range(HELD_PER_METER)]
    assert outs == [[]] * HELD_PER_METER


def test_suspects_held_per_meter_are_bounded():
    g, _ = guard(((1, 10), T0))
    for i in range(HELD_PER_METER * 3):
        g.verdict("m-1", (1, 10 ** 6 + 2 * i), rows(1, 10 ** 6 + 2 * i), T0)
    assert len(g._held["m-1"].readings) == HELD_PER_METER


def test_quota_drops_one_meters_excess_and_refills_with_time():
    q = Quota(burst=5, per_minute=60)
    assert [q.admit("noisy", T0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert q.admit("quiet", T0) is True  # another meter is not affected
    assert q.admit("noisy", T0 + 0.5) is False
    assert q.admit("noisy", T0 + 2.0) is True  # one token per second
    assert [q.admit("noisy", T0 + 1000) for _ in range(6)] == [True] * 5 + [False]


def test_rejections_log_once_per_reason_per_interval_and_keep_bounded_dead_letters(caplog):
    caplog.set_level(logging.WARNING, logger="citizenwatt.collector")
    rl = RejectLog(interval_s=60.0, kept_per_minute=3)
    kept = [rl.reject("not_json", "cw/j/reading", f"junk {i}", T0 + i * 0.001)
            for i in range(1000)]
    assert kept == [True] * 3 + [False] * 997
    assert rl.unkept["not_json"] == 997
    # key conflicts and suspect keys hold readings: always kept
    assert all(rl.reject("key_conflict", "cw/j/reading", "x", T0 + 1) for _ in range(10))
    assert rl.reject("not_json", "cw/other/reading", "junk", T0 + 2) is True  # its own quota
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # one per reason so far
    rl.flush(T0 + 61)
    lines = [r.getMessage() for r in caplog.records]
    summaries = [line for line in lines if "de plus" in line or "more" in line]
    assert len(summaries) == 2
    assert any(line.startswith("1000 ") and "(not_json)" in line for line in summaries)
    assert any(line.startswith("9 ") and "(key_conflict)" in line for line in summaries)
    # a new interval: the first rejection is logged at once again
    rl.reject("not_json", "cw/j/reading", "again", T0 + 62)
    assert "again" in caplog.records[-1].getMessage()
