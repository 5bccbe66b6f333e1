"""The InfluxDB backend of the storage port: writes through influxdb-client's WriteApi
(/api/v2/write), reads through InfluxQL on /query, so it runs on InfluxDB 1.8+, 2.x and 3.x.

The collector keeps a local ledger (a SQLite file, WAL mode) that is at once the chain state
of each channel (an embedded SqliteStore, so the counting is the very same), the durable
spool towards InfluxDB and the dead-letter store. A batch is
acknowledged to the broker once it is committed there; a shipper thread then writes the
points it changed to InfluxDB in commit order, and removes them from the spool only once
InfluxDB has accepted them. InfluxDB down or slow: the spool grows, the collector keeps
reading from the broker, and the spool drains when InfluxDB is back. See docs/collector.md.

Schema (one measurement for readings):
  reading,channel=<c>,meter=<id> boot=..i,seq=..i,energy_wh=..,power_w=..,delta_wh=.. <t>
    (and export_wh, export_delta_wh, export_delta_t0 for a channel that exports)
  energy_hour,channel=<c>,meter=<id> energy_wh=..,readings=..i,export_wh=.. <hour start>
  meter_status,meter=<id> status_json="..",received_utc=.. <received>
A point's identity in InfluxDB is measurement + tags + time, so rewriting a point replaces
it: <t> is the reading's time in ms with (boot mod 1000, seq mod 1000) in the sub-ms digits,
which keeps readings of one channel apart and makes every rewrite land on the same point.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .port import (  # noqa: F401  (the errors, importable from here as before)
    HOUR_S,
    ChannelReading,
    DeadLetter,
    DeletionRefused,
    HourEnergy,
    MeterSummary,
    QueryFailed,
    SpoolFull,
    StoreUnavailable,
    WriteResult,
)
from .rules import MAX_GAP_S
from .sqlite import COLUMNS, SqliteStore, stored_status
from .tiers import Tiers
from .whole_chain import chain_hours, chain_reading

log = logging.getLogger("citizenwatt.store.influx")

READING_MEASUREMENT = "reading"
HOUR_MEASUREMENT = "energy_hour"
AGG_MEASUREMENT = "reading_agg"
# The tiers on InfluxDB 1.x (StoreSettings.influx_tiers): readings in a retention policy of
# raw_days, their aggregates (a continuous query) in one of raw_days + aggregate_days; the
# hours, statuses and the rest stay in the bucket's own policy, kept for ever.
RAW_RP, AGG_RP, AGG_CQ = "cw_raw", "cw_agg", "cw_reading_agg"
LEDGER_PRUNE_EVERY_S = 600.0
STATUS_MEASUREMENT = "meter_status"
# store.hours = "readings": a household's deletion, kept so that hours are never counted
# again over the span, nor a reading a late host ships into it shown (store/whole_chain.py)
DELETED_MEASUREMENT = "deleted_span"
KIND_READING, KIND_HOUR, KIND_STATUS = 0, 1, 2
# Deletions (kinds from 3 up) run alone, in spool order: a meter's readings and hours over a
# period (a household's request), or one hour point (an hour the upgrade to version 2 removed).
KIND_DELETE, KIND_DELETE_HOUR = 3, 4
LEASE_TTL_S = 15.0
# Latest time InfluxDB can hold (int64 ns is 2262): an open-ended deletion stops here.
MAX_POINT_MS = 9_000_000_000_000

SPOOL_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, meter_id TEXT NOT NULL,
    channel INTEGER NOT NULL, k1 INTEGER NOT NULL, k2 INTEGER NOT NULL,
    spooled_utc REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS shipper_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, expires_utc REAL NOT NULL
);
INSERT OR IGNORE INTO shipper_lease VALUES (1, '', 0);
CREATE INDEX IF NOT EXISTS outbox_removals ON outbox (id) WHERE kind >= 3;
"""


def point_time_ns(ts_utc: float, boot: int, seq: int) -> int:
    """The reading's InfluxDB timestamp: ms of ts_utc, then boot and seq in the sub-ms digits.

    Two readings of one channel collide only if they end in the same millisecond and their
    boot and seq agree modulo 1000, which a meter (intervals of seconds, a clock that moves
    forward within a boot) cannot produce.
    """
    return round(ts_utc * 1000) * 1_000_000 + (boot % 1000) * 1000 + seq % 1000


def _f(x: float) -> str:
    return repr(float(x))


def reading_line(row: tuple) -> str:
    """Line protocol for one ledger row (columns as in sqlite.COLUMNS)."""
    (m, c, boot, seq, ts, from_meter, received, interval_s, energy, power, irms, apparent,
     vrms, pf, delta, delta_t0, export, export_delta, export_delta_t0) = row
    extra = ""
    if vrms is not None:
        extra += ",vrms_v=" + _f(vrms)
    if pf is not None:
        extra += ",pf=" + _f(pf)
    if export is not None:
        extra += (f",export_wh={_f(export)},export_delta_wh={_f(export_delta)},"
                  f"export_delta_t0={_f(export_delta_t0)}")
    # Meter ids are a-z 0-9 - _ (wire contract) and channels ints: nothing to escape in tags.
    return (f"{READING_MEASUREMENT},channel={c},meter={m} boot={boot}i,seq={seq}i,"
            f"ts_utc={_f(ts)},ts_from_meter={'true' if from_meter else 'false'},"
            f"received_utc={_f(received)},interval_s={_f(interval_s)},energy_wh={_f(energy)},"
            f"power_w={_f(power)},irms_a={_f(irms)},apparent={'true' if apparent else 'false'},"
            f"delta_wh={_f(delta)},delta_t0={_f(delta_t0)}{extra} "
            f"{point_time_ns(ts, boot, seq)}")


def hour_line(m: str, c: int, hour_utc: int, energy_wh: float, readings: int,
              export_wh: float = 0.0) -> str:
    # export_wh always written: a rewrite must replace an older value, even with 0
    return (f"{HOUR_MEASUREMENT},channel={c},meter={m} energy_wh={_f(energy_wh)},"
            f"readings={readings}i,export_wh={_f(export_wh)} {hour_utc * 1_000_000_000}")


def status_line(m: str, status_json: str, received_s: float) -> str:
    text = status_json.replace("\\", "\\\\").replace('"', '\\"')
    return (f'{STATUS_MEASUREMENT},meter={m} status_json="{text}",received_utc={_f(received_s)} '
            f"{round(received_s * 1000) * 1_000_000}")


class Outbox:
    """The spool's entries, recorded as the observer of the ledger's chain store (see
    sqlite.ChainObserver), in the transaction of each change: one entry per point it changed
    (a reading inserted, the reading after a late one re-chained, an hour), per status and
    per deletion. The shipper later sends those points' current state, or runs the
    deletion, in entry order."""

    def __init__(self, hours: bool = True):
        # False for collectors across hosts (store.hours = "readings"): each ledger sees only
        # its share of a channel's chain, so its hour totals are partial and stay local.
        self.hours = hours

    def created(self, db) -> None:
        db.executescript(SPOOL_SCHEMA)

    def wrote(self, db, readings, hours, received_s) -> None:
        now = time.time()
        db.executemany(
            "INSERT INTO outbox (kind, meter_id, channel, k1, k2, spooled_utc) "
            "VALUES (?,?,?,?,?,?)",
            [(KIND_READING, m, c, b, s, now) for m, c, b, s in readings]
            + [(KIND_HOUR, m, c, h, 0, now) for m, c, h in (hours if self.hours else ())])

    def status_set(self, db, meter_id: str, received_s: float) -> None:
        db.execute("INSERT INTO outbox (kind, meter_id, channel, k1, k2, spooled_utc) "
                   "VALUES (?,?,0,0,0,?)", (KIND_STATUS, meter_id, time.time()))

    def deleted(self, db, meter_id: str, start_s: float, end_s: float) -> None:
        # Shipped in order with the rest: points spooled before the deletion reach InfluxDB
        # before it and are deleted with the others, none after it.
        start_ms, end_ms = deletion_ms(start_s, end_s)
        db.execute("INSERT INTO outbox (kind, meter_id, channel, k1, k2, spooled_utc) "
                   "VALUES (?,?,0,?,?,?)", (KIND_DELETE, meter_id, start_ms, end_ms, time.time()))

    def recounted(self, db, updated, removed) -> None:
        if not self.hours:
            return
        now = time.time()
        db.executemany(
            "INSERT INTO outbox (kind, meter_id, channel, k1, k2, spooled_utc) "
            "VALUES (?,?,?,?,0,?)",
            [(KIND_HOUR, m, c, h, now) for m, c, h in updated]
            + [(KIND_DELETE_HOUR, m, c, h, now) for m, c, h in removed])


class SpoolLedger:
    """The local SQLite ledger: an embedded SqliteStore (the chain state and the dead
    letters) whose changes the Outbox records, and the shipper's side of that outbox.

    Writes, reads and deletions go to the chain store; the shipper takes the outbox's
    oldest entries as line protocol (take), marks them shipped (done), and takes turns with
    other collectors on the same file (lease).
    """

    def __init__(self, path: str | Path, max_gap_s: float = MAX_GAP_S, ship_hours: bool = True):
        self.chain = SqliteStore(path, observer=Outbox(ship_hours), max_gap_s=max_gap_s)
        self.path = self.chain.path

    # -- the chain store's side: what InfluxStore writes and reads here --------------

    def write(self, rows: Sequence[ChannelReading], received_s: float, *,
              statuses: Sequence[tuple[str, dict, float]] = (),
              dead_letters: Sequence[DeadLetter] = ()) -> WriteResult:
        return self.chain.write(rows, received_s, statuses=statuses, dead_letters=dead_letters)

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        self.chain.set_status(meter_id, status, received_s)

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        self.chain.reject(reason, topic, payload, detail, received_s)

    def rejections(self) -> dict[str, int]:
        return self.chain.rejections()

    def latest(self, meter_id: str) -> list[ChannelReading]:
        return self.chain.latest(meter_id)

    def meters(self) -> list[MeterSummary]:
        return self.chain.meters()

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        return self.chain.delete(meter_id, start_s, end_s)

    def close(self) -> None:
        self.chain.close()

    # -- the shipper's side ----------------------------------------------------------

    def depth(self) -> tuple[int, float | None]:
        """Points waiting in the spool, and when the oldest of them was spooled."""
        # Entries leave from the front only, so the ids in between are all still there:
        # max - min + 1 counts them without a scan.
        db = self.chain.connection()
        lo, hi = db.execute("SELECT MIN(id), MAX(id) FROM outbox").fetchone()
        if lo is None:
            return 0, None
        oldest = db.execute("SELECT spooled_utc FROM outbox WHERE id=?", (lo,)).fetchone()
        return hi - lo + 1, oldest[0] if oldest else None

    def head_deletion(self) -> tuple[int, int, str, int, int, int] | None:
        """(spool id, kind, meter, channel, k1, k2) if the oldest spool entry is a deletion."""
        db = self.chain.connection()
        row = db.execute("SELECT id, kind, meter_id, channel, k1, k2 FROM outbox WHERE kind>=? "
                         "ORDER BY id LIMIT 1", (KIND_DELETE,)).fetchone()
        if row is None or row[0] != db.execute("SELECT MIN(id) FROM outbox").fetchone()[0]:
            return None
        return row

    def take(self, limit: int, after: int = 0) -> tuple[int, bytes, int] | None:
        """The oldest `limit` spool entries (after entry `after`, the chunk being written)
        as (last id, line protocol, points), or None.

        A chunk stops before the next deletion (see head_deletion), so that the points
        spooled before it are written before it runs.
        """
        db = self.chain.connection()
        db.execute("BEGIN")  # one snapshot: the rows and the spool entries agree
        try:
            hi = db.execute("SELECT MAX(id) FROM (SELECT id FROM outbox WHERE id>? ORDER BY id "
                            "LIMIT ?)", (after, limit)).fetchone()[0]
            if hi is None:
                return None
            deletion = db.execute("SELECT MIN(id) FROM outbox WHERE kind>=? AND id>?",
                                  (KIND_DELETE, after)).fetchone()[0]
            if deletion is not None and deletion <= hi:
                hi = deletion - 1
                if db.execute("SELECT 1 FROM outbox WHERE id<=? AND id>?",
                              (hi, after)).fetchone() is None:
                    return None
            lines: dict[tuple, str] = {}
            cols = ", ".join("r." + c.strip() for c in COLUMNS.split(","))
            for row in db.execute(
                    f"SELECT {cols} FROM outbox o JOIN reading r ON r.meter_id=o.meter_id "
                    "AND r.channel=o.channel AND r.boot=o.k1 AND r.seq=o.k2 "
                    "WHERE o.kind=0 AND o.id<=? AND o.id>?", (hi, after)):
                lines[(0, row[0], row[1], row[2], row[3])] = reading_line(row)
            for m, c, h, e, n, x in db.execute(
                    "SELECT h.meter_id, h.channel, h.hour_utc, h.energy_wh, h.readings, "
                    "h.export_wh "
                    "FROM outbox o JOIN energy_hour h ON h.meter_id=o.meter_id "
                    "AND h.channel=o.channel AND h.hour_utc=o.k1 WHERE o.kind=1 AND o.id<=? "
                    "AND o.id>?", (hi, after)):
                lines[(1, m, c, h)] = hour_line(m, c, h, e, n, x)
            for m, st, t in db.execute(
                    "SELECT DISTINCT s.meter_id, s.status_json, s.received_utc FROM outbox o "
                    "JOIN meter_status s ON s.meter_id=o.meter_id WHERE o.kind=2 AND o.id<=? "
                    "AND o.id>?", (hi, after)):
                lines[(2, m)] = status_line(m, st, t)
        finally:
            db.execute("COMMIT")
        return hi, "\n".join(lines.values()).encode(), len(lines)

    def done(self, hi: int) -> None:
        """InfluxDB accepted everything up to spool entry `hi`: drop it from the spool."""
        with self.chain.transaction() as db:
            db.execute("DELETE FROM outbox WHERE id<=?", (hi,))

    def prune(self, now_s: float, keep_s: float, chunk: int = 5000) -> int:
        """Erase from the ledger what InfluxDB has safely got and the chain no longer needs:
        each channel's readings older than keep_s (never its newest, never one still in the
        spool), and the hours no later reading can change (before the span of the oldest
        reading kept). A late reading before those kept then goes to the dead letters, as
        in the embedded store's folded tier. Short transactions, one channel's chunk each;
        returns the readings erased."""
        from .tiers import series_id

        chain = self.chain
        erased = 0
        db = chain.connection()
        for meter_id, channel in db.execute(
                "SELECT meter_id, channel FROM channel_summary").fetchall():
            while True:
                with chain.immediate() as db:
                    n = self._prune_channel(db, meter_id, channel, now_s - keep_s, chunk)
                    if n:
                        sid = series_id(db, meter_id, channel, create=True)
                        first = db.execute("SELECT boot, seq FROM reading WHERE meter_id=? AND "
                                           "channel=? ORDER BY boot, seq LIMIT 1",
                                           (meter_id, channel)).fetchone()
                        db.execute("INSERT INTO chain_start VALUES (?,?,?) ON CONFLICT DO UPDATE "
                                   "SET boot=excluded.boot, seq=excluded.seq", (sid, *first))
                erased += n
                if n < chunk:
                    break
        return erased

    @staticmethod
    def _prune_channel(db, meter_id: str, channel: int, cutoff: float, chunk: int) -> int:
        newest = db.execute("SELECT boot, seq FROM reading WHERE meter_id=? AND channel=? "
                            "ORDER BY boot DESC, seq DESC LIMIT 1", (meter_id, channel)).fetchone()
        if newest is None:
            return 0
        spooled = db.execute("SELECT k1, k2 FROM outbox WHERE kind=? AND meter_id=? AND channel=? "
                             "ORDER BY k1, k2 LIMIT 1", (KIND_READING, meter_id, channel)).fetchone()
        stop = min(tuple(newest), tuple(spooled)) if spooled else tuple(newest)
        rows = db.execute("SELECT boot, seq, ts_utc FROM reading WHERE meter_id=? AND channel=? "
                          "AND (boot, seq) < (?,?) ORDER BY boot, seq LIMIT ?",
                          (meter_id, channel, *stop, chunk)).fetchall()
        last = None
        for boot, seq, ts in rows:  # a prefix in key order: the chain stays whole after it
            if ts >= cutoff:
                break
            last = (boot, seq)
        if last is None:
            return 0
        n = db.execute("DELETE FROM reading WHERE meter_id=? AND channel=? AND (boot, seq) <= (?,?)",
                       (meter_id, channel, *last)).rowcount
        # A later change starts at the earliest span of a reading kept (a late reading before
        # them is refused): the hours before it are final, and shipped once not spooled.
        (t0,) = db.execute("SELECT MIN(delta_t0) FROM reading WHERE meter_id=? AND channel=?",
                           (meter_id, channel)).fetchone()
        db.execute("DELETE FROM energy_hour WHERE meter_id=? AND channel=? AND hour_utc < ? AND "
                   "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind=? AND o.meter_id=? AND "
                   "o.channel=? AND o.k1=energy_hour.hour_utc)",
                   (meter_id, channel, math.floor(t0 / HOUR_S) * HOUR_S, KIND_HOUR, meter_id,
                    channel))
        db.execute("DELETE FROM energy_day WHERE meter_id=? AND channel=? AND day_utc < ?",
                   (meter_id, channel, t0 - 2 * 86_400))  # never read from the ledger
        return n

    def lease(self, owner: str, ttl_s: float = LEASE_TTL_S) -> float:
        """Take or renew the right to ship (one shipper per ledger, even with several
        collectors on one data directory); return its expiry, or 0 if another holds it."""
        now = time.time()
        with self.chain.transaction() as db:
            cur = db.execute("UPDATE shipper_lease SET owner=?, expires_utc=? "
                             "WHERE id=1 AND (owner=? OR expires_utc<?)",
                             (owner, now + ttl_s, owner, now))
        return now + ttl_s if cur.rowcount else 0.0

    def release(self, owner: str) -> None:
        with self.chain.transaction() as db:
            db.execute("UPDATE shipper_lease SET expires_utc=0 WHERE id=1 AND owner=?",
                       (owner,))


class InfluxQL:
    """Reads through InfluxQL on /query: the one query path InfluxDB 1.x, 2.x and 3.x share."""

    def __init__(self, url: str, token: str, bucket: str, timeout_s: float = 10.0):
        import urllib3

        self.url = url.rstrip("/")
        self.db, _, self.rp = bucket.partition("/")
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout_s),
                                         retries=False)
        self._headers = {}
        if ":" in token:  # 1.x credentials "user:password"; 2.x's v1 API accepts them too
            self._headers = urllib3.make_headers(basic_auth=token)
        elif token:
            self._headers = {"Authorization": f"Token {token}"}

    def ping(self) -> None:
        resp = self._http.request("GET", f"{self.url}/ping", headers=self._headers)
        if resp.status >= 300:
            raise StoreUnavailable(f"HTTP {resp.status} on /ping")

    def query(self, q: str, method: str = "GET", epoch: str = "ms") -> list[dict]:
        """Run InfluxQL; POST for statements that change data (DELETE)."""
        params = {"db": self.db, "q": q, "epoch": epoch}
        if self.rp:
            params["rp"] = self.rp
        resp = self._http.request(method, f"{self.url}/query?{urllib.parse.urlencode(params)}",
                                  headers=self._headers)
        try:
            body = json.loads(resp.data)
        except ValueError:
            body = {}
        if resp.status >= 300 or "error" in body:
            raise QueryFailed(body.get("error") or f"HTTP {resp.status} on /query", resp.status)
        results = body.get("results", [])
        for r in results:
            if "error" in r:
                raise QueryFailed(r["error"], resp.status)
        return results

    def series(self, q: str, epoch: str = "ms") -> list[list[dict]]:
        """Each statement's series as lists of {"tags", "rows": [dict per row]}."""
        out = []
        for r in self.query(q, epoch=epoch):
            out.append([{"tags": s.get("tags", {}),
                         "rows": [dict(zip(s["columns"], v, strict=True))
                                  for v in s.get("values", [])]}
                        for s in r.get("series", [])])
        return out


def deletion_ms(start_s: float, end_s: float) -> tuple[int, int]:
    """[start_s, end_s[ as whole ms that keep every point of the readings (and hours) the
    ledger deletes: a point's time is its reading's ts in ms plus sub-ms digits."""
    return (max(0, math.floor(start_s * 1000)),
            min(MAX_POINT_MS, math.ceil(min(end_s, MAX_POINT_MS / 1000) * 1000)))


def _rfc3339_ns(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def _lit(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxStore:
    """ReadingStore on InfluxDB, with the local ledger as chain state, spool and dead letters.

    Without spool_path it only reads (for the API, which may run elsewhere).

    hours: "ledger" (one collector, or several sharing one data directory): the ledger's
    hourly totals are shipped as energy_hour points and read back. "readings" (collectors
    across hosts, each with its own ledger and a share of every meter's readings): only
    readings are shipped, and hours are counted at read time from the whole chain InfluxDB
    holds (store/whole_chain.py), by the same rules.
    """

    def __init__(self, url: str, token: str = "", org: str = "citizenwatt",
                 bucket: str = "citizenwatt/autogen", *, spool_path: str | Path | None = None,
                 owner: str = "citizenwatt-collector-1", timeout_s: float = 10.0,
                 chunk_points: int = 5000, min_free_mb: float = 200.0, ship: bool = True,
                 max_gap_s: float = MAX_GAP_S, hours: str = "ledger", tiers: Tiers | None = None,
                 ledger_keep_s: float = 48 * HOUR_S, gather_s: float = 0.2):
        if hours not in ("ledger", "readings"):
            raise ValueError(f"hours must be 'ledger' or 'readings', not {hours!r}")
        if hours == "readings" and tiers is not None:
            raise ValueError("store.hours = 'readings' reads the readings' own measurement: "
                             "it cannot be combined with store.influx_tiers")
        self.url, self.org, self.bucket = url.rstrip("/"), org, bucket
        self.hours, self.max_gap_s = hours, max_gap_s
        self.owner = owner
        self.chunk_points = chunk_points
        self.gather_s = gather_s  # after a partial chunk, wait this long before the next
        self.min_free_bytes = int(min_free_mb * 1024 * 1024)
        self.influxql = InfluxQL(url, token, bucket, timeout_s)
        self.ledger = (SpoolLedger(spool_path, max_gap_s, ship_hours=hours == "ledger")
                       if spool_path is not None else None)
        self.tiers = tiers
        self.ledger_keep_s = ledger_keep_s
        self._pruned_at = 0.0
        # where the readings are: their own retention policy with tiers, else the bucket's
        self._readings = f'"{RAW_RP}"."{READING_MEASUREMENT}"' if tiers else READING_MEASUREMENT
        self._timeout_ms = int(timeout_s * 1000)
        self._token = token
        self._client: Any = None
        self._write_api: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._shipper: threading.Thread | None = None
        # the shipper in its own process (store/shipper.py), supervised from here
        self._process: Any = None
        self.idle_wait_s = 0.2  # an empty spool is looked at again after this long
        # take the next chunk while a full one is being written (the shipper's own process:
        # there the spool's read and the line protocol overlap with InfluxDB's write)
        self.take_ahead = False
        self._ahead: Any = None  # the next chunk's Future, taken after the one in hand
        self._ahead_pool: Any = None
        self.report: Any = None  # called after each turn of the ship loop (the process's gauges)
        self._free_checked = (0.0, True)
        # what the metrics endpoint shows
        self.shipped_points = 0
        self.ship_errors = 0
        self.rejected_points = 0
        self.influx_up = True
        self.spool_depth = 0
        self.spool_oldest_age_s = 0.0
        if self.ledger is not None and ship:
            self.start_shipping()

    # -- start-up check --------------------------------------------------------------

    def check(self) -> None:
        """Raise StoreUnavailable with one line naming the address if InfluxDB is unusable."""
        try:
            self.influxql.ping()
            self.influxql.query(f"SHOW TAG KEYS FROM {READING_MEASUREMENT} LIMIT 1")
            if self.tiers is not None and self.ledger is not None:
                self.ensure_tiers()
        except Exception as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StoreUnavailable(
                f"InfluxDB injoignable ou inutilisable à {self.url} (base "
                f"{self.influxql.db!r} : {reason}). Vérifiez que le service tourne "
                "(systemctl status influxdb), l'adresse CITIZENWATT_STORE__INFLUX_URL, le jeton "
                "CITIZENWATT_STORE__INFLUX_TOKEN et que le bucket CITIZENWATT_STORE__INFLUX_BUCKET existe."
            ) from None

    # -- the tiers (InfluxDB 1.x's retention policies and a continuous query) -------------

    def _hours(self, seconds: float) -> str:
        return f"{max(1, math.ceil(seconds / HOUR_S))}h"

    def _aggregate_select(self) -> str:
        tiers = self.tiers
        assert tiers is not None
        db = self.influxql.db
        return (f'SELECT last(energy_wh) AS energy_wh, mean(power_w) AS power_w, '
                f'mean(irms_a) AS irms_a, mean(vrms_v) AS vrms_v, mean(pf) AS pf, '
                f'last(boot) AS boot, last(seq) AS seq, last(ts_utc) AS ts_utc, '
                f'sum(interval_s) AS interval_s, count(seq) AS readings, last(export_wh) AS export_wh '
                f'INTO "{db}"."{AGG_RP}"."{AGG_MEASUREMENT}" FROM "{db}"."{RAW_RP}"."{READING_MEASUREMENT}"')

    def ensure_tiers(self) -> None:
        """Make the tiers' retention policies and continuous query (idempotent): the
        readings expire after raw_days, their aggregate_s aggregates after aggregate_days
        more, computed by InfluxDB itself as readings arrive (late ones: `fold`)."""
        tiers = self.tiers
        assert tiers is not None
        db = self.influxql.db
        for rp, keep in ((RAW_RP, tiers.raw_s), (AGG_RP, tiers.raw_s + tiers.aggregate_keep_s)):
            try:
                self.influxql.query(f'CREATE RETENTION POLICY "{rp}" ON "{db}" DURATION '
                                    f"{self._hours(keep)} REPLICATION 1", method="POST")
            except QueryFailed:  # there with another duration: the settings changed
                self.influxql.query(f'ALTER RETENTION POLICY "{rp}" ON "{db}" DURATION '
                                    f"{self._hours(keep)}", method="POST")
        cqs = self.influxql.series("SHOW CONTINUOUS QUERIES")[0]
        if not any(r.get("name") == AGG_CQ for s_ in cqs for r in s_["rows"]):
            # recomputed over the last two days at each run: readings shipped late (the
            # spool drained after an outage) are folded in as long as they are that recent
            self.influxql.query(
                f'CREATE CONTINUOUS QUERY "{AGG_CQ}" ON "{db}" RESAMPLE EVERY 10m FOR 2d BEGIN '
                f"{self._aggregate_select()} GROUP BY time({tiers.aggregate_s}s), meter, channel END",
                method="POST")

    def fold(self, now_s: float, tiers: Tiers, *, max_readings: int | None = None):
        """What folding means here: the aggregates of [now - raw_days, now[ recomputed (the
        continuous query's work, for readings shipped after it ran), and the collector's
        ledger pruned of what InfluxDB has and the chain no longer needs."""
        from .tiers import FoldReport

        report = FoldReport()
        if self.tiers is not None:
            self.ensure_tiers()
            start = int(now_s - tiers.raw_s) * 1_000_000_000
            self.influxql.query(
                f"{self._aggregate_select()} WHERE time >= {start} AND time < "
                f"{int(now_s) * 1_000_000_000} GROUP BY time({tiers.aggregate_s}s), meter, channel",
                method="POST")
        if self.ledger is not None:
            report.ledger_pruned = self.ledger.prune(now_s, self.ledger_keep_s)
        return report

    def storage_report(self, tiers: Tiers, now_s: float | None = None):
        """Points and bytes per tier, from InfluxDB's own statistics (SHOW STATS, per shard),
        and the collector's ledger beside it."""
        import os

        from .tiers import StorageReport, TierUsage, projected_growth

        now_s = time.time() if now_s is None else now_s
        q = self.influxql
        agg = f'"{AGG_RP}"."{AGG_MEASUREMENT}"'
        counts = q.series(
            f"SELECT count(seq) FROM {self._readings}; SELECT first(seq) FROM {self._readings}; "
            f"SELECT last(seq) FROM {self._readings}; SELECT count(energy_wh) FROM {HOUR_MEASUREMENT}; "
            f"SELECT first(energy_wh) FROM {HOUR_MEASUREMENT}; "
            f"SELECT last(energy_wh) FROM {HOUR_MEASUREMENT}; "
            f"SELECT count(seq) FROM {self._readings} WHERE time >= {int(now_s - 86400) * 10**9}; "
            f"SHOW TAG VALUES FROM {self._readings} WITH KEY = \"channel\"", epoch="s")
        aggs = (q.series(f"SELECT count(readings), sum(readings) FROM {agg}; "
                         f"SELECT first(readings) FROM {agg}; SELECT last(readings) FROM {agg}",
                         epoch="s") if self.tiers else [[], [], []])

        def one(series, col="count"):
            return series[0]["rows"][0][col] if series and series[0]["rows"] else None

        shard_bytes: dict[str, int] = {}
        try:
            for r in q.query("SHOW STATS FOR 'shard'"):
                for s_ in r.get("series", []):
                    tags = s_.get("tags", {})
                    if tags.get("database") != q.db:
                        continue
                    row = dict(zip(s_["columns"], s_["values"][0], strict=True))
                    rp = tags.get("retentionPolicy", "")
                    shard_bytes[rp] = shard_bytes.get(rp, 0) + int(row.get("diskBytes", 0))
        except QueryFailed:
            pass  # InfluxDB 2.x: no per-shard statistics through InfluxQL
        bucket_rp = q.rp or "autogen"
        raw_bytes = shard_bytes.get(RAW_RP if self.tiers else bucket_rp, 0)
        n_raw = one(counts[0]) or 0
        usage = [
            TierUsage("raw", n_raw, n_raw, raw_bytes, one(counts[1], "time"), one(counts[2], "time")),
            TierUsage("aggregate", one(aggs[0]) or 0, one(aggs[0], "sum") or 0,
                      shard_bytes.get(AGG_RP, 0), one(aggs[1], "time"), one(aggs[2], "time")),
            TierUsage("hour", one(counts[3]) or 0, one(counts[3]) or 0,
                      shard_bytes.get(bucket_rp, 0) if self.tiers else 0,
                      one(counts[4], "time"), one(counts[5], "time")),
        ]
        if self.ledger is not None:
            size = sum(os.path.getsize(p) for p in (self.ledger.path, Path(f"{self.ledger.path}-wal"))
                       if os.path.exists(p))
            n = self.ledger.chain.connection().execute("SELECT COUNT(*) FROM reading").fetchone()[0]
            usage.append(TierUsage("ledger", n, n, size, None, None))
        channels = len(counts[7][0]["rows"]) if counts[7] else 0
        per_year = (one(counts[6]) or 0) * 365.0
        return StorageReport(usage, sum(shard_bytes.values()), 0, channels, per_year,
                             projected_growth(usage, per_year, channels, tiers))

    # -- writing: into the ledger, acknowledged from there ---------------------------

    def _require_ledger(self) -> SpoolLedger:
        if self.ledger is None:
            raise RuntimeError("this InfluxStore reads only: give it a spool_path to write")
        return self.ledger

    def _check_disk(self) -> None:
        ledger = self._require_ledger()
        now = time.monotonic()
        at, ok = self._free_checked
        if now - at > 1.0:
            ok = shutil.disk_usage(ledger.path.parent).free >= self.min_free_bytes
            self._free_checked = (now, ok)
        if not ok:
            raise SpoolFull(
                f"Disque presque plein sous {ledger.path.parent} : le tampon vers InfluxDB "
                "ne peut plus grandir. Libérez de la place ou rétablissez InfluxDB.")

    def write(self, rows: Sequence[ChannelReading], received_s: float, *,
              statuses: Sequence[tuple[str, dict, float]] = (),
              dead_letters: Sequence[DeadLetter] = ()) -> WriteResult:
        ledger = self._require_ledger()
        self._check_disk()
        res = ledger.write(rows, received_s, statuses=statuses, dead_letters=dead_letters)
        if res.stored or statuses:
            self._wake.set()
        return res

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        self._require_ledger().set_status(meter_id, status, received_s)
        self._wake.set()

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        self._require_ledger().reject(reason, topic, payload, detail, received_s)

    def rejections(self) -> dict[str, int]:
        return self.ledger.rejections() if self.ledger is not None else {}

    # -- the shipper ------------------------------------------------------------------

    def _connect_writer(self):
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = InfluxDBClient(url=self.url, token=self._token, org=self.org,
                                      timeout=self._timeout_ms)
        # SYNCHRONOUS: write() returns once InfluxDB answered; the batching mode would keep
        # points in memory only, and lose them in a crash.
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def shipper_config(self) -> dict:
        """What a shipper process needs to open this store's ledger and InfluxDB as this
        store does (store/shipper.py): InfluxStore's own arguments, as JSON."""
        ledger = self._require_ledger()
        return {"url": self.url, "token": self._token, "org": self.org, "bucket": self.bucket,
                "spool_path": str(ledger.path), "owner": self.owner,
                "timeout_s": self._timeout_ms / 1000, "chunk_points": self.chunk_points,
                "min_free_mb": self.min_free_bytes / 1024 / 1024, "max_gap_s": self.max_gap_s,
                "hours": self.hours, "ledger_keep_s": self.ledger_keep_s,
                "gather_s": self.gather_s,
                "tiers": dataclasses.asdict(self.tiers) if self.tiers is not None else None}

    def start_shipping(self) -> None:
        if self._shipper is None:
            self._connect_writer()
            self._stop.clear()
            self._shipper = threading.Thread(target=self._ship_loop, name="influx-shipper",
                                             daemon=True)
            self._shipper.start()

    def _ship_once(self) -> int:
        """Ship one chunk or deletion; return the points shipped (0 when the spool is empty)."""
        ledger = self._require_ledger()
        ahead, self._ahead = self._ahead, None
        if ahead is not None:  # taken during the last write, which succeeded
            chunk = ahead.result()
            if chunk is not None:
                return self._ship_chunk(ledger, chunk)
        deletion = ledger.head_deletion()
        if deletion is not None:
            sid, kind, meter_id, channel, k1, k2 = deletion
            if kind == KIND_DELETE_HOUR:
                start_ms, end_ms = k1 * 1000, k1 * 1000 + 1
                what: dict = {"measurements": (HOUR_MEASUREMENT,), "channel": channel}
            else:
                start_ms, end_ms, what = k1, k2, {}
            try:
                self._delete_points(meter_id, start_ms, end_ms, **what)
            except DeletionRefused as e:
                # Retrying cannot help and would block the spool: the refusal is kept as a
                # dead letter (visible, by reason) and logged for the staff to act on.
                log.error("InfluxDB refuse d'effacer les relevés de %s (%s) : effacez-les à "
                          "la main, voir les messages rejetés (influx_delete_refused)",
                          meter_id, e)
                ledger.reject("influx_delete_refused", f"influxdb:{self.bucket}",
                              f"{meter_id} {start_ms} {end_ms}".encode(), str(e)[:500],
                              time.time())
            ledger.done(sid)
            return 1
        chunk = ledger.take(self.chunk_points)
        if chunk is None:
            return 0
        return self._ship_chunk(ledger, chunk)

    def _ship_chunk(self, ledger: SpoolLedger, chunk: tuple[int, bytes, int]) -> int:
        from influxdb_client import WritePrecision

        hi, body, n = chunk
        if self.take_ahead and n >= self.chunk_points:  # a backlog: the next one is full too
            if self._ahead_pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._ahead_pool = ThreadPoolExecutor(1, thread_name_prefix="influx-take")
            self._ahead = self._ahead_pool.submit(ledger.take, self.chunk_points, hi)
        try:
            if self.tiers is None:
                self._write_api.write(self.bucket, self.org, record=body,
                                      write_precision=WritePrecision.NS)
            else:  # readings into their retention policy, the rest into the bucket's
                lines = body.split(b"\n")
                raw = [x for x in lines if x.startswith(READING_MEASUREMENT.encode() + b",")]
                other = [x for x in lines if not x.startswith(READING_MEASUREMENT.encode() + b",")]
                if raw:
                    self._write_api.write(f"{self.influxql.db}/{RAW_RP}", self.org,
                                          record=b"\n".join(raw), write_precision=WritePrecision.NS)
                if other:
                    self._write_api.write(self.bucket, self.org, record=b"\n".join(other),
                                          write_precision=WritePrecision.NS)
        except Exception as e:
            if getattr(e, "status", None) not in (400, 422):
                self._drop_ahead()  # it follows a chunk that stays in the spool
                raise  # InfluxDB down, slow or refusing us: keep the chunk, retry later
            # InfluxDB refused the data itself (a field type conflict, say): retrying cannot
            # help and would block the spool. The readings stay in the ledger; the refusal
            # goes to the dead letters, and the spool goes on.
            detail = str(getattr(e, "body", "") or e)[:500]
            log.error("InfluxDB refuse %d points (%s) : ils restent dans le registre local, "
                      "voir les messages rejetés (influx_rejected)", n, detail)
            try:
                ledger.reject("influx_rejected", f"influxdb:{self.bucket}", body, detail,
                              time.time())
            except BaseException:
                self._drop_ahead()  # the refusal is not noted yet: this chunk comes again
                raise
            self.rejected_points += n
        ledger.done(hi)
        self.shipped_points += n
        return max(n, 1)

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.exception()  # wait for it: its read ends before anything else happens

    def _ship_loop(self) -> None:
        ledger = self._require_ledger()
        lease_until = 0.0
        delay = 0.2
        last_logged = 0.0
        while not self._stop.is_set():
            try:
                if time.time() > lease_until - LEASE_TTL_S / 2:
                    lease_until = ledger.lease(self.owner)
                if not lease_until:
                    self._stop.wait(1.0)  # another collector on this ledger ships
                    continue
                self._update_depth()
                if self.spool_depth == 0 and time.time() - self._pruned_at > LEDGER_PRUNE_EVERY_S:
                    self._pruned_at = time.time()
                    ledger.prune(self._pruned_at, self.ledger_keep_s)
                shipped = self._ship_once()
                if shipped:
                    if not self.influx_up:
                        log.info("InfluxDB répond de nouveau à %s : vidage du tampon", self.url)
                    self.influx_up, delay = True, 0.2
                    if shipped < self.chunk_points:
                        # the spool is nearly empty: let points gather, so that each HTTP
                        # write (and the spool queries before it) carries many of them
                        self._stop.wait(self.gather_s)
                    continue
                self._wake.wait(self.idle_wait_s)
                self._wake.clear()
            except Exception as e:
                self.ship_errors += 1
                self.influx_up = False
                if time.monotonic() - last_logged > 30:
                    last_logged = time.monotonic()
                    log.error("écriture vers InfluxDB %s impossible (%s) : les relevés restent "
                              "dans le tampon local, nouvel essai automatique",
                              self.url, str(e).splitlines()[0] if str(e) else type(e).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if self.report is not None:
                    self.report(self)
        self._drop_ahead()
        if self._ahead_pool is not None:
            self._ahead_pool.shutdown()
        self._update_depth()

    def _update_depth(self) -> None:
        ledger = self._require_ledger()
        depth, oldest = ledger.depth()
        self.spool_depth = depth
        self.spool_oldest_age_s = max(0.0, time.time() - oldest) if oldest else 0.0

    def status(self) -> dict:
        """Gauges and counters for the metrics endpoint."""
        return {"spool_depth": self.spool_depth, "spool_oldest_age_s": self.spool_oldest_age_s,
                "shipped_points": self.shipped_points, "ship_errors": self.ship_errors,
                "refused_points": self.rejected_points,
                "store_up": self.influx_up,
                "shipper_restarts": self._process.restarts if self._process is not None else 0}

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the spool is empty (everything accepted by InfluxDB)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._update_depth()
            if self.spool_depth == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return False

    # -- deleting -----------------------------------------------------------------------

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        """Erase a meter's readings and hourly energy with start_s <= time < end_s from the
        ledger (if this store has one) and from InfluxDB. Returns readings (channel rows)
        erased. With a ledger, the deletion is also spooled, so it is done (again) in order
        after any point spooled before it, and later if InfluxDB is unreachable now."""
        start_ms, end_ms = deletion_ms(start_s, end_s)
        if self.ledger is not None:
            n = self.ledger.delete(meter_id, start_s, end_s)
        else:
            (series,) = self.influxql.series(
                f"SELECT count(seq) FROM {self._readings} WHERE meter={_lit(meter_id)} "
                f"AND time >= {start_ms * 1_000_000} AND time < {end_ms * 1_000_000}")
            n = series[0]["rows"][0]["count"] if series and series[0]["rows"] else 0
        try:
            self._delete_points(meter_id, start_ms, end_ms)
        except Exception as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            if self.ledger is None:
                raise StoreUnavailable(
                    f"InfluxDB ({self.url}) n'a pas effacé les relevés de {meter_id} : "
                    f"{reason}. Vérifiez que le service tourne et que le jeton a le droit "
                    "d'effacer, puis recommencez.") from None
            log.warning("effacement des relevés de %s dans InfluxDB impossible pour "
                        "l'instant (%s) : il est gardé dans le tampon et sera refait",
                        meter_id, reason)
        self._wake.set()
        return n

    def _delete_points(self, meter_id: str, start_ms: int, end_ms: int,
                       measurements=(READING_MEASUREMENT, HOUR_MEASUREMENT, AGG_MEASUREMENT),
                       channel: int | None = None) -> None:
        """Delete the meter's reading and hour points (or those of `measurements`, and of
        one channel) with start_ms <= time < end_ms.

        InfluxQL DELETE on /query (InfluxDB 1.x), else /api/v2/delete (2.x, whose v1 query
        API has no DELETE). Raise DeletionRefused if InfluxDB answered but deletes neither
        way; a network error propagates (the shipper retries).
        """
        t0, t1 = start_ms * 1_000_000, end_ms * 1_000_000
        if self.hours == "readings" and READING_MEASUREMENT in measurements and channel is None:
            self._mark_deleted(meter_id, start_ms, end_ms)  # first: the span stays hidden
        tags = f"meter={_lit(meter_id)}"
        v2_tags = f'meter="{meter_id}"'
        if channel is not None:
            tags += f" AND channel={_lit(str(channel))}"
            v2_tags += f' AND channel="{channel}"'
        try:
            for m in measurements:
                self.influxql.query(f"DELETE FROM {m} WHERE {tags} "
                                    f"AND time >= {t0} AND time < {t1}", method="POST")
            return
        except QueryFailed as e:
            if e.status >= 500:
                raise  # down or overloaded: the shipper retries
            influxql_error = str(e)
        from influxdb_client import InfluxDBClient
        from influxdb_client.rest import ApiException

        with InfluxDBClient(url=self.url, token=self._token, org=self.org,
                            timeout=self._timeout_ms) as client:
            try:
                for m in measurements:
                    # stop is inclusive there: end at the last ns before t1
                    client.delete_api().delete(
                        _rfc3339_ns(t0), _rfc3339_ns(t1 - 1), f'_measurement="{m}" AND {v2_tags}',
                        bucket=self.bucket, org=self.org)
            except ApiException as e:
                if e.status is not None and 400 <= e.status < 500:
                    raise DeletionRefused(f"InfluxQL : {influxql_error} ; /api/v2/delete : "
                                          f"HTTP {e.status}") from None
                raise

    def _mark_deleted(self, meter_id: str, start_ms: int, end_ms: int) -> None:
        """Record a deleted span (store.hours = "readings"): no ledger counts the hours
        there, so the readers must know not to count them again from the readings around
        it, and to ignore a reading a host that was away ships into it later."""
        if self._write_api is None:
            self._connect_writer()
        self._write_api.write(
            bucket=self.bucket, org=self.org, write_precision="ns",
            record=f"{DELETED_MEASUREMENT},end_ms={end_ms},meter={meter_id} n=1i "
                   f"{start_ms * 1_000_000}")

    def _deleted_spans(self, meter_id: str) -> list[tuple[float, float]]:
        """The meter's deleted spans (start_s, end_s), store.hours = "readings"."""
        (series,) = self.influxql.series(
            f"SELECT n, end_ms FROM {DELETED_MEASUREMENT} WHERE meter={_lit(meter_id)}")
        return [(r["time"] / 1000, int(r["end_ms"]) / 1000) for s in series for r in s["rows"]]

    # -- reading: InfluxQL -------------------------------------------------------------

    def latest(self, meter_id: str) -> list[ChannelReading]:
        if self.ledger is not None:
            # The ledger knows each channel's newest reading by (boot, seq), as the embedded
            # store does, in one primary-key probe per channel.
            return self.ledger.latest(meter_id)
        return self._latest_from_influxdb(meter_id)

    def _latest_from_influxdb(self, meter_id: str) -> list[ChannelReading]:
        """Each channel's newest point by time (the same as by (boot, seq) unless a meter's
        clock went back across a reboot), for a reader without the ledger.

        Neither ORDER BY time DESC LIMIT 1 nor LAST() over a year of points is cheap (1.2 s
        and 0.1 s: InfluxDB reads the end of every weekly shard). The channel's last
        energy_hour point, a few thousand points a year, says which hour its newest reading
        closed, so the newest point is searched from that hour on only.
        """
        meter = _lit(meter_id)
        hours, tags = self.influxql.series(
            f"SELECT last(readings) FROM {HOUR_MEASUREMENT} WHERE meter={meter} GROUP BY channel; "
            f'SHOW TAG VALUES FROM {self._readings} WITH KEY = "channel" WHERE meter={meter}',
            epoch="ns")
        channels = sorted({r["value"] for s in tags for r in s["rows"]}, key=int)
        if not channels:
            return []
        since = {s["tags"]["channel"]: s["rows"][0]["time"] for s in hours if s["rows"]}
        found: dict[str, dict] = {}
        hinted = [c for c in channels if c in since]
        if hinted:
            points = self.influxql.series("; ".join(
                f"SELECT * FROM {self._readings} WHERE meter={meter} AND channel={_lit(c)} "
                f"AND time >= {since[c]} ORDER BY time DESC LIMIT 1" for c in hinted))
            for c, series in zip(hinted, points, strict=True):
                for s in series:
                    if s["rows"]:
                        found[c] = s["rows"][0]
        missing = [c for c in channels if c not in found]
        if missing:  # no hour point, or not shipped yet: the whole series, with LAST()
            (lasts,) = self.influxql.series(
                f"SELECT last(seq) FROM {self._readings} WHERE meter={meter} AND "
                f"({' OR '.join(f'channel={_lit(c)}' for c in missing)}) GROUP BY channel",
                epoch="ns")  # the point's exact time, sub-ms digits included
            at = [(s["tags"]["channel"], s["rows"][0]["time"]) for s in lasts if s["rows"]]
            if at:
                # then those points whole (last(*) would take each field's last non-null
                # value, maybe from an older point for vrms_v and pf)
                points = self.influxql.series("; ".join(
                    f"SELECT * FROM {self._readings} WHERE meter={meter} "
                    f"AND channel={_lit(c)} AND time = {t}" for c, t in at))
                for (c, _), series in zip(at, points, strict=True):
                    for s in series:
                        if s["rows"]:
                            found[c] = s["rows"][0]
        return [ChannelReading(
            meter_id=meter_id, channel=int(c), boot=r["boot"], seq=r["seq"],
            ts_utc=r["ts_utc"], ts_from_meter=r["ts_from_meter"], interval_s=r["interval_s"],
            energy_wh=r["energy_wh"], power_w=r["power_w"], irms_a=r["irms_a"],
            apparent=r["apparent"], vrms_v=r.get("vrms_v"), pf=r.get("pf"),
            export_wh=r.get("export_wh"))
            for c, r in sorted(found.items(), key=lambda kv: int(kv[0]))]

    def hourly(self, meter_id: str, start_s: float, end_s: float,
               channel: int | None = None) -> list[HourEnergy]:
        if self.hours == "readings":
            return self._hourly_from_readings(meter_id, start_s, end_s, channel)
        where = (f"meter={_lit(meter_id)} AND time >= {int(start_s) * 1_000_000_000} "
                 f"AND time < {int(-(-end_s // 1)) * 1_000_000_000}")
        if channel is not None:
            where += f" AND channel={_lit(str(channel))}"
        # The points themselves, not GROUP BY time(1h): a long range then costs nothing.
        (series,) = self.influxql.series(
            f"SELECT energy_wh, readings, export_wh FROM {HOUR_MEASUREMENT} WHERE {where} "
            "GROUP BY channel")
        hours: dict[int, list] = defaultdict(lambda: [0.0, 0, 0.0])
        for s in sorted(series, key=lambda s: int(s["tags"]["channel"])):
            for r in s["rows"]:
                h = hours[r["time"] // 1000]
                h[0] += r["energy_wh"]
                h[1] += r["readings"]
                h[2] += r.get("export_wh") or 0.0  # points written before export: none
        return [HourEnergy(h, e, n, x) for h, (e, n, x) in sorted(hours.items())]

    def _hourly_from_readings(self, meter_id: str, start_s: float, end_s: float,
                              channel: int | None) -> list[HourEnergy]:
        """Hours counted from the reading points of the range, with each channel's reading
        just before it (the first one's link starts there) and just after it (its link
        spreads back into the range's last hour). A link reaches back at most max_gap_s
        (beyond, its reading counts its own interval): no further neighbour is needed."""
        meter = _lit(meter_id)
        # the last hour asked for may run past end_s: all of its readings count there
        last_hour_end = int(-(-end_s // HOUR_S)) * HOUR_S
        lo, hi = int(start_s * 1000) * 1_000_000, last_hour_end * 1_000_000_000
        gap = int(self.max_gap_s * 1000) * 1_000_000
        chan = f" AND channel={_lit(str(channel))}" if channel is not None else ""
        fields = "boot, seq, ts_utc, ts_from_meter, interval_s, energy_wh, power_w, export_wh"
        inside, before, after, spans = self.influxql.series(
            f"SELECT {fields} FROM {READING_MEASUREMENT} WHERE meter={meter}{chan} "
            f"AND time >= {lo} AND time < {hi} GROUP BY channel; "
            f"SELECT {fields} FROM {READING_MEASUREMENT} WHERE meter={meter}{chan} "
            f"AND time >= {lo - gap} AND time < {lo} GROUP BY channel ORDER BY time DESC LIMIT 1; "
            f"SELECT {fields} FROM {READING_MEASUREMENT} WHERE meter={meter}{chan} "
            f"AND time >= {hi} AND time < {hi + gap} GROUP BY channel LIMIT 1; "
            f"SELECT n, end_ms FROM {DELETED_MEASUREMENT} WHERE meter={meter}")
        chains: dict[int, list[ChannelReading]] = defaultdict(list)
        for s in inside + before + after:
            c = int(s["tags"]["channel"])
            chains[c] += [chain_reading(meter_id, c, r) for r in s["rows"]]
        deleted = [(r["time"] / 1000, int(r["end_ms"]) / 1000) for s in spans for r in s["rows"]]
        return chain_hours(chains, start_s, end_s, self.max_gap_s, deleted=deleted)

    def readings(self, meter_id: str, start_s: float, end_s: float,
                 limit: int | None = None) -> list[ChannelReading]:
        # A point's time is its ts_utc plus a sub-millisecond (boot, seq) offset: select a
        # millisecond wider on each side, then keep what ts_utc says.
        where = (f"meter={_lit(meter_id)} AND time >= {(int(start_s * 1000) - 1) * 1_000_000} "
                 f"AND time < {(int(-(-end_s * 1000 // 1)) + 1) * 1_000_000}")
        (series,) = self.influxql.series(
            f"SELECT * FROM {self._readings} WHERE {where} GROUP BY channel")
        rows = sorted(
            (ChannelReading(
                meter_id=meter_id, channel=int(s["tags"]["channel"]), boot=r["boot"], seq=r["seq"],
                ts_utc=r["ts_utc"], ts_from_meter=r["ts_from_meter"], interval_s=r["interval_s"],
                energy_wh=r["energy_wh"], power_w=r["power_w"], irms_a=r["irms_a"],
                apparent=r["apparent"], vrms_v=r.get("vrms_v"), pf=r.get("pf"),
                export_wh=r.get("export_wh"))
             for s in series for r in s["rows"] if start_s <= r["ts_utc"] < end_s),
            key=lambda r: (r.ts_utc, r.channel))
        if self.hours == "readings" and rows:
            spans = self._deleted_spans(meter_id)
            rows = [r for r in rows if not any(a <= r.ts_utc < b for a, b in spans)]
        if self.tiers is not None:
            rows = sorted(rows + self._aggregated(meter_id, start_s, end_s, rows),
                          key=lambda r: (r.ts_utc, r.channel))
        return rows if limit is None else rows[:limit]

    def _aggregated(self, meter_id: str, start_s: float, end_s: float,
                    raw: list[ChannelReading]) -> list[ChannelReading]:
        """The aggregates of the range that come before each channel's first raw reading in
        it (the finest tier that holds a time is the one read)."""
        first_raw: dict[int, float] = {}
        for r in raw:
            first_raw.setdefault(r.channel, r.ts_utc)
        (series,) = self.influxql.series(
            f'SELECT * FROM "{AGG_RP}"."{AGG_MEASUREMENT}" WHERE meter={_lit(meter_id)} AND '
            f"time >= {(int(start_s) - self._agg_step()) * 1_000_000_000} AND "
            f"time < {int(-(-end_s // 1)) * 1_000_000_000} GROUP BY channel")
        out = []
        for s in series:
            c = int(s["tags"]["channel"])
            until = min(end_s, first_raw.get(c, end_s))
            for r in s["rows"]:
                if r.get("ts_utc") is None or not start_s <= r["ts_utc"] < until:
                    continue
                out.append(ChannelReading(
                    meter_id=meter_id, channel=c, boot=r["boot"], seq=r["seq"], ts_utc=r["ts_utc"],
                    ts_from_meter=True, interval_s=r["interval_s"], energy_wh=r["energy_wh"],
                    power_w=r["power_w"], irms_a=r["irms_a"], apparent=r.get("vrms_v") is None,
                    vrms_v=r.get("vrms_v"), pf=r.get("pf"), export_wh=r.get("export_wh")))
        return out

    def _agg_step(self) -> int:
        return self.tiers.aggregate_s if self.tiers is not None else 60

    def meters(self) -> list[MeterSummary]:
        if self.ledger is not None:
            # The ledger keeps a per-channel summary at write time: O(meters), and it also
            # knows what is spooled but not yet shipped.
            return self.ledger.meters()
        counts, firsts, lasts, received, statuses = self.influxql.series(
            f"SELECT count(seq) FROM {self._readings} GROUP BY meter, channel; "
            f"SELECT first(ts_utc) FROM {self._readings} GROUP BY meter; "
            f"SELECT last(ts_utc) FROM {self._readings} GROUP BY meter; "
            f"SELECT max(received_utc) FROM {self._readings} GROUP BY meter; "
            f"SELECT last(status_json) FROM {STATUS_MEASUREMENT} GROUP BY meter")

        def by_meter(series, col):
            return {s["tags"]["meter"]: s["rows"][0][col] for s in series if s["rows"]}

        first, last = by_meter(firsts, "first"), by_meter(lasts, "last")
        rec, st = by_meter(received, "max"), by_meter(statuses, "last")
        chans: dict[str, list[int]] = defaultdict(list)
        n: dict[str, int] = defaultdict(int)
        for s in counts:
            m = s["tags"]["meter"]
            chans[m].append(int(s["tags"]["channel"]))
            n[m] += s["rows"][0]["count"] if s["rows"] else 0
        return [MeterSummary(m, tuple(sorted(chans[m])), first[m], last[m], rec.get(m, last[m]),
                             n[m], stored_status(st.get(m)))
                for m in sorted(chans)]

    def close(self) -> None:
        if self._process is not None:
            if self.influx_up:
                self.flush(timeout_s=5.0)  # what is left stays spooled for the next start
            self._process.stop()  # it releases the lease itself
            self._process = None
        if self._shipper is not None:
            self._wake.set()
            if self.influx_up:
                self.flush(timeout_s=5.0)  # what is left stays spooled for the next start
            self._stop.set()
            self._shipper.join(10)
            self._shipper = None
            try:
                if self.ledger is not None:
                    self.ledger.release(self.owner)
            except Exception:
                pass
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.ledger is not None:
            self.ledger.close()
