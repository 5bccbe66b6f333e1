"""The InfluxDB backend against a real influxd: same hours as the embedded store for the
same readings (shuffled, duplicated, with resets), idempotent points, a durable spool."""

from __future__ import annotations

import random

import pytest

from citizenwatt.store.influx import InfluxStore, StoreUnavailable, point_time_ns
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.test_sqlite_store import T0, series
from tests.services import free_port


def open_influx(influx, tmp_path, name="spool.sqlite", **kw) -> InfluxStore:
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / name, **kw)
    store.check()
    return store


def hours_of(store, meter="m-1", channel=None):
    return [(h.hour_utc, h.energy_wh, h.readings)
            for h in store.hourly(meter, 0, 4e9, channel=channel)]


def assert_same_hours(a, b):
    assert [(h, n) for h, _, n in a] == [(h, n) for h, _, n in b]
    for (h, ea, _), (_, eb, _) in zip(a, b):
        assert ea == pytest.approx(eb, rel=1e-12, abs=1e-9), h


def test_shuffled_duplicated_and_reset_readings_give_the_sqlite_hours(influx, tmp_path):
    first = series(400, seed=11)
    rolled = series(150, boot=2, start_wh=first[-1].energy_wh - 20, t0=first[-1].ts_utc, seed=12)
    fresh = series(150, boot=3, start_wh=0.0, t0=rolled[-1].ts_utc, seed=13)
    ch1 = series(700, channel=1, seed=14)
    other = series(300, meter="m-2", seed=15)
    rows = first + rolled + fresh + ch1 + other
    mixed = rows + rows[::4]  # a quarter delivered twice
    random.Random(5).shuffle(mixed)

    sqlite = SqliteStore(tmp_path / "ref.sqlite")
    influx_store = open_influx(influx, tmp_path)
    dups = [0, 0]
    for i in range(0, len(mixed), 50):
        dups[0] += sqlite.write(mixed[i:i + 50], T0).duplicates
        dups[1] += influx_store.write(mixed[i:i + 50], T0).duplicates
    assert dups == [len(rows[::4])] * 2
    assert influx_store.flush(20)

    for meter in ("m-1", "m-2"):
        assert_same_hours(hours_of(influx_store, meter), hours_of(sqlite, meter))
    for ch in (0, 1):
        assert_same_hours(hours_of(influx_store, channel=ch), hours_of(sqlite, channel=ch))
    # and the reset rules held: never negative, the resets counted once
    expected = (first[-1].energy_wh + rolled[0].interval_energy_wh
                + rolled[-1].energy_wh - rolled[0].energy_wh + fresh[-1].energy_wh
                + ch1[-1].energy_wh)
    assert sum(e for _, e, _ in hours_of(influx_store)) == pytest.approx(expected, rel=1e-9)
    assert all(e >= 0 for _, e, _ in hours_of(influx_store))

    # one point per reading, counted reading by reading: duplicates overwrote themselves
    assert influx.seqs("m-1") == sorted((r.channel, r.boot, r.seq) for r in rows
                                        if r.meter_id == "m-1")
    assert influx.count() == len(rows)
    # the per-reading delta fields, rewritten when a late neighbour arrived, add up too
    res = influx.engine.query("SELECT sum(delta_wh) FROM reading WHERE meter='m-2'")
    assert res[0]["series"][0]["values"][0][1] == pytest.approx(other[-1].energy_wh, rel=1e-9)

    assert influx_store.latest("m-1") == sqlite.latest("m-1")
    a, b = influx_store.meters(), sqlite.meters()
    assert [(m.meter_id, m.channels, m.readings, m.first_ts_utc, m.last_ts_utc) for m in a] == \
        [(m.meter_id, m.channels, m.readings, m.first_ts_utc, m.last_ts_utc) for m in b]
    influx_store.close()


def test_status_and_dead_letters(influx, tmp_path):
    store = open_influx(influx, tmp_path)
    store.write(series(3), T0)
    store.set_status("m-1", {"v": 1, "meter": "m-1", "state": "online", "fw": 'say "hi"'}, T0)
    store.reject("not_json", "cw/m-1/reading", b"{oops", "not json", T0)
    assert store.flush(10)
    (m,) = store.meters()
    assert m.status == {"v": 1, "meter": "m-1", "state": "online", "fw": 'say "hi"'}
    assert store.rejections() == {"not_json": 1}
    store.close()


def test_influx_down_writes_are_spooled_then_shipped_in_order(influx, tmp_path):
    rows = series(300, seed=3)
    store = open_influx(influx, tmp_path)
    store.write(rows[:100], T0)
    assert store.flush(10)
    influx.engine.stop()
    for i in range(100, 300, 20):  # accepted (durably spooled) while InfluxDB is down
        assert store.write(rows[i:i + 20], T0).stored == 20
    assert not store.flush(1.0)
    assert store.status()["spool_depth"] > 0 and not store.status()["store_up"]
    influx.engine.start(create_database=False)
    assert store.flush(20)
    assert influx.seqs("m-1") == [(0, 1, s) for s in range(300)]
    assert sum(e for _, e, _ in hours_of(store)) == pytest.approx(rows[-1].energy_wh, rel=1e-9)
    assert store.status()["store_up"] and store.status()["shipped_points"] >= 300
    store.close()


def test_spool_survives_a_restart_of_the_collector(influx, tmp_path):
    rows = series(50, seed=4)
    influx.engine.stop()
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / "spool.sqlite")
    store.write(rows, T0)
    store._stop.set()  # a crash: the shipper stops, no final flush
    store._shipper.join(5)
    store.ledger.close()
    influx.engine.start(create_database=False)
    again = open_influx(influx, tmp_path)
    assert again.flush(10)
    assert len(influx.seqs("m-1")) == 50
    again.close()


def test_unreachable_influx_gives_one_line_naming_the_address(tmp_path):
    port = free_port()
    store = InfluxStore(f"http://127.0.0.1:{port}", "", "-", "citizenwatt/autogen",
                        spool_path=tmp_path / "s.sqlite", ship=False)
    with pytest.raises(StoreUnavailable) as e:
        store.check()
    msg = str(e.value)
    assert f"127.0.0.1:{port}" in msg and "Vérifiez" in msg and "\n" not in msg
    store.close()


def test_missing_database_is_named(influx, tmp_path):
    store = InfluxStore(influx.url, "", "-", "nosuchdb/autogen", spool_path=tmp_path / "s.sqlite",
                        ship=False)
    with pytest.raises(StoreUnavailable) as e:
        store.check()
    assert "nosuchdb" in str(e.value)
    store.close()


def test_point_times_keep_readings_apart_and_repeat_for_the_same_reading():
    rows = series(2000) + series(2000, boot=2, t0=T0)  # boot 2 replays the same clock
    times = {point_time_ns(r.ts_utc, r.boot, r.seq) for r in rows}
    assert len(times) == len(rows)
    r = rows[7]
    assert point_time_ns(r.ts_utc, r.boot, r.seq) == point_time_ns(r.ts_utc, r.boot, r.seq)


def test_points_influxdb_refuses_do_not_block_the_spool(influx, tmp_path):
    rows = series(30, seed=6)
    # a field of another type in the same shard: InfluxDB answers 400 (field type conflict)
    t_ns = int(rows[0].ts_utc * 1e9) - 5_000_000_000
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(
        f"{influx.engine.url}/write?db={influx.engine.database}",
        data=f'reading,channel=0,meter=m-1 energy_wh="text" {t_ns}'.encode(), method="POST"))
    store = open_influx(influx, tmp_path)
    store.write(rows[:20], T0)
    assert store.flush(10)  # not stuck
    assert store.rejections() == {"influx_rejected": 1}
    assert store.rejected_points > 0
    # the ledger still holds every reading, and later points flow again
    assert len(store.ledger.meters()) == 1 and store.ledger.meters()[0].readings == 20
    store.close()
