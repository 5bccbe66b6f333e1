"""store.meters() comes from a per-channel summary kept at write time (not a scan of every
reading): it must equal what a scan of the stored readings gives, after shuffled, late and
duplicated arrivals, deletions, and the upgrade of a file written before the summary."""

from __future__ import annotations

import random
import sqlite3

import pytest

from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.port import ChannelReading, MeterSummary
from tests.collector.test_sqlite_store import T0, series


class Reference:
    """What meters() must say, computed from the set of readings stored (first copy wins)."""

    def __init__(self):
        self.rows: dict[tuple, tuple[ChannelReading, float]] = {}
        self.status: dict[str, dict] = {}

    def write(self, rows, received_s: float) -> None:
        for r in rows:
            self.rows.setdefault((r.meter_id, r.channel, r.boot, r.seq), (r, received_s))

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        gone = [k for k, (r, _) in self.rows.items()
                if r.meter_id == meter_id and start_s <= r.ts_utc < end_s]
        for k in gone:
            del self.rows[k]
        return len(gone)

    def meters(self) -> list[MeterSummary]:
        by_meter: dict[str, list] = {}
        for r, rec in self.rows.values():
            by_meter.setdefault(r.meter_id, []).append((r, rec))
        return [MeterSummary(m, tuple(sorted({r.channel for r, _ in v})),
                             min(r.ts_utc for r, _ in v), max(r.ts_utc for r, _ in v),
                             max(rec for _, rec in v), len(v), self.status.get(m))
                for m, v in sorted(by_meter.items())]


def random_rows(rnd: random.Random) -> list[ChannelReading]:
    rows = []
    for k, meter in enumerate(("m-a", "m-b", "m-c")):
        for ch in range(rnd.randint(1, 3)):
            first = series(rnd.randint(20, 120), meter=meter, channel=ch, seed=rnd.random(),
                           interval_s=rnd.choice((5.0, 10.0, 60.0)), t0=T0 + 1000 * k)
            # a reboot whose clock went back (unsynced, then stamped on arrival earlier)
            again = series(rnd.randint(5, 40), boot=2, meter=meter, channel=ch,
                           t0=first[len(first) // 2].ts_utc, seed=rnd.random())
            rows += first + again
    return rows


def feed(store, ref: Reference, rnd: random.Random, rows) -> None:
    """Shuffled, a third delivered twice, late readings, batches with growing received time."""
    mixed = rows + rnd.sample(rows, len(rows) // 3)
    rnd.shuffle(mixed)
    received = T0 + 50_000
    i = 0
    while i < len(mixed):
        n = rnd.randint(1, 60)
        received += rnd.uniform(0, 30)
        store.write(mixed[i:i + n], received)
        ref.write(mixed[i:i + n], received)
        i += n
        if rnd.random() < 0.1:
            assert store.meters() == ref.meters()


def scan(path) -> list[tuple]:
    """The meters as the scan that meters() used to run said them."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT meter_id, MIN(ts_utc), MAX(ts_utc), MAX(received_utc), COUNT(*) "
                      "FROM reading GROUP BY meter_id ORDER BY meter_id").fetchall()
    db.close()
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summary_equals_a_scan_after_random_arrivals_and_deletions(tmp_path, seed):
    rnd = random.Random(seed)
    store, ref = SqliteStore(tmp_path / "r.sqlite"), Reference()
    feed(store, ref, rnd, random_rows(rnd))
    store.set_status("m-b", {"v": 1, "meter": "m-b", "state": "online"}, T0)
    ref.status["m-b"] = {"v": 1, "meter": "m-b", "state": "online"}
    assert store.meters() == ref.meters()
    assert [(m.meter_id, m.first_ts_utc, m.last_ts_utc, m.last_received_utc, m.readings)
            for m in store.meters()] == scan(tmp_path / "r.sqlite")

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
    store.close()


def test_a_file_from_before_the_summary_is_upgraded_at_open(tmp_path):
    rnd = random.Random(9)
    path = tmp_path / "r.sqlite"
    store, ref = SqliteStore(path), Reference()
    feed(store, ref, rnd, random_rows(rnd))
    store.close()
    db = sqlite3.connect(path)  # as an older version left it: no summary, version 0
    db.execute("DROP TABLE channel_summary")
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    again = SqliteStore(path)
    assert again.meters() == ref.meters()
    again.close()


def test_influx_ledger_summary_and_deletion_reach_influxdb(influx, tmp_path):
    rnd = random.Random(4)
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / "spool.sqlite")
    store.check()
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
