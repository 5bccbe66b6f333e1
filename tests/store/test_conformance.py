"""The storage port's contract (store.port.ReadingStore), the same tests on every backend:
the embedded SQLite store and InfluxDB through the real engine (see conftest.py).

Covered: write (idempotent, duplicates, key conflicts, out-of-order and late arrivals,
counter resets, hour boundaries), latest, hourly, meters (the per-channel summary kept at
write time equals what the stored readings say), delete, set_status, reject, rejections.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from citizenwatt.store.port import HOUR_S, ChannelReading, DeadLetter, MeterSummary
from tests.store.helpers import (
    BOUNDARY_HOURS,
    H10,
    T0,
    Reference,
    assert_same_hours,
    feed,
    hours_of,
    in_order_hours,
    minutes,
    random_rows,
    rounded_hours,
    series,
    total,
    write_boundary_readings,
)

HOUR = HOUR_S


# -- write and hourly: the counting rules, whatever the order of arrival -------------------

def test_in_order_hours_sum_to_the_counter(store):
    rows = series(1000)
    for i in range(0, len(rows), 37):
        store.write(rows[i:i + 37], T0)
    assert total(store) == pytest.approx(rows[-1].energy_wh, rel=1e-9)
    hours = store.hourly("m-1", 0, 4e9)
    assert len(hours) >= 3 and sum(h.readings for h in hours) == 1000
    # each hour holds the energy consumed in it: check one whole hour directly
    h = hours[1]
    inside = [r for r in rows
              if h.hour_utc <= r.ts_utc - r.interval_s and r.ts_utc <= h.hour_utc + 3600]
    assert h.energy_wh == pytest.approx(sum(r.interval_energy_wh for r in inside), rel=0.02)


def test_shuffled_and_duplicated_arrivals_give_the_same_hours(backend):
    rows = series(600, seed=7)
    ordered = backend.new()
    ordered.write(rows, T0)
    shuffled = backend.new()
    mixed = rows + rows[::3]
    random.Random(3).shuffle(mixed)
    dup = 0
    for i in range(0, len(mixed), 25):
        dup += shuffled.write(mixed[i:i + 25], T0).duplicates
    assert dup == len(rows[::3])
    a = [(h.hour_utc, round(h.energy_wh, 6), h.readings) for h in ordered.hourly("m-1", 0, 4e9)]
    b = [(h.hour_utc, round(h.energy_wh, 6), h.readings) for h in shuffled.hourly("m-1", 0, 4e9)]
    assert a == b
    assert total(shuffled) == pytest.approx(rows[-1].energy_wh, rel=1e-9)


def test_same_reading_twice_in_one_batch_is_stored_once(store):
    rows = series(3)
    res = store.write(rows + rows[1:2], T0)
    assert (res.stored, res.duplicates) == (3, 1)
    assert total(store) == pytest.approx(rows[-1].energy_wh)


def test_counter_going_down_never_counts_negative(store):
    first = series(100)  # ends near some kWh
    # a power cut restored an older checkpoint: boot 2 starts below the last value
    rolled = series(50, boot=2, start_wh=first[-1].energy_wh - 20, t0=first[-1].ts_utc, seed=2)
    # then the meter was reflashed: counter from 0
    fresh = series(50, boot=3, start_wh=0.0, t0=rolled[-1].ts_utc, seed=3)
    store.write(first + rolled + fresh, T0)
    expected = (first[-1].energy_wh
                + rolled[0].interval_energy_wh + (rolled[-1].energy_wh - rolled[0].energy_wh)
                + fresh[-1].energy_wh)
    assert total(store) == pytest.approx(expected, rel=1e-9)
    assert all(h.energy_wh >= 0 for h in store.hourly("m-1", 0, 4e9))


def test_shuffled_duplicated_and_reset_readings_give_the_in_order_hours(store):
    first = series(400, seed=11)
    rolled = series(150, boot=2, start_wh=first[-1].energy_wh - 20, t0=first[-1].ts_utc, seed=12)
    fresh = series(150, boot=3, start_wh=0.0, t0=rolled[-1].ts_utc, seed=13)
    ch1 = series(700, channel=1, seed=14)
    other = series(300, meter="m-2", seed=15)
    rows = first + rolled + fresh + ch1 + other
    mixed = rows + rows[::4]  # a quarter delivered twice
    random.Random(5).shuffle(mixed)
    dups = 0
    for i in range(0, len(mixed), 50):
        dups += store.write(mixed[i:i + 50], T0).duplicates
    assert dups == len(rows[::4])

    for meter in ("m-1", "m-2"):
        assert_same_hours(hours_of(store, meter), in_order_hours(rows, meter))
    for ch in (0, 1):
        assert_same_hours(hours_of(store, channel=ch), in_order_hours(rows, channel=ch))
    # and the reset rules held: never negative, the resets counted once
    expected = (first[-1].energy_wh + rolled[0].interval_energy_wh
                + rolled[-1].energy_wh - rolled[0].energy_wh + fresh[-1].energy_wh
                + ch1[-1].energy_wh)
    assert total(store) == pytest.approx(expected, rel=1e-9)
    assert all(e >= 0 for _, e, _ in hours_of(store))
    assert [(r.channel, r.boot, r.seq) for r in store.latest("m-1")] == [(0, 3, 149), (1, 1, 699)]
    assert [(m.meter_id, m.channels, m.readings) for m in store.meters()] == \
        [("m-1", (0, 1), 1400), ("m-2", (0,), 300)]


def test_a_late_reading_rechains_the_one_after_it(store):
    """Readings 0 and 2 arrive, then 1 (late, across an hour boundary): 2's energy then runs
    from 1, not from 0, and the hours say so."""
    def reading(seq, ts, energy_wh):
        return ChannelReading("m-1", 0, 1, seq, ts, True, 60.0, energy_wh, 600.0, 2.6, True)

    r0 = reading(0, H10 + 60, 10.0)
    r1 = reading(1, H10 + HOUR + 1800, 40.0)  # after a gap that crosses 11:00
    r2 = reading(2, H10 + HOUR + 1860, 41.0)
    store.write([r0, r2], T0)
    first = min(10.0, r0.interval_energy_wh)  # no reading before: its own interval
    span = r2.ts_utc - r0.ts_utc  # 2 follows 0: 31 Wh spread over 0's end -> 2's end
    assert_same_hours(hours_of(store), [
        (H10, first + 31.0 * (H10 + HOUR - r0.ts_utc) / span, 1),
        (H10 + HOUR, 31.0 * (r2.ts_utc - H10 - HOUR) / span, 1)])

    assert store.write([r1], T0).stored == 1
    span = r1.ts_utc - r0.ts_utc  # 30 Wh from 0 to 1, then 1 Wh from 1 to 2
    assert_same_hours(hours_of(store), [
        (H10, first + 30.0 * (H10 + HOUR - r0.ts_utc) / span, 1),
        (H10 + HOUR, 30.0 * (r1.ts_utc - H10 - HOUR) / span + 1.0, 2)])
    assert total(store) == pytest.approx(first + 31.0)
    assert [(r.seq, r.energy_wh) for r in store.latest("m-1")] == [(2, 41.0)]


def test_a_reading_ending_on_the_hour_counts_in_the_hour_it_closes(store):
    """No row (0 Wh, 1 reading) for the next hour, so the API shows that hour as a gap."""
    write_boundary_readings(store)
    assert rounded_hours(store) == BOUNDARY_HOURS
    assert rounded_hours(store, "m-2") == [(H10 + 3600, 1200.0, 60)]


def test_channels_and_meters_are_kept_apart(store):
    c0, c1 = series(100, channel=0, seed=1), series(100, channel=1, seed=2)
    other = series(100, meter="m-2", seed=3)
    store.write(c0 + c1 + other, T0)
    assert sum(h.energy_wh for h in store.hourly("m-1", 0, 4e9, channel=1)) == \
        pytest.approx(c1[-1].energy_wh)
    assert total(store) == pytest.approx(c0[-1].energy_wh + c1[-1].energy_wh)
    assert total(store, "m-2") == pytest.approx(other[-1].energy_wh)
    assert [r.channel for r in store.latest("m-1")] == [0, 1]
    assert [m.meter_id for m in store.meters()] == ["m-1", "m-2"]


def test_hourly_keeps_start_excludes_end_and_sums_channels(store):
    c0 = minutes(H10, H10 + 3 * HOUR, power_w=600.0)  # 10:00 -> 13:00: 600 Wh an hour
    c1 = [dataclasses.replace(r, channel=1, energy_wh=r.energy_wh / 2, power_w=300.0)
          for r in c0]
    store.write(c0 + c1, H10)
    assert [(h.hour_utc, round(h.energy_wh, 9), h.readings)
            for h in store.hourly("m-1", H10 + HOUR, H10 + 2 * HOUR)] == [(H10 + HOUR, 900.0, 120)]
    assert [h.hour_utc for h in store.hourly("m-1", H10 + 1, H10 + 3 * HOUR)] == \
        [H10 + HOUR, H10 + 2 * HOUR]
    assert [round(h.energy_wh, 9) for h in store.hourly("m-1", 0, 4e9, channel=1)] == [300.0] * 3
    assert store.hourly("m-1", H10 + 3 * HOUR, 4e9) == []  # no data: absent, not 0
    assert store.hourly("nobody", 0, 4e9) == []


def test_store_tells_a_redelivery_from_a_conflict(store):
    """A meter reflashed from scratch counts boot and seq from 1 again: its readings reuse
    keys of readings already stored. Not redeliveries: reported as conflicts, not stored."""
    def row(seq, energy_wh, ts, from_meter=True):
        return ChannelReading("m-1", 0, 1, seq, ts, from_meter, 10.0, energy_wh, 360.0, 1.6,
                              True)

    first = [row(0, 100.0, T0 - 100), row(1, 101.0, T0 - 90)]
    assert store.write(first, T0).stored == 2
    # the same readings again (through the cache and through the table): duplicates
    res = store.write([row(1, 101.0, T0 - 90), row(0, 100.0, T0 - 100)], T0)
    assert (res.stored, res.duplicates, res.conflicts) == (0, 2, ())
    # a collector-stamped redelivery has another arrival time but is the same reading
    store.write([row(2, 102.0, T0 - 80, from_meter=False)], T0)
    assert store.write([row(2, 102.0, T0 - 5, from_meter=False)], T0).duplicates == 1
    # a reflashed meter: same keys, counter from 0, later timestamps
    again = [row(0, 0.1, T0 - 20), row(1, 0.2, T0 - 10)]
    res = store.write(again, T0)
    assert res.stored == 0 and res.duplicates == 0 and list(res.conflicts) == again
    # the stored history is untouched
    assert total(store) == pytest.approx(102.0 - 100.0 + min(100.0, 360.0 * 10 / 3600))
    assert [(r.seq, r.energy_wh) for r in store.latest("m-1")] == [(2, 102.0)]


# -- latest ----------------------------------------------------------------------------

def test_latest_is_each_channels_newest_reading_whole(store):
    ch0 = series(50, channel=0, seed=1)
    ch0 += series(5, boot=2, channel=0, t0=ch0[-1].ts_utc, seed=2)  # a reboot, clock on
    # channel 1 had a voltage sensor, unplugged for the last reading: vrms_v/pf absent
    ch1 = [dataclasses.replace(r, vrms_v=231.0 - r.seq / 10, pf=0.9, apparent=False)
           for r in series(30, channel=1, seed=3)]
    ch1[-1] = dataclasses.replace(ch1[-1], vrms_v=None, pf=None, apparent=True)
    store.write(ch1[::-1] + ch0, T0)  # channel 1 newest first: late arrivals
    assert store.latest("m-1") == [ch0[-1], ch1[-1]]
    assert store.latest("m-1")[1].vrms_v is None  # nothing left over from an older reading
    assert store.latest("nobody") == []


def test_readings_are_the_stored_ones_in_the_span_by_time_then_channel(store):
    ch0 = series(40, channel=0, seed=4)
    ch1 = [dataclasses.replace(r, vrms_v=230.5, pf=0.8, apparent=False)
           for r in series(40, channel=1, seed=5)]
    other = series(10, meter="m-2", seed=6)
    store.write(ch1[::-1] + ch0 + other, T0)
    start, end = ch0[9].ts_utc, ch0[30].ts_utc  # start included, end excluded
    got = store.readings("m-1", start, end)
    want = sorted((r for r in ch0 + ch1 if start <= r.ts_utc < end), key=lambda r: (r.ts_utc, r.channel))
    assert got == want and len(got) == 42
    assert store.readings("m-1", start, end, limit=5) == want[:5]
    assert store.readings("nobody", 0, 4e9) == []


# -- meters, status, dead letters ------------------------------------------------------

def test_an_empty_store_knows_nothing(store):
    assert store.meters() == [] and store.rejections() == {}
    assert store.latest("m-1") == [] and store.hourly("m-1", 0, 4e9) == []
    assert store.delete("m-1", 0, 4e9) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_meters_equal_the_stored_readings_after_random_arrivals_and_deletions(store, seed):
    """meters() comes from a summary kept at write time (not a scan of every reading): it
    must equal what the stored readings say, after shuffled, late and duplicated arrivals
    and deletions."""
    rnd = random.Random(seed)
    ref = Reference()
    feed(store, ref, rnd, random_rows(rnd))
    store.set_status("m-b", {"v": 1, "meter": "m-b", "state": "online"}, T0)
    ref.status["m-b"] = {"v": 1, "meter": "m-b", "state": "online"}
    assert store.meters() == ref.meters()

    # deletions: the middle of a meter, its start (first ts moves), then all of another
    a = [r.ts_utc for r, _ in ref.rows.values() if r.meter_id == "m-a"]
    lo, hi = min(a), max(a)
    for meter, s, e in (("m-a", lo + (hi - lo) / 3, lo + (hi - lo) / 2), ("m-a", 0, lo + 30),
                        ("m-c", 0, 2 ** 62)):
        assert store.delete(meter, s, e) == ref.delete(meter, s, e)
        assert store.meters() == ref.meters()
    assert "m-c" not in [m.meter_id for m in store.meters()]
    # and writing after a deletion goes on from the recounted summary
    more = series(30, meter="m-c", channel=4, seed=seed, t0=T0 + 90_000)
    store.write(more, T0 + 99_000)
    ref.write(more, T0 + 99_000)
    assert store.meters() == ref.meters()


def test_delete_erases_the_span_and_keeps_the_rest(store):
    rows = minutes(H10, H10 + 4 * HOUR, power_w=600.0)  # 10:00 -> 14:00
    other = minutes(H10, H10 + 4 * HOUR, power_w=300.0, meter="m-2")
    store.write(rows + other, H10)
    before = hours_of(store)
    start, end = H10 + HOUR, H10 + 3 * HOUR  # 11:00 <= ts < 13:00
    gone = [r for r in rows if start <= r.ts_utc < end]
    assert store.delete("m-1", start, end) == len(gone) == 120
    # the hours starting in the span are gone, the others kept as they were
    assert hours_of(store) == [h for h in before if not start <= h[0] < end]
    (m1, m2) = store.meters()
    assert m1.readings == len(rows) - len(gone) and m2.readings == len(other)
    assert [round(e, 9) for _, e, _ in hours_of(store, "m-2")] == [300.0] * 4
    assert store.latest("m-1") == [rows[-1]]
    assert store.delete("m-1", 0, 4e9) == len(rows) - len(gone)
    assert store.hourly("m-1", 0, 4e9) == [] and store.latest("m-1") == []
    assert [m.meter_id for m in store.meters()] == ["m-2"]


def test_status_and_dead_letters(store):
    store.write(series(3), T0)
    store.set_status("m-1", {"v": 1, "meter": "m-1", "state": "offline"}, T0)
    store.set_status("m-1", {"v": 1, "meter": "m-1", "state": "online", "fw": 'say "hi"'},
                     T0 + 5)
    store.reject("not_json", "cw/m-1/reading", b"{oops", "not json", T0)
    store.reject("not_json", "cw/m-2/reading", b"\xff", "not json", T0)
    store.reject("bad_type", "cw/m-1/reading", b"{}", "seq", T0)
    (m,) = store.meters()
    assert m.status == {"v": 1, "meter": "m-1", "state": "online", "fw": 'say "hi"'}
    assert m == MeterSummary("m-1", (0,), T0 + 10, T0 + 30, T0, 3, m.status)
    assert store.rejections() == {"bad_type": 1, "not_json": 2}


def test_statuses_and_dead_letters_go_with_the_readings_in_one_write(store):
    letters = [DeadLetter("not_json", "cw/m-1/reading", b"{oops %d" % i, "not json", T0)
               for i in range(3)]
    res = store.write(series(3), T0, statuses=[
        ("m-1", {"v": 1, "meter": "m-1", "state": "online", "rssi": -61}, T0)],
        dead_letters=letters)
    assert res.stored == 3
    (m,) = store.meters()
    assert m.status == {"v": 1, "meter": "m-1", "state": "online", "rssi": -61}
    assert store.rejections() == {"not_json": 3}
    # dead letters alone, without readings
    store.write([], T0 + 1, dead_letters=letters[:1])
    assert store.rejections() == {"not_json": 4}


def test_an_odd_stored_status_is_read_without_its_odd_fields(store):
    store.write(series(1), T0)
    deep: dict = {}
    cur = deep
    for _ in range(260):
        cur["x"] = {}
        cur = cur["x"]
    store.set_status("m-1", {"v": 1, "meter": "m-1", "state": "offline", "fw": "1.0",
                             "deep": deep, "list": [1, 2]}, T0)
    (m,) = store.meters()
    assert m.status == {"v": 1, "meter": "m-1", "state": "offline", "fw": "1.0"}


def test_a_reading_after_a_gap_longer_than_the_bound_writes_its_own_hours_only(store):
    start = 1577836800.0 + 10 * HOUR  # 2020
    first = ChannelReading("m-1", 0, 1, 0, start, True, 60.0, 5.0, 600.0, 2.6, False)
    jump = dataclasses.replace(first, seq=1, ts_utc=H10 + 30 * 60, energy_wh=90000.0)
    store.write([first], start)
    store.write([jump], H10 + 30 * 60)
    hours = store.hourly("m-1", 0, 4e9)
    assert [h.hour_utc for h in hours] == [int(start) - HOUR, H10]
    # the first: its own interval, at most its counter (5 Wh); the jump: its own minute
    # (600 W x 60 s = 10 Wh), not the 89,995 Wh its counter gained since 2020
    assert [h.energy_wh for h in hours] == pytest.approx([5.0, 10.0])
