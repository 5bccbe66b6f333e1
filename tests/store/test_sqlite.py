"""What only the embedded store does: one file shared by two writers, its tables (the
per-channel summary equals a scan of the readings), upgrades of older files, and the
observer that records each change in the same transaction (the InfluxDB ledger's outbox).
The contract every backend keeps is in test_conformance.py."""

from __future__ import annotations

import random
import sqlite3

import pytest

from citizenwatt.store.sqlite import SqliteStore
from tests.store.helpers import (
    BOUNDARY_HOURS,
    GAP_HOURS,
    H10,
    T0,
    Reference,
    assert_same_hours,
    downgrade,
    feed,
    hours_of,
    random_rows,
    rounded_hours,
    series,
    total,
    write_with_the_old_rule,
)


def test_two_writers_on_one_file_keep_the_chain(tmp_path):
    """Two collectors sharing one SQLite file: the second's cache must not go stale."""
    rows = series(200, seed=5)
    a, b = SqliteStore(tmp_path / "r.sqlite"), SqliteStore(tmp_path / "r.sqlite")
    for i in range(0, 200, 10):
        (a if (i // 10) % 2 else b).write(rows[i:i + 10], T0)
    assert total(a) == pytest.approx(rows[-1].energy_wh, rel=1e-9)


def scan(path) -> list[tuple]:
    """The meters as the scan that meters() used to run said them."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT meter_id, MIN(ts_utc), MAX(ts_utc), MAX(received_utc), COUNT(*) "
                      "FROM reading GROUP BY meter_id ORDER BY meter_id").fetchall()
    db.close()
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summary_equals_a_scan_of_the_readings_table(tmp_path, seed):
    rnd = random.Random(seed)
    store, ref = SqliteStore(tmp_path / "r.sqlite"), Reference()
    feed(store, ref, rnd, random_rows(rnd))
    assert [(m.meter_id, m.first_ts_utc, m.last_ts_utc, m.last_received_utc, m.readings)
            for m in store.meters()] == scan(tmp_path / "r.sqlite")
    a = [r.ts_utc for r, _ in ref.rows.values() if r.meter_id == "m-a"]
    store.delete("m-a", min(a), (min(a) + max(a)) / 2)
    assert [(m.meter_id, m.first_ts_utc, m.last_ts_utc, m.last_received_utc, m.readings)
            for m in store.meters()] == scan(tmp_path / "r.sqlite")
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


def test_upgrade_recounts_the_hours_of_an_older_store(tmp_path, monkeypatch):
    path = tmp_path / "r.sqlite"
    old = SqliteStore(path)
    write_with_the_old_rule(old, monkeypatch)
    assert (H10 + 7200, 0.0, 1) in hours_of(old, "m-2")  # the artefact: 0 Wh at 12:00
    old.close()
    downgrade(path)
    store = SqliteStore(path)
    assert rounded_hours(store) == BOUNDARY_HOURS
    assert rounded_hours(store, "m-2") == [(H10 + 3600, 1200.0, 60)]
    assert rounded_hours(store, "m-3") == GAP_HOURS
    store.close()


class Journal:
    """A ChainObserver that keeps what it is told in a table of the same file."""

    def __init__(self, fail_on_write: bool = False):
        self.fail_on_write = fail_on_write

    def created(self, db):
        db.execute("CREATE TABLE IF NOT EXISTS journal (what TEXT, meter_id TEXT, n INTEGER)")

    def wrote(self, db, readings, hours, received_s):
        if self.fail_on_write:
            raise RuntimeError("disk gone")
        db.executemany("INSERT INTO journal VALUES ('reading', ?, ?)",
                       [(m, s) for m, _, _, s in readings])

    def status_set(self, db, meter_id, received_s):
        db.execute("INSERT INTO journal VALUES ('status', ?, 0)", (meter_id,))

    def deleted(self, db, meter_id, start_s, end_s):
        db.execute("INSERT INTO journal VALUES ('delete', ?, 0)", (meter_id,))

    def recounted(self, db, updated, removed):
        db.execute("INSERT INTO journal VALUES ('recount', '', ?)", (len(updated) + len(removed),))


def journal(store) -> list[tuple]:
    return store.connection().execute("SELECT * FROM journal").fetchall()


def test_the_observer_records_each_change_in_its_transaction(tmp_path):
    rows = series(3)
    store = SqliteStore(tmp_path / "r.sqlite", observer=Journal())
    store.write([rows[0], rows[2]], T0)
    store.write([rows[1]], T0)  # late: re-chains reading 2, which is written again
    store.set_status("m-1", {"state": "online"}, T0)
    store.delete("m-1", 0, rows[0].ts_utc + 1)
    # a new file is brought up to the current version too (nothing to recount)
    assert journal(store) == [("recount", "", 0),
                              ("reading", "m-1", 0), ("reading", "m-1", 2),
                              ("reading", "m-1", 1), ("reading", "m-1", 2),
                              ("status", "m-1", 0), ("delete", "m-1", 0)]
    store.close()

    # an observer that fails: the change is rolled back with what it would have recorded
    failing = SqliteStore(tmp_path / "r.sqlite", observer=Journal(fail_on_write=True))
    with pytest.raises(RuntimeError):
        failing.write(series(5, meter="m-2"), T0)
    assert [m.meter_id for m in failing.meters()] == ["m-1"]
    assert failing.latest("m-2") == [] and len(journal(failing)) == 7
    failing.close()


def test_a_batch_with_a_late_reading_counts_like_row_by_row(tmp_path):
    """The common case (each row its channel's newest) waits for one executemany; a late
    reading in the same batch is inserted only after the rows waiting before it, so its
    neighbours are found and the hours are those of row-by-row writing."""
    rows = series(300, seed=8)
    late = rows[150]
    batch = rows[100:150] + rows[151:250] + [late]  # one late reading at the end
    store, ref = SqliteStore(tmp_path / "a.sqlite"), SqliteStore(tmp_path / "b.sqlite")
    store.write(rows[:100], T0)
    statements: list[str] = []
    store.connection().set_trace_callback(statements.append)
    res = store.write(batch, T0)
    store.connection().set_trace_callback(None)
    for r in rows[:250]:
        ref.write([r], T0)
    assert (res.stored, res.duplicates) == (len(batch), 0)
    assert_same_hours(hours_of(store), hours_of(ref))
    assert total(store) == pytest.approx(rows[249].energy_wh, rel=1e-9)
    # the late reading's neighbours were looked up after the 149 rows before it went in
    inserts = [i for i, s in enumerate(statements) if s.startswith("INSERT OR IGNORE INTO reading")]
    lookups = [i for i, s in enumerate(statements) if "ORDER BY boot DESC" in s]
    assert len(inserts) == len(batch) and lookups and inserts[-2] < lookups[0] < inserts[-1]


def test_a_stale_newest_reading_cache_rolls_back_and_writes_row_by_row(tmp_path):
    """If the cache of newest readings were ever wrong (a row it calls new is stored
    already), the batch is written again without it: a redelivery stays a duplicate and
    counts nothing twice."""
    rows = series(40, seed=9)
    store, ref = SqliteStore(tmp_path / "a.sqlite"), SqliteStore(tmp_path / "b.sqlite")
    store.write(rows[:30], T0)
    ref.write(rows[:30], T0)
    key = (rows[0].meter_id, rows[0].channel)
    store._last[key] = (rows[20].order_key, rows[20], store._last[key][2])  # stale on purpose
    res = store.write(rows[25:40], T0)  # 25..29 were stored already
    assert (res.stored, res.duplicates) == (10, 5)
    ref.write(rows[30:40], T0)
    assert_same_hours(hours_of(store), hours_of(ref))
    assert total(store) == pytest.approx(rows[39].energy_wh, rel=1e-9)
