"""A reading whose interval ends exactly at hh:00:00 belongs to the hour it closes, in both
stores: no row (0 Wh, 1 reading) for the next hour, so the API shows that hour as a gap."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.port import ChannelReading, reading_hour, spread_over_hours

H10 = datetime(2026, 6, 1, 10, tzinfo=timezone.utc).timestamp()  # 10:00:00 UTC


def minutes(t0: float, t1: float, power_w: float = 1200.0, seq0: int = 0,
            counter0_wh: float = 0.0, meter: str = "m-1") -> list[ChannelReading]:
    """A reading every 60 s from t0 + 60 to t1 (t1 included) at constant power."""
    n = int(round((t1 - t0) / 60))
    return [ChannelReading(meter, 0, 1, seq0 + i, t0 + 60 * i, True, 60.0,
                           counter0_wh + power_w * 60 * i / 3600, power_w, power_w / 230, True)
            for i in range(1, n + 1)]


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


def hours(store, meter="m-1"):
    return [(h.hour_utc, round(h.energy_wh, 9), h.readings) for h in store.hourly(meter, 0, 4e9)]


EXPECTED = [(H10, 1200.0, 60), (H10 + 3600, 600.0, 30)]


def write_boundary_readings(store) -> None:
    # 10:00 -> 11:00:00 exactly, then 11:00 -> 11:30, the meter stops at 11:30:00 ...
    rows = minutes(H10, H10 + 3600) + minutes(H10 + 3600, H10 + 5400, seq0=60,
                                                     counter0_wh=1200.0)
    # ... and another meter stops exactly at 12:00:00: nothing for 12:00-13:00
    other = minutes(H10 + 3600, H10 + 7200, meter="m-2")
    store.write(rows[::-1] + other, H10)  # newest first: the late-reading path too


def test_sqlite_counts_a_reading_ending_on_the_hour_in_the_hour_it_closes(tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    write_boundary_readings(store)
    assert hours(store) == EXPECTED
    assert hours(store, "m-2") == [(H10 + 3600, 1200.0, 60)]
    store.close()


def test_influx_store_agrees_and_the_api_shows_the_empty_hour_as_a_gap(influx, tmp_path):
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "spool.sqlite")
    write_boundary_readings(writer)
    assert writer.flush(10)
    writer.close()
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    assert hours(reader) == EXPECTED
    assert hours(reader, "m-2") == [(H10 + 3600, 1200.0, 60)]

    sqlite = SqliteStore(tmp_path / "r.sqlite")
    write_boundary_readings(sqlite)
    for store in (sqlite, reader):
        with TestClient(create_app(store)) as client:
            for meter, want in (("m-1", [1200.0, 600.0, None]), ("m-2", [None, 1200.0, None])):
                r = client.get(f"/api/v1/meters/{meter}/energy",
                               params={"resolution": "hour", "start": "2026-06-01", "tz": "UTC"})
                assert r.status_code == 200, r.text
                got = [b["energy_wh"] for b in r.json()["buckets"]][10:13]
                assert got == pytest.approx(want), (type(store).__name__, meter)
                assert r.json()["total"]["gap_buckets"] == 24 - sum(w is not None for w in want)
    sqlite.close()
    reader.close()


def write_with_the_old_rule(store, monkeypatch) -> None:
    """What a store written before reading_hour holds: readings ending at hh:00:00 counted
    in hour hh. A third meter stops at 11:00:00 then resumes at 12:30 (a gap)."""
    from citizenwatt.store import sqlite as sqlite_store

    with monkeypatch.context() as m:
        m.setattr(sqlite_store, "reading_hour", lambda ts: int(ts // 3600) * 3600)
        write_boundary_readings(store)
        gap = minutes(H10, H10 + 3600, meter="m-3")
        gap += minutes(H10 + 3600 + 5400 - 60, H10 + 3600 + 5400, seq0=60, counter0_wh=2000.0,
                       meter="m-3")
        store.write(gap, H10)


GAP_HOURS = [(H10, 1200.0, 60), (H10 + 3600, 546.666666667, 0), (H10 + 7200, 273.333333333, 1)]


def downgrade(path) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def test_upgrade_recounts_the_hours_of_an_older_store(tmp_path, monkeypatch):
    path = tmp_path / "r.sqlite"
    old = SqliteStore(path)
    write_with_the_old_rule(old, monkeypatch)
    assert (H10 + 7200, 0.0, 1) in hours(old, "m-2")  # the artefact: 0 Wh at 12:00
    old.close()
    downgrade(path)
    store = SqliteStore(path)
    assert hours(store) == EXPECTED
    assert hours(store, "m-2") == [(H10 + 3600, 1200.0, 60)]
    assert hours(store, "m-3") == GAP_HOURS  # 11:00 keeps the gap's energy, with 0 readings
    store.close()


def test_upgrade_of_the_ledger_fixes_the_points_in_influxdb(influx, tmp_path, monkeypatch):
    def open_writer():
        return InfluxStore(influx.url, influx.token, "-", influx.bucket,
                           spool_path=tmp_path / "spool.sqlite")

    writer = open_writer()
    write_with_the_old_rule(writer, monkeypatch)
    assert writer.flush(10)
    writer.close()
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    assert (H10 + 7200, 0.0, 1) in hours(reader, "m-2")
    downgrade(tmp_path / "spool.sqlite")
    writer = open_writer()  # the upgrade spools the recounted hours and the removed one
    assert writer.flush(10)
    assert hours(reader) == EXPECTED
    assert hours(reader, "m-2") == [(H10 + 3600, 1200.0, 60)]
    assert hours(reader, "m-3") == GAP_HOURS
    writer.close()
    reader.close()
