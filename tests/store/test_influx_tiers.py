"""The InfluxDB backend's tiers and ledger, against a real influxd 1.6.7: the collector's
ledger is pruned once its readings are in InfluxDB (bounded, the hours unchanged, a late
reading before what it kept kept aside), and on 1.x the readings sit in a retention policy
of their own with aggregates computed by InfluxDB, read back where the raw ones are gone."""

from __future__ import annotations

import os
import time

from citizenwatt.store.influx import AGG_CQ, AGG_RP, RAW_RP, InfluxStore
from citizenwatt.store.tiers import DAY_S, Tiers
from tests.store.helpers import T0, hours_of, in_order_hours, series


def open_influx(influx, tmp_path, **kw) -> InfluxStore:
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / "spool.sqlite", **kw)
    store.check()
    return store


def ledger_rows(store) -> int:
    return store.ledger.chain.connection().execute("SELECT COUNT(*) FROM reading").fetchone()[0]


def test_the_ledger_is_pruned_once_influxdb_has_the_readings(influx, tmp_path):
    rows = series(3 * 8640 // 10, interval_s=100.0, seed=21)  # three days, one reading per 100 s
    store = open_influx(influx, tmp_path, ledger_keep_s=DAY_S)
    store._stop.set()  # the test drives the shipper
    store._shipper.join(5)
    store._shipper = None
    store.write(rows[:1000], T0)
    now = rows[-1].ts_utc + 100
    # nothing shipped yet: nothing may leave the ledger
    assert store.ledger.prune(now, DAY_S) == 0
    assert ledger_rows(store) == 1000
    store.start_shipping()
    assert store.flush(20)
    store.write(rows[1000:], T0)
    assert store.flush(20)
    hours = hours_of(store)
    erased = store.ledger.prune(now, DAY_S)
    kept = ledger_rows(store)
    assert erased == len(rows) - kept
    assert kept == sum(1 for r in rows if r.ts_utc >= now - DAY_S)
    assert store.latest("m-1") == [rows[-1]]
    # InfluxDB has every reading and the same hours; the ledger's file stopped growing
    assert influx.count() == len(rows)
    assert hours_of(store) == hours
    assert [(h, n) for h, _, n in hours] == [(h, n) for h, _, n in in_order_hours(rows)]
    ledger_hours = store.ledger.chain.connection().execute(
        "SELECT MIN(hour_utc) FROM energy_hour").fetchone()[0]
    assert ledger_hours >= now - DAY_S - 2 * 3600 - 100
    # the chain goes on: a new reading counts from the newest kept, exactly
    nxt = series(len(rows) + 5, interval_s=100.0, seed=21)[len(rows):]
    assert store.write(nxt, T0).stored == 5 and store.flush(20)
    assert [(h, n) for h, _, n in hours_of(store)] == [
        (h, n) for h, _, n in in_order_hours(rows + nxt)]
    # a late reading before what the ledger kept cannot be chained: kept aside, not counted
    res = store.write([rows[10]], T0)
    assert res.conflicts == (rows[10],)
    store.close()


def test_the_collector_prunes_its_ledger_when_the_spool_is_empty(influx, tmp_path, monkeypatch):
    import citizenwatt.store.influx as influx_module

    monkeypatch.setattr(influx_module, "LEDGER_PRUNE_EVERY_S", 0.0)
    rows = series(2000, interval_s=100.0, seed=22)
    store = open_influx(influx, tmp_path, ledger_keep_s=3600)
    store.write(rows, T0)
    assert store.flush(20)
    # the shipper prunes by the wall clock: these readings are years old, one stays
    for _ in range(100):
        if ledger_rows(store) == 1:
            break
        store._wake.set()
        store._stop.wait(0.1)
    assert ledger_rows(store) == 1
    assert influx.count() == len(rows)
    store.close()
    size = os.path.getsize(tmp_path / "spool.sqlite")
    assert size > 0


def test_tiers_on_influxdb_1x(influx, tmp_path):
    tiers = Tiers(raw_s=30 * DAY_S, aggregate_s=60, aggregate_keep_s=60 * DAY_S, hot_s=DAY_S)
    # InfluxDB drops points older than their policy by its own clock: readings of today
    t0 = (time.time() // 3600 - 5) * 3600
    rows = series(1200, seed=23, t0=t0)  # 10 s readings: 200 minutes
    store = open_influx(influx, tmp_path, tiers=tiers)
    values = influx.engine.query("SHOW RETENTION POLICIES")[0]["series"][0]["values"]
    rps = {v[0]: v[1] for v in values}
    assert rps[RAW_RP] == "720h0m0s" and rps[AGG_RP] == "2160h0m0s"
    cqs = influx.engine.query("SHOW CONTINUOUS QUERIES")[0]["series"]
    assert any(v[0] == AGG_CQ for s in cqs for v in s.get("values", []))
    store.write(rows, T0)
    assert store.flush(20)
    # readings in their policy, hours in the bucket's
    assert influx.count() == 0
    raw = influx.engine.query(f'SELECT count(seq) FROM "{RAW_RP}"."reading"')[0]["series"][0]
    assert raw["values"][0][1] == len(rows)
    assert [(h, n) for h, _, n in hours_of(store)] == [(h, n) for h, _, n in in_order_hours(rows)]
    assert store.readings("m-1", 0, 4e9) == rows
    # the aggregates, as the continuous query makes them (run now by fold)
    store.fold(rows[-1].ts_utc + 10, tiers)
    minutes = {int(r.ts_utc // 60) for r in rows}
    agg = influx.engine.query(f'SELECT count(readings), sum(readings) FROM "{AGG_RP}"."reading_agg"')
    assert agg[0]["series"][0]["values"][0][1:] == [len(minutes), len(rows)]
    # where the raw readings are gone (their policy expired them), the aggregates are read
    cut = rows[600].ts_utc
    influx.engine.query(f"DELETE FROM reading WHERE time < {int(cut * 1e9)}", method="POST")
    got = store.readings("m-1", 0, 4e9)
    assert [r for r in got if r.interval_s == 10.0] == [r for r in rows if r.ts_utc >= cut]
    folded = [r for r in got if r.ts_utc < cut]
    last_of_minute = {int(r.ts_utc // 60): r for r in rows}
    assert folded and all(r.energy_wh == last_of_minute[int(r.ts_utc // 60)].energy_wh
                          for r in folded)
    store.close()
