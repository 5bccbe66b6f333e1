"""Collectors across hosts (store.hours = "readings"), against a real influxd: two ledgers,
each given a random share of the same shuffled readings (some delivered to both, as a meter
repeating a publish may cause), write to one InfluxDB; a reader on a third host counts the
hours from the whole chain and finds those of one embedded store given everything.
With the ledgers' own hour totals (hours = "ledger") the same split is wrong: the reason
for the setting."""

from __future__ import annotations

import dataclasses
import random

import pytest

from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.rules import HOUR_S
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.whole_chain import chain_hours
from tests.store.helpers import H10, T0, assert_same_hours, hours_of, minutes, series


def readings_of_two_hosts():
    first = series(500, seed=21)
    rolled = series(120, boot=2, start_wh=first[-1].energy_wh - 30, t0=first[-1].ts_utc, seed=22)
    fresh = series(120, boot=3, start_wh=0.0, t0=rolled[-1].ts_utc + 3 * HOUR_S, seed=23)
    ch1 = series(700, channel=1, seed=24)
    other = series(300, meter="m-2", seed=25)
    # a solar channel: its export counter rises at midday, with a reset (meter replaced)
    solar = [dataclasses.replace(r, export_wh=(0.4 if i < 200 else -79.0) + 0.5 * i)
             for i, r in enumerate(series(400, meter="m-3", seed=26))]
    rows = first + rolled + fresh + ch1 + other + solar
    rnd = random.Random(7)
    shares: list[list] = [[], []]
    for r in rows:
        host = rnd.randrange(2)
        shares[host].append(r)
        if rnd.random() < 0.05:  # published again by the meter, routed to the other host
            shares[1 - host].append(r)
    for s in shares:
        rnd.shuffle(s)
    return rows, shares


def open_writer(influx, path, hours) -> InfluxStore:
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket, spool_path=path,
                        owner=path.stem, hours=hours)
    store.check()
    return store


@pytest.mark.parametrize("hours", ["readings", "ledger"])
def test_two_ledgers_one_influxdb_count_each_reading_once(influx, tmp_path, hours):
    rows, shares = readings_of_two_hosts()
    reference = SqliteStore(tmp_path / "reference.sqlite")
    for i in range(0, len(rows), 50):
        reference.write(rows[i:i + 50], T0)
    hosts = [open_writer(influx, tmp_path / f"host-{k}.sqlite", hours) for k in range(2)]
    for host, share in zip(hosts, shares, strict=True):
        for i in range(0, len(share), 40):
            host.write(share[i:i + 40], T0)
    assert all(h.flush(20) for h in hosts)
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket, hours=hours)

    # every reading once in InfluxDB, whichever host (or both) stored it
    assert influx.count() == len(rows)
    if hours == "ledger":
        # each ledger's hours are those of its share: the shipped totals are wrong
        got = sum(h.energy_wh for h in reader.hourly("m-1", 0, 4e9))
        want = sum(h.energy_wh for h in reference.hourly("m-1", 0, 4e9))
        assert got != pytest.approx(want, rel=1e-3)
        assert influx.engine.query("SELECT count(energy_wh) FROM energy_hour")[0].get("series")
    else:
        assert not influx.engine.query("SELECT count(energy_wh) FROM energy_hour")[0].get("series")
        for meter in ("m-1", "m-2"):
            assert_same_hours(hours_of(reader, meter), hours_of(reference, meter))
        for ch in (0, 1):
            assert_same_hours(hours_of(reader, channel=ch), hours_of(reference, channel=ch))
        exported = [(h.hour_utc, h.export_wh) for h in reader.hourly("m-3", 0, 4e9)]
        want = [(h.hour_utc, h.export_wh) for h in reference.hourly("m-3", 0, 4e9)]
        assert [h for h, _ in exported] == [h for h, _ in want] and sum(x for _, x in want) > 50
        for (_, got), (hour, x) in zip(exported, want, strict=True):
            assert got == pytest.approx(x, rel=1e-9, abs=1e-9), hour
        # a range cut inside the data: the same hours as the reference's over that range
        start, end = T0 + 2 * HOUR_S, T0 + 5 * HOUR_S
        a = reader.hourly("m-1", start, end)
        assert len(a) == 2
        assert_same_hours([(h.hour_utc, h.energy_wh, h.readings) for h in a],
                          [(h.hour_utc, h.energy_wh, h.readings)
                           for h in reference.hourly("m-1", start, end)])
        # the meter's own counters: the sum of its last counter per (channel, boot), the
        # first reading of each chain counting its own interval (series starts at 0 Wh)
        assert sum(h.energy_wh for h in reader.hourly("m-2", 0, 4e9)) == \
            pytest.approx(max(r.energy_wh for r in rows if r.meter_id == "m-2"), rel=1e-9)
    for h in hosts:
        h.close()
    reader.close()
    reference.close()


def test_chain_hours_of_the_readings_near_the_range_are_those_of_the_whole_chain():
    rows = series(2000, seed=3)  # 5.5 hours of 10 s readings
    gap = 1800.0
    whole = chain_hours({0: rows}, 0, 4e9, max_gap_s=gap)
    start, end = whole[1].hour_utc, whole[-2].hour_utc
    # only the readings within max_gap of the range, as the reader queries them, shuffled
    near = [r for r in rows if start - gap <= r.ts_utc < end + gap]
    random.Random(1).shuffle(near)
    cut = chain_hours({0: near}, start, end, max_gap_s=gap)
    assert len(cut) == 3
    assert cut == [h for h in whole if start <= h.hour_utc < end]


def test_a_deletion_keeps_its_span_empty_even_against_a_late_host(influx, tmp_path):
    """A household's deletion made by an API (no ledger): the hours starting in the span
    stay empty (the counters around it would otherwise spread the erased energy over it
    again), the hours after it are kept, and a reading of the span that a host which was
    away ships afterwards is neither counted nor shown."""
    rows = minutes(H10, H10 + 4 * HOUR_S, power_w=600.0)  # 10:01 -> 14:00, one a minute
    late = [r for r in rows if r.ts_utc == H10 + 90 * 60]  # 11:30, held by a host that was away
    host = open_writer(influx, tmp_path / "host-a.sqlite", "readings")
    host.write([r for r in rows if r not in late], H10)
    assert host.flush(20)
    api = InfluxStore(influx.url, influx.token, "-", influx.bucket, hours="readings")
    before = {h.hour_utc: (h.energy_wh, h.readings) for h in api.hourly("m-1", 0, 4e9)}
    # 11:30 not there yet: the 11:31 reading's counter covers its minute, the hour is whole
    assert before[H10 + HOUR_S] == (pytest.approx(600.0), 59)
    start, end = H10 + HOUR_S, H10 + 3 * HOUR_S  # 11:00 <= ts < 13:00
    assert api.delete("m-1", start, end) == 119

    late_host = open_writer(influx, tmp_path / "host-b.sqlite", "readings")
    late_host.write(late, H10 + 4 * HOUR_S)
    assert late_host.flush(20)
    assert influx.count("WHERE meter='m-1'") == len(rows) - 119  # the late point is stored...
    after = {h.hour_utc: (h.energy_wh, h.readings) for h in api.hourly("m-1", 0, 4e9)}
    # ... but neither counted nor shown: the span's hours stay empty
    assert sorted(after) == [H10, H10 + 3 * HOUR_S]
    assert after[H10 + 3 * HOUR_S] == before[H10 + 3 * HOUR_S]
    # the 11:00 reading closed the 10:00 hour (it belongs there) and is erased with the span:
    # its own minute leaves that hour (the ledger would keep the hour whole)
    assert after[H10] == (pytest.approx(600.0 - 10.0), 59)
    assert not api.readings("m-1", start, end)
    assert len(api.readings("m-1", 0, 4e9)) == len(rows) - 120
    for s in (host, late_host, api):
        s.close()
