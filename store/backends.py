"""Open the store the settings name (embedded SQLite or InfluxDB), checked before use: the one
place the collector command, the API and the demo get their store from."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from citizenwatt.i18n import N_

from .influx import InfluxStore
from .port import ReadingStore, StoreUnavailable
from .shipper import ShipperProcess
from .sqlite import SqliteStore
from .tiers import Tiers

__all__ = ["open_store", "StoreUnavailable"]


def _unusable_file(path: Path, e: Exception) -> StoreUnavailable:
    return StoreUnavailable(
        N_("The embedded store {path} cannot be used ({reason})."),
        N_("Check that the data folder exists and is writable (--data-dir or CITIZENWATT_DATA_DIR)."),
        path=path, reason=e)


def open_store(settings, *, for_collector: bool = True) -> ReadingStore:
    """The configured store; raise StoreUnavailable (one line naming the address) if unusable.

    For the collector, InfluxDB comes with its local ledger (chain state, spool, dead
    letters) in the data directory, and ships it. A reader (the API) queries InfluxDB; when
    the collector's ledger is in its data directory (same host), it also takes the newest
    readings and the meter list from there (one probe instead of a query over a year of
    points) and records deletions in it, for the collector to ship in order.
    """
    if settings.store.kind == "sqlite":
        try:
            # opening it is the check
            return SqliteStore(settings.readings_db, max_gap_s=settings.store.max_gap_h * 3600,
                               timezone=settings.store.timezone)
        except (RuntimeError, sqlite3.Error, OSError) as e:
            raise _unusable_file(settings.readings_db, e) from None
    influx, spool = settings.store, settings.influx_spool_db
    try:
        store = InfluxStore(
            influx.influx_url, influx.influx_token, influx.influx_org, influx.influx_bucket,
            spool_path=spool if for_collector or spool.is_file() else None,
            owner=settings.collector.id, timeout_s=influx.influx_timeout_s,
            min_free_mb=influx.spool_min_free_mb, ship=False,
            max_gap_s=influx.max_gap_h * 3600, hours=influx.hours,
            tiers=Tiers.from_settings(influx) if influx.influx_tiers else None,
            ledger_keep_s=influx.ledger_keep_hours * 3600,
            # InfluxDB writes fewer, larger batches faster (and fsyncs its WAL once each)
            chunk_points=20000)
    except (RuntimeError, sqlite3.Error, OSError) as e:
        raise _unusable_file(spool, e) from None
    try:
        store.check()
    except StoreUnavailable:
        store.close()
        raise
    if for_collector:
        # its own process: the writer thread keeps this one's interpreter lock to itself
        ShipperProcess(store).start()
    return store
