"""The embedded time-series store: one SQLite file in the data directory, no server.

Readings are kept one row per channel, keyed by (meter, channel, boot, seq) so a reading
delivered twice is stored once. Each row also keeps the energy it adds (its delta) and the
hourly totals are maintained as readings arrive, in or out of order, so the API reads a
year of hourly energy without scanning millions of rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from citizenwatt.firmware.wire import MAX_CHANNELS

from .store import (
    ChannelReading,
    HourEnergy,
    MeterSummary,
    WriteResult,
    delta_start,
    energy_delta_wh,
    reading_hour,
    spread_over_hours,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, boot INTEGER NOT NULL,
    seq INTEGER NOT NULL, ts_utc REAL NOT NULL, ts_from_meter INTEGER NOT NULL,
    received_utc REAL NOT NULL, interval_s REAL NOT NULL, energy_wh REAL NOT NULL,
    power_w REAL NOT NULL, irms_a REAL NOT NULL, apparent INTEGER NOT NULL,
    vrms_v REAL, pf REAL,
    delta_wh REAL NOT NULL, delta_t0 REAL NOT NULL,
    PRIMARY KEY (meter_id, channel, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS energy_hour (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, hour_utc INTEGER NOT NULL,
    energy_wh REAL NOT NULL, readings INTEGER NOT NULL,
    PRIMARY KEY (meter_id, channel, hour_utc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_status (
    meter_id TEXT PRIMARY KEY, status_json TEXT NOT NULL, received_utc REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, received_utc REAL NOT NULL, reason TEXT NOT NULL,
    topic TEXT NOT NULL, payload_head BLOB NOT NULL, detail TEXT NOT NULL
);
"""

COLUMNS = ("meter_id, channel, boot, seq, ts_utc, ts_from_meter, received_utc, interval_s, "
           "energy_wh, power_w, irms_a, apparent, vrms_v, pf, delta_wh, delta_t0")
DEAD_LETTER_HEAD_BYTES = 256


def _row_to_reading(r: sqlite3.Row | tuple) -> ChannelReading:
    return ChannelReading(
        meter_id=r[0], channel=r[1], boot=r[2], seq=r[3], ts_utc=r[4],
        ts_from_meter=bool(r[5]), interval_s=r[7], energy_wh=r[8], power_w=r[9],
        irms_a=r[10], apparent=bool(r[11]), vrms_v=r[12], pf=r[13],
    )


class SqliteStore:
    """ReadingStore on a SQLite file (WAL mode): one writer, any number of readers."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        # Last (boot, seq) stored per (meter, channel): in-order arrivals skip two lookups.
        self._data_version = None
        self._last: dict[tuple[str, int], tuple[tuple[int, int], ChannelReading, float, float]] = {}
        with self._conn() as db:
            db.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            except sqlite3.Error as e:
                raise RuntimeError(
                    f"Cannot open the embedded store {self.path}: {e}. Check that the data "
                    "directory exists and is writable.") from e
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9); FULL also survives
            # a power cut of the server, which is what "durably stored" means here.
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
            self._all.append(db)
        return db

    # -- writing -------------------------------------------------------------------

    def write(self, rows: Sequence[ChannelReading], received_s: float) -> WriteResult:
        stored = dup = 0
        hours: dict[tuple[str, int, int], list[float]] = defaultdict(lambda: [0.0, 0])
        touched: list[tuple[str, int, int, int]] = []  # readings inserted or re-chained
        with self._write_lock:
            db = self._conn()
            pending_last = {}
            try:
                db.execute("BEGIN IMMEDIATE")
                # Another process (a second collector) may have written since our last
                # commit: then the cached newest readings can no longer be trusted.
                version = db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._last.clear()
                for r in rows:
                    if self._insert(db, r, received_s, hours, pending_last, touched):
                        stored += 1
                    else:
                        dup += 1
                db.executemany(
                    "INSERT INTO energy_hour VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                    "energy_wh = energy_wh + excluded.energy_wh, "
                    "readings = readings + excluded.readings",
                    [(m, c, h, v[0], v[1]) for (m, c, h), v in hours.items()])
                self._after_write(db, touched, list(hours), received_s)
                db.execute("COMMIT")
                self._data_version = db.execute("PRAGMA data_version").fetchone()[0]
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._last.update(pending_last)
        return WriteResult(stored=stored, duplicates=dup)

    def _neighbour(self, db, r: ChannelReading, before: bool):
        op, order = ("<", "DESC") if before else (">", "ASC")
        row = db.execute(
            f"SELECT {COLUMNS} FROM reading WHERE meter_id=? AND channel=? AND (boot, seq) {op} (?, ?) "
            f"ORDER BY boot {order}, seq {order} LIMIT 1",
            (r.meter_id, r.channel, r.boot, r.seq)).fetchone()
        return row

    def _after_write(self, db, touched, hour_keys, received_s) -> None:
        """Called inside the write transaction, before COMMIT: a subclass can record what
        changed (the InfluxDB spool does) atomically with the change itself."""

    def _after_status(self, db, meter_id: str, received_s: float) -> None:
        """Same as _after_write, for a status update."""

    def _insert(self, db, r: ChannelReading, received_s, hours, pending_last, touched) -> bool:
        key = (r.meter_id, r.channel)
        last = pending_last.get(key) or self._last.get(key)
        if last is not None and r.order_key > last[0]:
            prev, nxt = last[1], None  # the common case: the newest reading so far
        else:
            if last is not None and r.order_key == last[0]:
                return False
            p = self._neighbour(db, r, before=True)
            prev = _row_to_reading(p) if p else None
            nxt = self._neighbour(db, r, before=False)
        delta = energy_delta_wh(prev, r)
        t0 = delta_start(prev, r)
        cur = db.execute(
            f"INSERT OR IGNORE INTO reading ({COLUMNS}) VALUES ({','.join('?' * 16)})",
            (r.meter_id, r.channel, r.boot, r.seq, r.ts_utc, int(r.ts_from_meter), received_s,
             r.interval_s, r.energy_wh, r.power_w, r.irms_a, int(r.apparent), r.vrms_v, r.pf,
             delta, t0))
        if cur.rowcount == 0:
            return False
        self._add(hours, r, t0, delta, +1)
        touched.append((r.meter_id, r.channel, r.boot, r.seq))
        if nxt is not None:
            # A reading arrived late: the one after it now follows it, not `prev`.
            n = _row_to_reading(nxt)
            old_delta, old_t0 = nxt[14], nxt[15]
            self._add(hours, n, old_t0, -old_delta, 0)
            new_delta, new_t0 = energy_delta_wh(r, n), delta_start(r, n)
            self._add(hours, n, new_t0, new_delta, 0)
            db.execute("UPDATE reading SET delta_wh=?, delta_t0=? WHERE meter_id=? AND "
                       "channel=? AND boot=? AND seq=?",
                       (new_delta, new_t0, n.meter_id, n.channel, n.boot, n.seq))
            touched.append((n.meter_id, n.channel, n.boot, n.seq))
        elif last is None or r.order_key > last[0]:
            pending_last[key] = (r.order_key, r, delta, t0)
        return True

    @staticmethod
    def _add(hours, r: ChannelReading, t0: float, delta: float, count: int) -> None:
        for hour, wh in spread_over_hours(t0, r.ts_utc, delta):
            hours[(r.meter_id, r.channel, hour)][0] += wh
        if count:
            hours[(r.meter_id, r.channel, reading_hour(r.ts_utc))][1] += count

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        with self._write_lock:
            db = self._conn()
            with db:
                db.execute("INSERT INTO meter_status VALUES (?,?,?) ON CONFLICT DO UPDATE SET "
                           "status_json=excluded.status_json, received_utc=excluded.received_utc",
                           (meter_id, json.dumps(status), received_s))
                self._after_status(db, meter_id, received_s)

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        with self._write_lock:
            db = self._conn()
            with db:
                db.execute("INSERT INTO rejected (received_utc, reason, topic, payload_head, "
                           "detail) VALUES (?,?,?,?,?)",
                           (received_s, reason, topic[:256],
                            bytes(payload[:DEAD_LETTER_HEAD_BYTES]), detail[:500]))

    # -- reading -------------------------------------------------------------------

    def latest(self, meter_id: str) -> list[ChannelReading]:
        db = self._conn()
        # One primary-key probe per possible channel (the wire contract allows 0..5): the
        # correlated subquery this replaces scanned all the meter's readings, over a second
        # after a year of 10 s readings.
        rows = []
        for ch in range(MAX_CHANNELS):
            r = db.execute(f"SELECT {COLUMNS} FROM reading WHERE meter_id=? AND channel=? "
                           "ORDER BY boot DESC, seq DESC LIMIT 1", (meter_id, ch)).fetchone()
            if r is not None:
                rows.append(r)
        return [_row_to_reading(r) for r in rows]

    def hourly(self, meter_id: str, start_s: float, end_s: float,
               channel: int | None = None) -> list[HourEnergy]:
        sql = ("SELECT hour_utc, SUM(energy_wh), SUM(readings) FROM energy_hour "
               "WHERE meter_id=? AND hour_utc>=? AND hour_utc<?")
        args: list = [meter_id, int(start_s), end_s]
        if channel is not None:
            sql += " AND channel=?"
            args.append(channel)
        sql += " GROUP BY hour_utc ORDER BY hour_utc"
        return [HourEnergy(int(h), float(e), int(n))
                for h, e, n in self._conn().execute(sql, args)]

    def meters(self) -> list[MeterSummary]:
        db = self._conn()
        out = []
        for m, chans, t0, t1, rec, n in db.execute(
                "SELECT meter_id, group_concat(DISTINCT channel), MIN(ts_utc), MAX(ts_utc), "
                "MAX(received_utc), COUNT(*) FROM reading GROUP BY meter_id ORDER BY meter_id"):
            st = db.execute("SELECT status_json FROM meter_status WHERE meter_id=?",
                            (m,)).fetchone()
            out.append(MeterSummary(m, tuple(sorted(int(c) for c in str(chans).split(","))),
                                    t0, t1, rec, n, json.loads(st[0]) if st else None))
        return out

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        """Erase a meter's readings and hourly energy with start_s <= time < end_s (a
        household leaving and asking for its data to be deleted). Returns readings erased."""
        with self._write_lock:
            db = self._conn()
            with db:
                n = db.execute("DELETE FROM reading WHERE meter_id=? AND ts_utc>=? AND ts_utc<?",
                               (meter_id, start_s, end_s)).rowcount
                db.execute("DELETE FROM energy_hour WHERE meter_id=? AND hour_utc>=? AND hour_utc<?",
                           (meter_id, int(start_s), end_s))
            self._last.clear()
        return n

    def rejections(self) -> dict[str, int]:
        return dict(self._conn().execute(
            "SELECT reason, COUNT(*) FROM rejected GROUP BY reason ORDER BY reason"))

    def close(self) -> None:
        for db in self._all:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._all.clear()
        self._local = threading.local()
