"""The embedded store's tiers and the folding that moves readings down them as they age.

    hot rows (table reading)      the newest hot_hours, and always each channel's newest
      -> packed raw blocks        up to raw_days old, lossless (packing.py), one per hour
      -> aggregates               aggregate_s steps, kept aggregate_days more
    energy_hour                   for ever: every household figure is read from it

Folding only moves readings: the hourly energy is never touched, so every figure stays the
same. It runs in short transactions (one channel's chunk at a time) beside the collector,
from `citizenwatt admin fold` or a timer. A late reading that lands among packed readings
thaws the blocks around it back into hot rows (sqlite.py calls thaw_around), so the
counting rules see its neighbours; one older than the raw tier cannot be chained any more
and goes to the dead letters. readings() reads each range from the tier that holds it.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .packing import (
    AGGREGATE_COLUMNS,
    StoredReading,
    aggregate,
    aggregate_readings,
    decode,
    encode,
    merge_aggregates,
    pack_block,
    unpack_block,
)
from .port import HOUR_S, ChannelReading
from .rules import Link

DAY_S = 86_400
BLOCK_MAX_READINGS = 1000
VACUUM_PAGES = 2000  # pages returned to the file system per short transaction


@dataclass(frozen=True, slots=True)
class Tiers:
    """How long each tier keeps readings (seconds); the settings' store section."""

    raw_s: float = 90 * DAY_S
    aggregate_s: int = 60
    aggregate_keep_s: float = 730 * DAY_S
    hot_s: float = 24 * HOUR_S

    @classmethod
    def from_settings(cls, store) -> Tiers:
        return cls(store.raw_days * DAY_S, store.aggregate_s, store.aggregate_days * DAY_S,
                   store.hot_hours * HOUR_S)


@dataclass
class FoldReport:
    packed: int = 0  # hot readings packed into blocks
    blocks: int = 0
    aggregated: int = 0  # raw readings folded into aggregates
    aggregate_rows: int = 0
    expired: int = 0  # aggregate rows past their retention, erased
    bytes_freed: int = 0  # returned to the file system
    ledger_pruned: int = 0  # InfluxDB: readings erased from the collector's ledger
    done: bool = True  # False: the budget ran out, call again

    def add(self, other: FoldReport) -> None:
        for k in ("packed", "blocks", "aggregated", "aggregate_rows", "expired", "bytes_freed"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


# -- the days, kept at write time -------------------------------------------------------------

class LocalDays:
    """The local days of one time zone, for the day tier: the local midnight starting the day
    of a UTC hour, and the hour's bit in that day's mask (23, 24 or 25 hours)."""

    def __init__(self, zone_name: str):
        self.zone_name = zone_name
        self.tz = ZoneInfo(zone_name)
        self._cache: dict[int, tuple[int, int]] = {}
        # days made of whole UTC hours (every European zone): else the API sums the hours
        self.whole_hours = all(
            (datetime(y, m, 1, tzinfo=self.tz).utcoffset() or timedelta()).total_seconds() % HOUR_S == 0
            for y in range(2020, 2040) for m in (1, 7))

    def of_hour(self, hour_utc: int) -> tuple[int, int]:
        hit = self._cache.get(hour_utc)
        if hit is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            local = datetime.fromtimestamp(hour_utc, self.tz)
            day = int(datetime(local.year, local.month, local.day, tzinfo=self.tz).timestamp())
            hit = self._cache[hour_utc] = (day, 1 << max(0, (hour_utc - day) // HOUR_S))
        return hit

    def next_day(self, day_utc: int) -> int:
        d = datetime.fromtimestamp(day_utc, self.tz).date() + timedelta(days=1)
        return int(datetime(d.year, d.month, d.day, tzinfo=self.tz).timestamp())

    def changes(self, hours: dict) -> list[tuple[str, int, int, float, int, float]]:
        """What a write's hour changes {(meter, channel, hour): [Wh, readings, Wh exported]}
        add to the days: (meter, channel, day, Wh, mask of the hours now stored, exported)."""
        days: dict[tuple[str, int, int], list] = {}
        for (m, c, h), v in hours.items():
            day, bit = self.of_hour(h)
            d = days.setdefault((m, c, day), [0.0, 0, 0.0])
            d[0] += v[0]
            d[1] |= bit
            d[2] += v[2]
        return [(m, c, day, wh, mask, x) for (m, c, day), (wh, mask, x) in days.items()]


# -- the hot rows' columns (sqlite.COLUMNS order) -------------------------------------------

def stored_from_row(r) -> StoredReading:
    reading = ChannelReading(
        meter_id=r[0], channel=r[1], boot=r[2], seq=r[3], ts_utc=r[4], ts_from_meter=bool(r[5]),
        interval_s=r[7], energy_wh=r[8], power_w=r[9], irms_a=r[10], apparent=bool(r[11]),
        vrms_v=r[12], pf=r[13], export_wh=r[16])
    return StoredReading(reading, r[6], Link(r[14], r[15]),
                         None if r[17] is None else Link(r[17], r[18]))


def row_from_stored(s: StoredReading) -> tuple:
    r = s.reading
    x = s.export_link
    return (r.meter_id, r.channel, r.boot, r.seq, r.ts_utc, int(r.ts_from_meter), s.received_utc,
            r.interval_s, r.energy_wh, r.power_w, r.irms_a, int(r.apparent), r.vrms_v, r.pf,
            s.link.energy_wh, s.link.start_s, r.export_wh, x and x.energy_wh, x and x.start_s)


def series_id(db: sqlite3.Connection, meter_id: str, channel: int,
              create: bool = False) -> int | None:
    row = db.execute("SELECT id FROM series WHERE meter_id=? AND channel=?",
                     (meter_id, channel)).fetchone()
    if row is None and create:
        return db.execute("INSERT INTO series (meter_id, channel) VALUES (?,?)",
                          (meter_id, channel)).lastrowid
    return row[0] if row else None


# -- late readings among packed ones ----------------------------------------------------------

def _thaw(db, block_id: int, meter_id: str, channel: int, max_gap_s: float, columns: str) -> None:
    data, links = db.execute("SELECT data, links FROM reading_block WHERE id=?",
                             (block_id,)).fetchone()
    rows = [row_from_stored(s) for s in unpack_block(meter_id, channel, data, links, max_gap_s)]
    marks = ",".join("?" * len(columns.split(",")))
    db.executemany(f"INSERT INTO reading ({columns}) VALUES ({marks})", rows)
    db.execute("DELETE FROM reading_block WHERE id=?", (block_id,))


def thaw_around(db, r: ChannelReading, max_gap_s: float, columns: str) -> bool:
    """Before a reading that is not its channel's newest is put in place: bring the packed
    blocks holding it or its neighbours back into hot rows. False: it falls before the
    channel's raw readings (folded into aggregates), where it cannot be chained."""
    sid = series_id(db, r.meter_id, r.channel)
    if sid is None:
        return True
    key = (r.boot, r.seq)
    start = db.execute("SELECT boot, seq FROM chain_start WHERE series=?", (sid,)).fetchone()
    if start is not None and key < tuple(start):
        return False
    hot = "SELECT boot, seq FROM reading WHERE meter_id=? AND channel=? AND (boot, seq) "
    before = db.execute(hot + "< (?,?) ORDER BY boot DESC, seq DESC LIMIT 1",
                        (r.meter_id, r.channel, *key)).fetchone()
    after = db.execute(hot + "> (?,?) ORDER BY boot, seq LIMIT 1",
                       (r.meter_id, r.channel, *key)).fetchone()
    blk = ("SELECT id, boot, seq, last_boot, last_seq FROM reading_block WHERE series=? "
           "AND (boot, seq) ")
    bp = db.execute(blk + "<= (?,?) ORDER BY boot DESC, seq DESC LIMIT 1", (sid, *key)).fetchone()
    bn = db.execute(blk + "> (?,?) ORDER BY boot, seq LIMIT 1", (sid, *key)).fetchone()
    # the block before holds the reading, or its last is the nearest reading before it
    if bp is not None and (tuple(bp[3:5]) >= key or before is None or tuple(before) < tuple(bp[3:5])):
        _thaw(db, bp[0], r.meter_id, r.channel, max_gap_s, columns)
    if bn is not None and (after is None or tuple(after) > tuple(bn[1:3])):
        _thaw(db, bn[0], r.meter_id, r.channel, max_gap_s, columns)
    return True


# -- folding ----------------------------------------------------------------------------------

def _pack_series(db, meter_id: str, channel: int, sid: int, cutoff: float, max_gap_s: float,
                 limit: int, columns: str) -> tuple[int, int]:
    """Pack a prefix (in key order) of the channel's hot rows older than cutoff, never its
    newest. Returns (readings packed, blocks made)."""
    newest = db.execute("SELECT boot, seq FROM reading WHERE meter_id=? AND channel=? "
                        "ORDER BY boot DESC, seq DESC LIMIT 1", (meter_id, channel)).fetchone()
    if newest is None:
        return 0, 0
    rows = db.execute(f"SELECT {columns} FROM reading WHERE meter_id=? AND channel=? AND "
                      "(boot, seq) < (?,?) ORDER BY boot, seq LIMIT ?",
                      (meter_id, channel, *newest, limit)).fetchall()
    prefix = []
    for row in rows:
        if row[4] >= cutoff:
            break
        prefix.append(stored_from_row(row))
    if not prefix:
        return 0, 0
    first = (prefix[0].reading.boot, prefix[0].reading.seq)
    # blocks made earlier between these rows (thawed ones sit among them): never straddle one
    bounds = [tuple(b) for b in db.execute(
        "SELECT boot, seq FROM reading_block WHERE series=? AND (boot, seq) > (?,?) "
        "ORDER BY boot, seq LIMIT ?", (sid, *first, limit))]
    groups: list[list[StoredReading]] = []
    hour = None
    for s in prefix:
        key = s.reading.order_key
        crossed = False
        while bounds and key > bounds[0]:
            bounds.pop(0)
            crossed = True
        h = math.floor(s.reading.ts_utc / HOUR_S)
        if not groups or crossed or h != hour or len(groups[-1]) >= BLOCK_MAX_READINGS:
            groups.append([])
        groups[-1].append(s)
        hour = h
    for g in groups:
        data, links = pack_block(g, max_gap_s)
        ts = [s.reading.ts_utc for s in g]
        db.execute("INSERT INTO reading_block (series, boot, seq, last_boot, last_seq, t_min, "
                   "t_max, received_max, readings, data, links) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (sid, g[0].reading.boot, g[0].reading.seq, g[-1].reading.boot,
                    g[-1].reading.seq, min(ts), max(ts), max(s.received_utc for s in g), len(g),
                    data, links))
    last = prefix[-1].reading
    db.execute("DELETE FROM reading WHERE meter_id=? AND channel=? AND (boot, seq) >= (?,?) "
               "AND (boot, seq) <= (?,?)", (meter_id, channel, *first, last.boot, last.seq))
    return len(prefix), len(groups)


def _merge_aggregates(db, sid: int, rows: list[tuple], step_s: int) -> int:
    """Add aggregate rows (AGGREGATE_COLUMNS) to their hours' packed rows."""
    by_hour: dict[int, list[tuple]] = {}
    for row in rows:
        by_hour.setdefault(math.floor(row[2] / HOUR_S) * HOUR_S, []).append(row)
    for hour, new in by_hour.items():
        old = db.execute("SELECT id, data FROM reading_agg WHERE series=? AND hour_utc=?",
                         (sid, hour)).fetchone()
        merged = merge_aggregates((decode(old[1], AGGREGATE_COLUMNS) if old else []) + new,
                                  step_s)
        ts = [r[2] for r in merged]
        db.execute("INSERT INTO reading_agg (series, hour_utc, t_min, t_max, readings, data) "
                   "VALUES (?,?,?,?,?,?) ON CONFLICT (series, hour_utc) DO UPDATE SET "
                   "t_min=excluded.t_min, t_max=excluded.t_max, readings=excluded.readings, "
                   "data=excluded.data",
                   (sid, hour, min(ts), max(ts), sum(r[-1] for r in merged),
                    encode(merged, AGGREGATE_COLUMNS)))
    return len(rows)


def _set_chain_start(db, meter_id: str, channel: int, sid: int) -> None:
    keys = [tuple(k) for k in (
        db.execute("SELECT boot, seq FROM reading_block WHERE series=? ORDER BY boot, seq "
                   "LIMIT 1", (sid,)).fetchone(),
        db.execute("SELECT boot, seq FROM reading WHERE meter_id=? AND channel=? "
                   "ORDER BY boot, seq LIMIT 1", (meter_id, channel)).fetchone()) if k]
    if keys:
        db.execute("INSERT INTO chain_start VALUES (?,?,?) ON CONFLICT DO UPDATE SET "
                   "boot=excluded.boot, seq=excluded.seq", (sid, *min(keys)))


def _aggregate_series(db, meter_id: str, channel: int, sid: int, horizon: float, step_s: int,
                      max_gap_s: float, limit_blocks: int) -> tuple[int, int]:
    """Fold the channel's oldest blocks (a key prefix) whose readings are all older than
    horizon into aggregates. Returns (readings folded, aggregate rows made)."""
    blocks = db.execute("SELECT id, boot, seq, t_max, data, links FROM reading_block "
                        "WHERE series=? ORDER BY boot, seq LIMIT ?", (sid, limit_blocks)).fetchall()
    hot_first = db.execute("SELECT boot, seq FROM reading WHERE meter_id=? AND channel=? "
                           "ORDER BY boot, seq LIMIT 1", (meter_id, channel)).fetchone()
    folded = made = 0
    for bid, boot, seq, t_max, data, links in blocks:
        if t_max >= horizon or (hot_first is not None and tuple(hot_first) < (boot, seq)):
            break
        readings = unpack_block(meter_id, channel, data, links, max_gap_s)
        made += _merge_aggregates(db, sid, aggregate(readings, step_s), step_s)
        folded += len(readings)
        db.execute("DELETE FROM reading_block WHERE id=?", (bid,))
    if folded:
        _set_chain_start(db, meter_id, channel, sid)
    return folded, made


def incremental_vacuum(store) -> int:
    """Return the free pages to the file system, a few thousand per transaction."""
    freed = 0
    while True:
        with store.immediate() as db:
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            if not free:
                return freed
            db.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
            left = db.execute("PRAGMA freelist_count").fetchone()[0]
        if left >= free:  # auto_vacuum is off in this file (not upgraded yet)
            return freed
        freed += free - left


def fold(store, now_s: float, tiers: Tiers, *, max_readings: int | None = None,
         chunk: int = 5000) -> FoldReport:
    """Move readings down the tiers as of now_s, each channel's chunk in its own short
    transaction; stop after about max_readings readings moved (None: all that are due).
    `store` is a SqliteStore."""
    columns = store.columns
    report = FoldReport()
    with store.immediate() as db:
        db.execute("INSERT OR IGNORE INTO series (meter_id, channel) "
                   "SELECT meter_id, channel FROM channel_summary")
    db = store.connection()
    series = db.execute("SELECT id, meter_id, channel FROM series ORDER BY id").fetchall()
    cutoff, horizon = now_s - tiers.hot_s, now_s - tiers.raw_s
    budget = math.inf if max_readings is None else max_readings

    for sid, meter_id, channel in series:
        while budget > 0:
            with store.immediate() as db:
                n, blocks = _pack_series(db, meter_id, channel, sid, cutoff, store.max_gap_s,
                                         int(min(chunk, budget)), columns)
            report.packed += n
            report.blocks += blocks
            budget -= n
            if n == 0:
                break
        while budget > 0:
            with store.immediate() as db:
                n, rows = _aggregate_series(db, meter_id, channel, sid, horizon,
                                            tiers.aggregate_s, store.max_gap_s,
                                            max(1, int(min(chunk, budget)) // 360))
            report.aggregated += n
            report.aggregate_rows += rows
            budget -= n
            if n == 0:
                break
    with store.immediate() as db:
        report.expired = db.execute("DELETE FROM reading_agg WHERE t_max < ?",
                                    (horizon - tiers.aggregate_keep_s,)).rowcount
    report.done = budget > 0
    if report.packed or report.aggregated or report.expired:
        page = store.connection().execute("PRAGMA page_size").fetchone()[0]
        report.bytes_freed = incremental_vacuum(store) * page
    return report


# -- reading and deleting the cold tiers -----------------------------------------------------

def cold_readings(db, meter_id: str, start_s: float, end_s: float,
                  max_gap_s: float) -> Iterable[ChannelReading]:
    """The meter's readings with start_s <= ts < end_s from the packed and aggregate tiers."""
    for sid, channel in db.execute("SELECT id, channel FROM series WHERE meter_id=?",
                                   (meter_id,)).fetchall():
        for data, links in db.execute(
                "SELECT data, links FROM reading_block WHERE series=? AND t_min < ? AND t_max >= ?",
                (sid, end_s, start_s)).fetchall():
            for s in unpack_block(meter_id, channel, data, links, max_gap_s):
                if start_s <= s.reading.ts_utc < end_s:
                    yield s.reading
        for (data,) in db.execute(
                "SELECT data FROM reading_agg WHERE series=? AND t_min < ? AND t_max >= ?",
                (sid, end_s, start_s)).fetchall():
            for r in aggregate_readings(meter_id, channel, decode(data, AGGREGATE_COLUMNS)):
                if start_s <= r.ts_utc < end_s:
                    yield r


def delete_cold(db, meter_id: str, start_s: float, end_s: float, max_gap_s: float,
                columns: str) -> int:
    """Before a deletion of [start_s, end_s[: thaw the blocks it reaches (the hot rows' delete
    then takes their readings), and erase the aggregates in it. Returns the readings the
    erased aggregates stood for."""
    erased = 0
    for sid, channel in db.execute("SELECT id, channel FROM series WHERE meter_id=?",
                                   (meter_id,)).fetchall():
        for (bid,) in db.execute("SELECT id FROM reading_block WHERE series=? AND t_min < ? AND "
                                 "t_max >= ?", (sid, end_s, start_s)).fetchall():
            _thaw(db, bid, meter_id, channel, max_gap_s, columns)
        for aid, data in db.execute("SELECT id, data FROM reading_agg WHERE series=? AND "
                                    "t_min < ? AND t_max >= ?", (sid, end_s, start_s)).fetchall():
            rows = decode(data, AGGREGATE_COLUMNS)
            keep = [r for r in rows if not start_s <= r[2] < end_s]
            erased += sum(r[-1] for r in rows) - sum(r[-1] for r in keep)
            if keep:
                db.execute("UPDATE reading_agg SET t_min=?, t_max=?, readings=?, data=? WHERE id=?",
                           (min(r[2] for r in keep), max(r[2] for r in keep),
                            sum(r[-1] for r in keep), encode(keep, AGGREGATE_COLUMNS), aid))
            else:
                db.execute("DELETE FROM reading_agg WHERE id=?", (aid,))
    return erased


def rewarm_newest(db, meter_id: str, max_gap_s: float, columns: str) -> None:
    """After a deletion: a channel whose hot rows are all gone gets its last block back, so
    that its newest reading is a hot row again (latest() and the chain read it there)."""
    for sid, channel in db.execute("SELECT id, channel FROM series WHERE meter_id=?",
                                   (meter_id,)).fetchall():
        if db.execute("SELECT 1 FROM reading WHERE meter_id=? AND channel=? LIMIT 1",
                      (meter_id, channel)).fetchone() is None:
            last = db.execute("SELECT id FROM reading_block WHERE series=? ORDER BY boot DESC, "
                              "seq DESC LIMIT 1", (sid,)).fetchone()
            if last is not None:
                _thaw(db, last[0], meter_id, channel, max_gap_s, columns)


def cold_summary(db, meter_id: str) -> list[tuple]:
    """(meter, channel, first ts, last ts, last received, readings) of the meter's packed and
    aggregate tiers, per channel: added to the hot rows' when a deletion recounts."""
    return db.execute(
        "SELECT s.meter_id, s.channel, MIN(t.t_min), MAX(t.t_max), MAX(t.received), "
        "SUM(t.readings) FROM series s JOIN (SELECT series, t_min, t_max, received_max AS "
        "received, readings FROM reading_block UNION ALL SELECT series, t_min, t_max, t_max, "
        "readings FROM reading_agg) t ON t.series = s.id WHERE s.meter_id=? "
        "GROUP BY s.meter_id, s.channel", (meter_id,)).fetchall()


# -- the storage report ------------------------------------------------------------------------

@dataclass
class TierUsage:
    tier: str  # "hot", "raw", "aggregate", "hour", "other"
    rows: int  # stored rows (a packed block or aggregate row counts once)
    readings: int  # channel readings they hold (hours: hour rows)
    bytes: int
    oldest_utc: float | None
    newest_utc: float | None


@dataclass
class StorageReport:
    tiers: list[TierUsage]
    file_bytes: int
    free_bytes: int  # pages inside the file not yet returned to the file system
    channels: int
    readings_per_year: float  # at the channels' recent rate
    growth_bytes_per_year: float  # in steady state, with the retention settings
    notes: list[str] = field(default_factory=list)


TABLE_TIER = {"reading": "hot", "sqlite_autoindex_reading_1": "hot",
              "reading_block": "raw", "reading_block_key": "raw", "reading_block_time": "raw",
              "reading_agg": "aggregate", "reading_agg_hour": "aggregate",
              "energy_hour": "hour"}


def table_bytes(db) -> dict[str, int]:
    """Bytes on disk per tier (SQLite's dbstat: every page of each table and its indexes)."""
    out: dict[str, int] = {}
    try:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # a SQLite built without dbstat
        return out
    for name, size in rows:
        tier = TABLE_TIER.get(name, "other")
        out[tier] = out.get(tier, 0) + size
    return out


def storage_report(store, tiers: Tiers, now_s: float | None = None) -> StorageReport:
    """Rows, bytes, oldest and newest per tier, and the projected yearly growth for the
    channels now sending (their readings over the last day, at this file's bytes per reading
    in each tier; where a tier is still empty, packing's typical size is assumed)."""
    now_s = time.time() if now_s is None else now_s
    db = store.connection()
    db.execute("BEGIN")
    try:
        hot = db.execute("SELECT COUNT(*), MIN(ts_utc), MAX(ts_utc) FROM reading").fetchone()
        raw = db.execute("SELECT COUNT(*), COALESCE(SUM(readings), 0), MIN(t_min), MAX(t_max) "
                         "FROM reading_block").fetchone()
        agg = db.execute("SELECT COUNT(*), COALESCE(SUM(readings), 0), MIN(t_min), MAX(t_max) "
                         "FROM reading_agg").fetchone()
        hour = db.execute("SELECT COUNT(*), MIN(hour_utc), MAX(hour_utc) FROM energy_hour").fetchone()
        recent = db.execute("SELECT COUNT(*) FROM reading WHERE ts_utc >= ?",
                            (now_s - DAY_S,)).fetchone()[0]
        channels = db.execute("SELECT COUNT(*) FROM channel_summary WHERE last_ts_utc >= ?",
                              (now_s - DAY_S,)).fetchone()[0]
        sizes = table_bytes(db)
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        db.execute("COMMIT")
    usage = [
        TierUsage("hot", hot[0], hot[0], sizes.get("hot", 0), hot[1], hot[2]),
        TierUsage("raw", raw[0], raw[1], sizes.get("raw", 0), raw[2], raw[3]),
        TierUsage("aggregate", agg[0], agg[1], sizes.get("aggregate", 0), agg[2], agg[3]),
        TierUsage("hour", hour[0], hour[0], sizes.get("hour", 0), hour[1],
                  None if hour[2] is None else hour[2] + HOUR_S),
        TierUsage("other", 0, 0, sizes.get("other", 0), None, None),
    ]
    per_year = recent * 365.0
    growth = projected_growth(usage, per_year, channels, tiers)
    return StorageReport(usage, page * pages, page * free, channels, per_year, growth)


# Bytes per channel reading assumed where a tier is still empty: measured by
# bench/storage_size.py on 10 s readings (README).
TYPICAL_BYTES = {"hot": 90.0, "raw": 8.0, "aggregate": 3.0, "hour": 40.0}


def projected_growth(usage: list[TierUsage], readings_per_year: float, channels: int,
                     tiers: Tiers) -> float:
    """Bytes one more year adds in steady state: the raw tier holds raw_s of readings, the
    aggregates aggregate_keep_s of steps, and the hours grow by a year's hours per channel
    (kept for ever); the hot rows stay the same size."""
    def per_reading(tier: str) -> float:
        u = next(x for x in usage if x.tier == tier)
        return u.bytes / u.readings if u.readings >= 1000 else TYPICAL_BYTES[tier]

    year = 365 * DAY_S
    rate = readings_per_year / year  # readings per second, all channels
    raw = rate * min(tiers.raw_s, year) * per_reading("raw")
    folded = rate * min(tiers.aggregate_keep_s, max(0.0, year - tiers.raw_s))
    hours = channels * year / HOUR_S * per_reading("hour")
    return raw + folded * per_reading("aggregate") + hours
