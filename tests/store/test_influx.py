"""What only the InfluxDB backend does, against a real influxd: one point per reading that
rewrites land on, the durable spool (InfluxDB down, a crash, refused points, deletions
while down), the ledger's upgrade reaching InfluxDB, reads without the ledger, start-up
errors. The contract every backend keeps is in test_conformance.py."""

from __future__ import annotations

import dataclasses
import random

import pytest

from citizenwatt.store.influx import InfluxStore, StoreUnavailable, point_time_ns
from citizenwatt.store.sqlite import SqliteStore
from tests.services import free_port
from tests.store.helpers import (
    BOUNDARY_HOURS,
    GAP_HOURS,
    H10,
    T0,
    Reference,
    downgrade,
    feed,
    hours_of,
    random_rows,
    rounded_hours,
    series,
    write_with_the_old_rule,
)


def open_influx(influx, tmp_path, name="spool.sqlite", **kw) -> InfluxStore:
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / name, **kw)
    store.check()
    return store


def assert_same_hours(a, b):
    assert [(h, n) for h, _, n in a] == [(h, n) for h, _, n in b]
    for (h, ea, _), (_, eb, _) in zip(a, b, strict=True):
        assert ea == pytest.approx(eb, rel=1e-12, abs=1e-9), h


def test_each_reading_is_one_point_and_the_sqlite_hours_to_the_last_digits(influx, tmp_path):
    """The same readings (shuffled, duplicated, with resets) as the embedded store: the same
    hours to 1e-12, one point per reading however often it was written, and the delta
    fields of re-chained readings rewritten in place."""
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
    # (the reset rules, latest and meters on this data: test_conformance.py, each backend)

    # one point per reading, counted reading by reading: duplicates overwrote themselves
    assert influx.seqs("m-1") == sorted((r.channel, r.boot, r.seq) for r in rows
                                        if r.meter_id == "m-1")
    assert influx.count() == len(rows)
    # the per-reading delta fields, rewritten when a late neighbour arrived, add up too
    res = influx.engine.query("SELECT sum(delta_wh) FROM reading WHERE meter='m-2'")
    assert res[0]["series"][0]["values"][0][1] == pytest.approx(other[-1].energy_wh, rel=1e-9)
    influx_store.close()
    sqlite.close()


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


# -- reads without the ledger ---------------------------------------------------------

def latest_readings():
    ch0 = series(50, channel=0, seed=1)
    # boot 2 restarted with a clock 200 s behind boot 1's last reading: by (boot, seq) its
    # last reading is the newest, by time it is not
    ch0 += series(5, boot=2, channel=0, t0=ch0[-1].ts_utc - 250, seed=2)
    # channel 1 had a voltage sensor, unplugged for the last reading: vrms_v/pf absent
    ch1 = [dataclasses.replace(r, vrms_v=231.0 - r.seq / 10, pf=0.9, apparent=False)
           for r in series(30, channel=1, seed=3)]
    ch1[-1] = dataclasses.replace(ch1[-1], vrms_v=None, pf=None, apparent=True)
    return ch0, ch1


def test_latest_with_and_without_the_ledger(influx, tmp_path):
    """With the ledger: by (boot, seq), like the embedded store. Without (a reader
    elsewhere): the newest point by time, taken whole, searched from the channel's last
    energy_hour point, or with LAST() without one. They differ only when a meter's clock
    went back across a reboot."""
    ch0, ch1 = latest_readings()
    sqlite = SqliteStore(tmp_path / "ref.sqlite")
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "spool.sqlite")
    for store in (sqlite, writer):
        store.write(ch1[::-1] + ch0, T0)  # channel 1 newest first: late arrivals
    assert writer.flush(10)

    # with the ledger: the same answer as the embedded store, boot 2's last reading
    assert writer.latest("m-1") == sqlite.latest("m-1")
    assert [(r.channel, r.boot, r.seq) for r in writer.latest("m-1")] == [(0, 2, 4), (1, 1, 29)]

    # without (a reader elsewhere): the newest point by time, whole (no vrms_v left over
    # from an older point)
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    newest_by_time = max(ch0, key=lambda r: r.ts_utc)
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    assert reader.latest("m-1")[1].vrms_v is None
    # a channel without hour points (none shipped yet): found over its whole series
    influx.engine.query("DELETE FROM energy_hour WHERE channel='1'", method="POST")
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    influx.engine.query("DELETE FROM energy_hour", method="POST")
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    assert reader.latest("nobody") == [] and writer.latest("nobody") == []
    writer.close()
    reader.close()
    sqlite.close()


# -- the ledger's upgrade and deletions reach InfluxDB ----------------------------------

def test_upgrade_of_the_ledger_fixes_the_points_in_influxdb(influx, tmp_path, monkeypatch):
    def open_writer():
        return InfluxStore(influx.url, influx.token, "-", influx.bucket,
                           spool_path=tmp_path / "spool.sqlite")

    writer = open_writer()
    write_with_the_old_rule(writer, monkeypatch)
    assert writer.flush(10)
    writer.close()
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    assert (H10 + 7200, 0.0, 1) in hours_of(reader, "m-2")
    downgrade(tmp_path / "spool.sqlite")
    writer = open_writer()  # the upgrade spools the recounted hours and the removed one
    assert writer.flush(10)
    assert rounded_hours(reader) == BOUNDARY_HOURS
    assert rounded_hours(reader, "m-2") == [(H10 + 3600, 1200.0, 60)]
    assert rounded_hours(reader, "m-3") == GAP_HOURS
    writer.close()
    reader.close()


def test_ledger_summary_and_a_deletion_while_influxdb_is_down_reach_influxdb(influx, tmp_path):
    rnd = random.Random(4)
    store = open_influx(influx, tmp_path)
    ref = Reference()
    rows = random_rows(rnd)
    feed(store, ref, rnd, rows)
    assert store.meters() == ref.meters()
    assert store.flush(20)
    # what InfluxDB itself holds says the same (the InfluxQL path of a reader elsewhere)
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    key = [(m.meter_id, m.channels, m.first_ts_utc, m.last_ts_utc, m.readings)
           for m in ref.meters()]
    assert [(m.meter_id, m.channels, m.first_ts_utc, m.last_ts_utc, m.readings)
            for m in reader.meters()] == key

    # a deletion while InfluxDB is down: done in the ledger now, in InfluxDB once it is back,
    # after the points spooled before it
    b = sorted(r.ts_utc for r, _ in ref.rows.values() if r.meter_id == "m-b")
    start, end = b[len(b) // 4], b[3 * len(b) // 4]
    influx.engine.stop()
    assert store.delete("m-b", start, end) == ref.delete("m-b", start, end)
    assert store.meters() == ref.meters()
    late = series(10, meter="m-b", channel=5, seed=8, t0=end + 5000)
    store.write(late, T0 + 60_000)
    ref.write(late, T0 + 60_000)
    influx.engine.start(create_database=False)
    assert store.flush(20)
    points = influx.engine.query("SELECT channel, boot, seq FROM reading WHERE meter='m-b'")
    stored = sorted((int(c), bt, s) for _, c, bt, s in points[0]["series"][0]["values"])
    assert stored == sorted((r.channel, r.boot, r.seq) for r, _ in ref.rows.values()
                            if r.meter_id == "m-b")
    hours = influx.engine.query("SELECT energy_wh FROM energy_hour WHERE meter='m-b'")
    times = [t for t, _ in hours[0]["series"][0]["values"]]
    assert not [t for t in times if int(start) <= t < end]
    assert [h.hour_utc for h in reader.hourly("m-b", 0, 4e9)] == \
        [h.hour_utc for h in store.hourly("m-b", 0, 4e9)]

    # a reader without a ledger deletes in InfluxDB directly
    c = [r.ts_utc for r, _ in ref.rows.values() if r.meter_id == "m-c"]
    assert reader.delete("m-c", 0, max(c) + 1) == ref.delete("m-c", 0, max(c) + 1) > 0
    assert "m-c" not in [m.meter_id for m in reader.meters()]
    assert reader.hourly("m-c", 0, 4e9) == []
    reader.close()
    store.close()
