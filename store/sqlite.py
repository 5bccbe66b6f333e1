"""The embedded time-series store: one SQLite file in the data directory, no server.

Readings are kept one row per channel, keyed by (meter, channel, boot, seq) so a reading
delivered twice is stored once. Each row also keeps the energy it adds (its delta) and the
hourly totals and a per-channel summary (first and last time, readings) are maintained as
readings arrive, in or out of order, so the API reads a year of hourly energy, or the list
of meters, without scanning millions of rows.

The counting itself is rules.py's. Another component can keep its own record of every change
in the same transactions by passing an observer (ChainObserver): the InfluxDB backend's
ledger records what it must ship that way.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Protocol

from citizenwatt.errors import StoreError
from citizenwatt.firmware.wire import MAX_CHANNELS, clean_status

from .port import (
    HOUR_S,
    ChannelReading,
    DayEnergy,
    DeadLetter,
    HourEnergy,
    MeterSummary,
    WriteResult,
)
from .rules import MAX_GAP_S, Link, insert_export, insert_reading, reading_hour, same_reading
from .tiers import (
    FoldReport,
    LocalDays,
    StorageReport,
    Tiers,
    cold_readings,
    cold_summary,
    delete_cold,
    fold,
    rewarm_newest,
    thaw_around,
)
from .tiers import storage_report as _storage_report

SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, boot INTEGER NOT NULL,
    seq INTEGER NOT NULL, ts_utc REAL NOT NULL, ts_from_meter INTEGER NOT NULL,
    received_utc REAL NOT NULL, interval_s REAL NOT NULL, energy_wh REAL NOT NULL,
    power_w REAL NOT NULL, irms_a REAL NOT NULL, apparent INTEGER NOT NULL,
    vrms_v REAL, pf REAL,
    delta_wh REAL NOT NULL, delta_t0 REAL NOT NULL,
    export_wh REAL, export_delta_wh REAL, export_delta_t0 REAL,
    PRIMARY KEY (meter_id, channel, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS energy_hour (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, hour_utc INTEGER NOT NULL,
    energy_wh REAL NOT NULL, readings INTEGER NOT NULL,
    export_wh REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (meter_id, channel, hour_utc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS channel_summary (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, first_ts_utc REAL NOT NULL,
    last_ts_utc REAL NOT NULL, last_received_utc REAL NOT NULL, readings INTEGER NOT NULL,
    PRIMARY KEY (meter_id, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_status (
    meter_id TEXT PRIMARY KEY, status_json TEXT NOT NULL, received_utc REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, received_utc REAL NOT NULL, reason TEXT NOT NULL,
    topic TEXT NOT NULL, payload_head BLOB NOT NULL, detail TEXT NOT NULL
);
"""
# The older tiers (version 3), keyed by a small integer per (meter, channel) instead of the
# meter's text: packed raw blocks (consecutive readings of one channel, see packing.py) and
# their aggregates, one packed row per channel and UTC hour. `reading` above holds the hot
# part: the newest hours, and always each channel's newest reading.
TIERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, meter_id TEXT NOT NULL, channel INTEGER NOT NULL,
    UNIQUE (meter_id, channel)
);
CREATE TABLE IF NOT EXISTS reading_block (
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, boot INTEGER NOT NULL,
    seq INTEGER NOT NULL, last_boot INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    t_min REAL NOT NULL, t_max REAL NOT NULL, received_max REAL NOT NULL,
    readings INTEGER NOT NULL, data BLOB NOT NULL, links BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS reading_block_key ON reading_block (series, boot, seq);
CREATE INDEX IF NOT EXISTS reading_block_time ON reading_block (series, t_min);
CREATE TABLE IF NOT EXISTS reading_agg (
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, hour_utc INTEGER NOT NULL,
    t_min REAL NOT NULL, t_max REAL NOT NULL, readings INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS reading_agg_hour ON reading_agg (series, hour_utc);
-- The local days of the store's time zone (version 4), kept at write time from the hours:
-- a year of daily totals reads 365 rows, not 8,760.
CREATE TABLE IF NOT EXISTS energy_day (
    meter_id TEXT NOT NULL, channel INTEGER NOT NULL, day_utc INTEGER NOT NULL,
    energy_wh REAL NOT NULL, hours_mask INTEGER NOT NULL, export_wh REAL NOT NULL,
    PRIMARY KEY (meter_id, channel, day_utc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Readings before (boot, seq) are no longer raw: a late one there cannot be chained.
CREATE TABLE IF NOT EXISTS chain_start (
    series INTEGER PRIMARY KEY, boot INTEGER NOT NULL, seq INTEGER NOT NULL
);
"""

COLUMNS = ("meter_id, channel, boot, seq, ts_utc, ts_from_meter, received_utc, interval_s, "
           "energy_wh, power_w, irms_a, apparent, vrms_v, pf, delta_wh, delta_t0, "
           "export_wh, export_delta_wh, export_delta_t0")
# Columns added for exported energy (solar), each (table, column, type): added to a file
# written before them at open, NULL or 0 for what it holds (nothing was exported then).
EXPORT_COLUMNS = (("reading", "export_wh", "REAL"), ("reading", "export_delta_wh", "REAL"),
                  ("reading", "export_delta_t0", "REAL"),
                  ("energy_hour", "export_wh", "REAL NOT NULL DEFAULT 0"))
CONFLICT = "conflict"
DEAD_LETTER_HEAD_BYTES = 2048  # a whole valid-sized payload: a conflict is kept entire
# PRAGMA user_version of an up-to-date file; older files are brought up to it at open.
SCHEMA_VERSION = 4
# What channel_summary holds, computed from the readings themselves (at upgrade, after a
# deletion, and as the reference in tests).
SUMMARY_SCAN = ("SELECT meter_id, channel, MIN(ts_utc), MAX(ts_utc), MAX(received_utc), "
                "COUNT(*) FROM reading")


INSERT_READING = f"INSERT OR IGNORE INTO reading ({COLUMNS}) VALUES ({','.join('?' * 19)})"


class _StaleCache(StoreError):
    """A reading taken as its channel's newest was in the table already (another writer):
    the batch is rolled back and written again without the cache. Never leaves write()."""


def _insert_all(db: sqlite3.Connection, inserts: list[tuple] | None) -> None:
    """Insert the rows waiting in `inserts` (each newer than its channel's stored ones)."""
    if inserts:
        if db.executemany(INSERT_READING, inserts).rowcount != len(inserts):
            raise _StaleCache
        inserts.clear()


def _row_to_reading(r: sqlite3.Row | tuple) -> ChannelReading:
    return ChannelReading(
        meter_id=r[0], channel=r[1], boot=r[2], seq=r[3], ts_utc=r[4],
        ts_from_meter=bool(r[5]), interval_s=r[7], energy_wh=r[8], power_w=r[9],
        irms_a=r[10], apparent=bool(r[11]), vrms_v=r[12], pf=r[13],
        export_wh=r[16] if len(r) > 16 else None,
    )


def summarise(rows, statuses: dict[str, str]) -> list[MeterSummary]:
    """MeterSummary per meter from per-channel rows (meter, channel, first ts, last ts,
    last received, readings) sorted by meter, and the meters' status JSON."""
    out: list[MeterSummary] = []
    for m, group in groupby(rows, key=lambda r: r[0]):
        chans = list(group)
        st = statuses.get(m)
        out.append(MeterSummary(
            m, tuple(sorted(int(c[1]) for c in chans)), min(c[2] for c in chans),
            max(c[3] for c in chans), max(c[4] for c in chans), sum(c[5] for c in chans),
            stored_status(st)))
    return out


def stored_status(status_json: str | None) -> dict | None:
    """A stored status as the API may show it: only the contract's fields, whatever the
    file holds (one written before statuses were checked, or by hand); never raises."""
    if not status_json:
        return None
    try:
        return clean_status(json.loads(status_json))
    except (ValueError, RecursionError):
        return None


class ChainObserver(Protocol):
    """Told of every change a SqliteStore makes, on its connection, inside the transaction
    that makes it and before it commits: what the observer records there is committed or
    rolled back with the change itself."""

    def created(self, db: sqlite3.Connection) -> None:
        """Create the observer's own tables in the file (at open, before any upgrade)."""

    def wrote(self, db: sqlite3.Connection, readings: list[tuple[str, int, int, int]],
              hours: list[tuple[str, int, int]], received_s: float) -> None:
        """A write stored or re-chained these readings (meter, channel, boot, seq) and
        changed these hours (meter, channel, hour start)."""

    def status_set(self, db: sqlite3.Connection, meter_id: str, received_s: float) -> None:
        """A meter's status was replaced."""

    def deleted(self, db: sqlite3.Connection, meter_id: str, start_s: float,
                end_s: float) -> None:
        """A meter's readings and hours in [start_s, end_s[ were erased."""

    def recounted(self, db: sqlite3.Connection, updated: list[tuple[str, int, int]],
                  removed: list[tuple[str, int, int]]) -> None:
        """An upgrade recounted these hours (meter, channel, hour start) and removed those."""


def create_private(path: Path) -> None:
    """Create the database file `path` (and its folder) readable by this account only, 0600
    in 0700, before SQLite opens it: readings say when a household is at home. SQLite gives
    its -wal and -shm files the mode of the database file. Existing ones are left as they
    are (an administrator may have chosen to share them with a group)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class SqliteStore:
    """ReadingStore on a SQLite file (WAL mode): one writer, any number of readers.

    observer (optional) is told of each change inside its transaction (ChainObserver).
    """

    columns = COLUMNS

    def __init__(self, path: str | Path, *, observer: ChainObserver | None = None,
                 max_gap_s: float = MAX_GAP_S, timezone: str = "Europe/Paris"):
        self.path = Path(path)
        self.days = LocalDays(timezone)
        self.max_gap_s = max_gap_s
        create_private(self.path)
        self._new_file = self.path.stat().st_size == 0
        self.observer = observer
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        # Last (boot, seq) stored per (meter, channel): in-order arrivals skip two lookups.
        self._data_version = None
        self._last: dict[tuple[str, int], tuple[tuple[int, int], ChannelReading, Link]] = {}
        with self.connection() as db:
            db.executescript(SCHEMA + TIERS_SCHEMA)
            if observer is not None:
                observer.created(db)
        self._add_export_columns()
        self._upgrade()
        self._days_of_zone()
        self._new_file = False

    def _add_export_columns(self) -> None:
        """Add the export columns to a file written before them (once, whichever process
        opens it first)."""
        db = self.connection()

        def missing():
            have = {(t, row[1]) for t in ("reading", "energy_hour")
                    for row in db.execute(f"PRAGMA table_info({t})")}
            return [c for c in EXPORT_COLUMNS if (c[0], c[1]) not in have]

        if not missing():
            return
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                for table, column, kind in missing():
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _upgrade(self) -> None:
        """Bring a file written by an older version up to SCHEMA_VERSION (once, whichever
        process opens it first)."""
        db = self.connection()
        if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version < 1:
                    # 1: channel_summary, filled once from the readings (a full scan).
                    db.execute("DELETE FROM channel_summary")
                    db.execute(f"INSERT INTO channel_summary {SUMMARY_SCAN} "
                               "GROUP BY meter_id, channel")
                if version < 2:
                    self._recount_hours(db)
                # 3: the tiers' tables (made by TIERS_SCHEMA at open); the readings move into
                # them as `citizenwatt admin fold` runs, a chunk at a time.
                # 4: the days, from the hours (below, as when the time zone changes)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._incremental_vacuum_on(db)

    def _days_of_zone(self) -> None:
        """The days are those of self.days' zone: (re)count them from the hours if the file
        has none yet or counted another zone's (a scan of the hours, once)."""
        db = self.connection()
        row = db.execute("SELECT value FROM store_meta WHERE key='day_zone'").fetchone()
        if row is not None and row[0] == self.days.zone_name:
            return
        with self.transaction() as db:
            db.execute("DELETE FROM energy_day")
            self._recount_days(db, "SELECT meter_id, channel, hour_utc, energy_wh, export_wh "
                               "FROM energy_hour", ())
            db.execute("INSERT INTO store_meta VALUES ('day_zone', ?) ON CONFLICT DO UPDATE SET "
                       "value=excluded.value", (self.days.zone_name,))

    def _recount_days(self, db, hours_sql: str, args: tuple) -> None:
        hours = {(m, c, h): (e, 0, x) for m, c, h, e, x in db.execute(hours_sql, args)}
        db.executemany("INSERT INTO energy_day VALUES (?,?,?,?,?,?)", self.days.changes(hours))

    def _incremental_vacuum_on(self, db) -> None:
        """Upgrade 3, second half: a file made before it has auto_vacuum off, and only a
        VACUUM (a full copy, once) turns it on, so that folding gives the space back. If
        another process holds the file now, the next opening does it."""
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        try:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("VACUUM")
        except sqlite3.OperationalError:
            pass

    def _recount_hours(self, db) -> None:
        """Upgrade 2: a reading ending exactly at hh:00:00 now counts in the hour before
        (rules.reading_hour). Older versions counted it in hour hh, leaving a row with
        0 Wh and 1 reading when nothing followed: recount every hour's readings (a full
        scan, once) and remove the rows that no reading's energy reaches."""
        db.create_function("cw_reading_hour", 1, reading_hour, deterministic=True)
        db.execute("DROP TABLE IF EXISTS temp.recount")
        db.execute("CREATE TEMP TABLE recount (meter_id TEXT, channel INTEGER, "
                   "hour_utc INTEGER, n INTEGER, PRIMARY KEY (meter_id, channel, hour_utc))")
        db.execute("INSERT INTO temp.recount SELECT meter_id, channel, cw_reading_hour(ts_utc), "
                   "COUNT(*) FROM reading GROUP BY 1, 2, 3")
        changed = db.execute(
            "SELECT h.meter_id, h.channel, h.hour_utc, COALESCE(r.n, 0) FROM energy_hour h "
            "LEFT JOIN temp.recount r ON r.meter_id=h.meter_id AND r.channel=h.channel "
            "AND r.hour_utc=h.hour_utc WHERE h.readings != COALESCE(r.n, 0)").fetchall()
        changed += db.execute(
            "SELECT r.meter_id, r.channel, r.hour_utc, r.n FROM temp.recount r WHERE NOT EXISTS "
            "(SELECT 1 FROM energy_hour h WHERE h.meter_id=r.meter_id AND h.channel=r.channel "
            "AND h.hour_utc=r.hour_utc)").fetchall()
        updated, removed = [], []
        for m, c, hour, n in changed:
            if n == 0 and db.execute(
                    "SELECT 1 FROM reading WHERE meter_id=? AND channel=? AND delta_t0 < ? "
                    "AND ts_utc > ? LIMIT 1", (m, c, hour + HOUR_S, hour)).fetchone() is None:
                db.execute("DELETE FROM energy_hour WHERE meter_id=? AND channel=? AND "
                           "hour_utc=?", (m, c, hour))
                removed.append((m, c, hour))
            else:
                db.execute("INSERT INTO energy_hour (meter_id, channel, hour_utc, energy_wh, "
                           "readings) VALUES (?,?,?,0,?) ON CONFLICT DO UPDATE "
                           "SET readings=excluded.readings", (m, c, hour, n))
                updated.append((m, c, hour))
        db.execute("DROP TABLE temp.recount")
        if self.observer is not None:
            self.observer.recounted(db, updated, removed)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the file (opened on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            except sqlite3.Error as e:
                raise RuntimeError(
                    f"Cannot open the embedded store {self.path}: {e}. Check that the data "
                    "directory exists and is writable.") from e
            # before the first table of a new file: folding can give space back (tiers.py);
            # only then (on a file in use it would write, and a full disk refuses that)
            if self._new_file:
                db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9); FULL also survives
            # a power cut of the server, which is what "durably stored" means here.
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
            self._all.append(db)
        return db

    _conn = connection  # the name tests and benches used before connection() was public

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside one write transaction, writers taking turns."""
        with self._write_lock:
            db = self.connection()
            with db:
                yield db

    @contextmanager
    def immediate(self) -> Iterator[sqlite3.Connection]:
        """One write transaction taken before its first read (BEGIN IMMEDIATE): what it
        reads cannot change under it, whichever process writes the file meanwhile (the
        folding beside the collector)."""
        with self._write_lock:
            db = self.connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------

    def write(self, rows: Sequence[ChannelReading], received_s: float, *,
              statuses: Sequence[tuple[str, dict, float]] = (),
              dead_letters: Sequence[DeadLetter] = ()) -> WriteResult:
        try:
            return self._write(rows, received_s, statuses, dead_letters, batched=True)
        except _StaleCache:
            # a cached newest reading was not the newest: forget them, do it row by row
            self._last.clear()
            return self._write(rows, received_s, statuses, dead_letters, batched=False)

    def _write(self, rows, received_s, statuses, dead_letters, batched: bool) -> WriteResult:
        stored = dup = 0
        # per (meter, channel, hour): [energy imported, readings, energy exported]
        hours: dict[tuple[str, int, int], list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
        # per (meter, channel): [first ts, last ts, readings] of the rows newly stored
        summary: dict[tuple[str, int], list] = {}
        touched: list[tuple[str, int, int, int]] = []  # readings inserted or re-chained
        with self._write_lock:
            db = self.connection()
            pending_last: dict = {}
            # the newest readings of their channels, inserted together (one executemany)
            inserts: list[tuple] | None = [] if batched else None
            try:
                db.execute("BEGIN IMMEDIATE")
                # Another process (a second collector) may have written since our last
                # commit: then the cached newest readings can no longer be trusted.
                version = db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._last.clear()
                conflicts = []
                for r in rows:
                    outcome = self._insert(db, r, received_s, hours, pending_last, touched,
                                           inserts)
                    if outcome is CONFLICT:
                        conflicts.append(r)
                    elif outcome:
                        stored += 1
                        s = summary.get((r.meter_id, r.channel))
                        if s is None:
                            summary[(r.meter_id, r.channel)] = [r.ts_utc, r.ts_utc, 1]
                        else:
                            s[0], s[1], s[2] = min(s[0], r.ts_utc), max(s[1], r.ts_utc), s[2] + 1
                    else:
                        dup += 1
                _insert_all(db, inserts)
                db.executemany(
                    "INSERT INTO energy_hour (meter_id, channel, hour_utc, energy_wh, readings, "
                    "export_wh) VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                    "energy_wh = energy_wh + excluded.energy_wh, "
                    "readings = readings + excluded.readings, "
                    "export_wh = export_wh + excluded.export_wh",
                    [(m, c, h, v[0], v[1], v[2]) for (m, c, h), v in hours.items()])
                db.executemany(
                    "INSERT INTO energy_day VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                    "energy_wh = energy_wh + excluded.energy_wh, "
                    "hours_mask = hours_mask | excluded.hours_mask, "
                    "export_wh = export_wh + excluded.export_wh", self.days.changes(hours))
                db.executemany(
                    "INSERT INTO channel_summary VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                    "first_ts_utc = min(first_ts_utc, excluded.first_ts_utc), "
                    "last_ts_utc = max(last_ts_utc, excluded.last_ts_utc), "
                    "last_received_utc = max(last_received_utc, excluded.last_received_utc), "
                    "readings = readings + excluded.readings",
                    [(m, c, t0, t1, received_s, n) for (m, c), (t0, t1, n) in summary.items()])
                if self.observer is not None and (touched or hours):
                    self.observer.wrote(db, touched, list(hours), received_s)
                for meter_id, status, status_s in statuses:
                    self._set_status(db, meter_id, status, status_s)
                if dead_letters:
                    self._reject(db, dead_letters)
                db.execute("COMMIT")
                self._data_version = db.execute("PRAGMA data_version").fetchone()[0]
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._last.update(pending_last)
        return WriteResult(stored=stored, duplicates=dup, conflicts=tuple(conflicts))

    def _neighbour(self, db, r: ChannelReading, before: bool):
        op, order = ("<", "DESC") if before else (">", "ASC")
        row = db.execute(
            f"SELECT {COLUMNS} FROM reading WHERE meter_id=? AND channel=? "
            f"AND (boot, seq) {op} (?, ?) "
            f"ORDER BY boot {order}, seq {order} LIMIT 1",
            (r.meter_id, r.channel, r.boot, r.seq)).fetchone()
        return row

    def _insert(self, db, r: ChannelReading, received_s, hours, pending_last, touched,
                inserts: list[tuple] | None = None):
        """True: stored; False: a redelivery; CONFLICT: same key, other values.

        The newest reading of its channel (the common case) joins `inserts` when given, for
        one executemany at the end of the batch; any other row is inserted at once, after
        those waiting, since its neighbours are looked up in the table.
        """
        key = (r.meter_id, r.channel)
        order_key = (r.boot, r.seq)
        last = pending_last.get(key) or self._last.get(key)
        newest = False
        if last is not None and order_key > last[0]:
            prev, nxt, newest = last[1], None, True  # the common case: the newest so far
        else:
            _insert_all(db, inserts)
            if last is not None and order_key == last[0]:
                return False if same_reading(last[1], r) else CONFLICT
            # among packed readings: bring them back first; before the raw tier: refused
            if not thaw_around(db, r, self.max_gap_s, COLUMNS):
                return CONFLICT
            p = self._neighbour(db, r, before=True)
            prev = _row_to_reading(p) if p else None
            nxt = self._neighbour(db, r, before=False)
        after = _row_to_reading(nxt) if nxt is not None else None
        ins = insert_reading(prev, r, after, Link(nxt[14], nxt[15]) if nxt is not None else None,
                             self.max_gap_s)
        # The export counter (solar) has its own chain over the same neighbours.
        xins = None if r.export_wh is None else insert_export(  # None without an export counter
            prev, r, after, Link(nxt[17], nxt[18]) if nxt is not None and nxt[16] is not None
            else None, self.max_gap_s)
        values = (r.meter_id, r.channel, r.boot, r.seq, r.ts_utc, int(r.ts_from_meter),
                  received_s, r.interval_s, r.energy_wh, r.power_w, r.irms_a, int(r.apparent),
                  r.vrms_v, r.pf, ins.link.energy_wh, ins.link.start_s, r.export_wh,
                  xins.link.energy_wh if xins else None, xins.link.start_s if xins else None)
        if newest and inserts is not None:
            inserts.append(values)  # newer than anything stored: cannot be a duplicate
        elif db.execute(INSERT_READING, values).rowcount == 0:
            old = db.execute(f"SELECT {COLUMNS} FROM reading WHERE meter_id=? AND channel=? "
                             "AND boot=? AND seq=?",
                             (r.meter_id, r.channel, r.boot, r.seq)).fetchone()
            return False if old is None or same_reading(_row_to_reading(old), r) else CONFLICT
        for hour, wh, n in ins.hours:
            h = hours[(r.meter_id, r.channel, hour)]
            h[0] += wh
            h[1] += n
        for hour, wh, _ in (xins.hours if xins else ()):
            hours[(r.meter_id, r.channel, hour)][2] += wh
        touched.append((r.meter_id, r.channel, r.boot, r.seq))
        if after is not None and ins.next_link is not None:
            # A reading arrived late: the one after it now follows it, not `prev`.
            db.execute("UPDATE reading SET delta_wh=?, delta_t0=? WHERE meter_id=? AND "
                       "channel=? AND boot=? AND seq=?",
                       (ins.next_link.energy_wh, ins.next_link.start_s, after.meter_id,
                        after.channel, after.boot, after.seq))
            if xins is not None and xins.next_link is not None:
                db.execute("UPDATE reading SET export_delta_wh=?, export_delta_t0=? WHERE "
                           "meter_id=? AND channel=? AND boot=? AND seq=?",
                           (xins.next_link.energy_wh, xins.next_link.start_s, after.meter_id,
                            after.channel, after.boot, after.seq))
            touched.append((after.meter_id, after.channel, after.boot, after.seq))
        elif last is None or order_key > last[0]:
            pending_last[key] = (order_key, r, ins.link)
        return True

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        with self.transaction() as db:
            self._set_status(db, meter_id, status, received_s)

    def _set_status(self, db, meter_id: str, status: dict, received_s: float) -> None:
        db.execute("INSERT INTO meter_status VALUES (?,?,?) ON CONFLICT DO UPDATE SET "
                   "status_json=excluded.status_json, received_utc=excluded.received_utc",
                   (meter_id, json.dumps(status), received_s))
        if self.observer is not None:
            self.observer.status_set(db, meter_id, received_s)

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        with self.transaction() as db:
            self._reject(db, [DeadLetter(reason, topic, payload, detail, received_s)])

    @staticmethod
    def _reject(db, letters: Sequence[DeadLetter]) -> None:
        db.executemany("INSERT INTO rejected (received_utc, reason, topic, payload_head, "
                       "detail) VALUES (?,?,?,?,?)",
                       [(d.received_s, d.reason, d.topic[:256],
                         bytes(d.payload[:DEAD_LETTER_HEAD_BYTES]), d.detail[:500])
                        for d in letters])

    # -- reading -------------------------------------------------------------------

    def latest(self, meter_id: str) -> list[ChannelReading]:
        db = self.connection()
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
        sql = ("SELECT hour_utc, SUM(energy_wh), SUM(readings), SUM(export_wh) FROM energy_hour "
               "WHERE meter_id=? AND hour_utc>=? AND hour_utc<?")
        args: list = [meter_id, int(start_s), end_s]
        if channel is not None:
            sql += " AND channel=?"
            args.append(channel)
        sql += " GROUP BY hour_utc ORDER BY hour_utc"
        return [HourEnergy(int(h), float(e), int(n), float(x))
                for h, e, n, x in self.connection().execute(sql, args)]

    def daily(self, meter_id: str, start_s: float, end_s: float, timezone: str,
              channel: int | None = None) -> list[DayEnergy] | None:
        """Energy per local day with start_s <= day < end_s (local midnights), summed over
        channels unless one is named, with the hours it covers; None when the days asked
        for are not the store's (another time zone): then sum hourly()."""
        if timezone != self.days.zone_name or not self.days.whole_hours:
            return None
        sql = ("SELECT day_utc, SUM(energy_wh), hours_mask, SUM(export_wh) FROM energy_day "
               "WHERE meter_id=? AND day_utc>=? AND day_utc<?")
        args: list = [meter_id, int(start_s), end_s]
        if channel is not None:
            sql += " AND channel=?"
            args.append(channel)
        out: dict[int, list] = {}
        for day, e, mask, x in self.connection().execute(sql + " GROUP BY day_utc, channel", args):
            d = out.setdefault(day, [0.0, 0, 0.0])
            d[0] += e
            d[1] |= mask
            d[2] += x
        return [DayEnergy(day, e, mask, x) for day, (e, mask, x) in sorted(out.items())]

    def readings(self, meter_id: str, start_s: float, end_s: float,
                 limit: int | None = None) -> list[ChannelReading]:
        """From each tier that holds part of the range: hot rows, packed blocks, and one
        reading per aggregate step (see tiers.py) for what was folded."""
        sql = (f"SELECT {COLUMNS} FROM reading WHERE meter_id=? AND ts_utc>=? AND ts_utc<? "
               "ORDER BY ts_utc, channel")
        args: list = [meter_id, start_s, end_s]
        db = self.connection()
        db.execute("BEGIN")  # one snapshot: a fold running meanwhile moves nothing twice
        try:
            cold = list(cold_readings(db, meter_id, start_s, end_s, self.max_gap_s))
            if not cold and limit is not None:
                sql += " LIMIT ?"
                args.append(limit)
            hot = [_row_to_reading(r) for r in db.execute(sql, args)]
        finally:
            db.execute("COMMIT")
        if not cold:
            return hot
        rows = sorted(cold + hot, key=lambda r: (r.ts_utc, r.channel))
        return rows if limit is None else rows[:limit]

    def meters(self) -> list[MeterSummary]:
        # From the per-channel summary kept at write time: O(meters), not O(readings).
        db = self.connection()
        db.execute("BEGIN")  # one snapshot for both queries
        try:
            rows = db.execute("SELECT meter_id, channel, first_ts_utc, last_ts_utc, "
                              "last_received_utc, readings FROM channel_summary "
                              "ORDER BY meter_id, channel").fetchall()
            statuses = dict(db.execute("SELECT meter_id, status_json FROM meter_status"))
        finally:
            db.execute("COMMIT")
        return summarise(rows, statuses)

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        """Erase a meter's readings and hourly energy with start_s <= time < end_s (a
        household leaving and asking for its data to be deleted). Returns readings erased."""
        with self.immediate() as db:
            n = delete_cold(db, meter_id, start_s, end_s, self.max_gap_s, COLUMNS)
            n += db.execute("DELETE FROM reading WHERE meter_id=? AND ts_utc>=? AND ts_utc<?",
                            (meter_id, start_s, end_s)).rowcount
            rewarm_newest(db, meter_id, self.max_gap_s, COLUMNS)
            db.execute("DELETE FROM energy_hour WHERE meter_id=? AND hour_utc>=? AND hour_utc<?",
                       (meter_id, int(start_s), end_s))
            # the days the deletion reaches, counted again from the hours left
            lo = self.days.of_hour(int(max(0.0, start_s) // HOUR_S) * HOUR_S)[0]
            hi = self.days.next_day(self.days.of_hour(
                int((min(end_s, 4e9) - 1) // HOUR_S) * HOUR_S)[0])
            db.execute("DELETE FROM energy_day WHERE meter_id=? AND day_utc>=? AND day_utc<?",
                       (meter_id, lo, hi))
            self._recount_days(db, "SELECT meter_id, channel, hour_utc, energy_wh, export_wh FROM "
                               "energy_hour WHERE meter_id=? AND hour_utc>=? AND hour_utc<?",
                               (meter_id, lo, hi))
            # The first or last time may have gone: recount the meter's channels from
            # what is left (a scan of one meter, for a rare request).
            db.execute("DELETE FROM channel_summary WHERE meter_id=?", (meter_id,))
            db.execute(f"INSERT INTO channel_summary {SUMMARY_SCAN} WHERE meter_id=? "
                       "GROUP BY meter_id, channel", (meter_id,))
            db.executemany(
                "INSERT INTO channel_summary VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "first_ts_utc = min(first_ts_utc, excluded.first_ts_utc), "
                "last_ts_utc = max(last_ts_utc, excluded.last_ts_utc), "
                "last_received_utc = max(last_received_utc, excluded.last_received_utc), "
                "readings = readings + excluded.readings", cold_summary(db, meter_id))
            if self.observer is not None:
                self.observer.deleted(db, meter_id, start_s, end_s)
            self._last.clear()  # the newest readings may be gone
        return n

    # -- the tiers (tiers.py) -----------------------------------------------------------

    def fold(self, now_s: float, tiers: Tiers, *, max_readings: int | None = None) -> FoldReport:
        """Move readings down the tiers as of now_s (short transactions, beside ingest)."""
        return fold(self, now_s, tiers, max_readings=max_readings)

    def storage_report(self, tiers: Tiers, now_s: float | None = None) -> StorageReport:
        return _storage_report(self, tiers, now_s)

    def rejections(self) -> dict[str, int]:
        return dict(self.connection().execute(
            "SELECT reason, COUNT(*) FROM rejected GROUP BY reason ORDER BY reason"))

    def close(self) -> None:
        for db in self._all:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._all.clear()
        self._local = threading.local()
