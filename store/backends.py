"""Open the store the settings name (embedded SQLite or InfluxDB), checked before use."""

from __future__ import annotations

import sqlite3

from .influx import InfluxStore, StoreUnavailable
from .sqlite import SqliteStore
from .port import ReadingStore

__all__ = ["open_store", "StoreUnavailable"]


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
            return SqliteStore(settings.readings_db)  # opening it is the check
        except (RuntimeError, sqlite3.Error, OSError) as e:
            raise StoreUnavailable(
                f"Le magasin embarqué {settings.readings_db} est inutilisable ({e}). Vérifiez "
                "que le dossier de données (CITIZENWATT_DATA_DIR) existe et est accessible en "
                "écriture.") from None
    influx = settings.store
    store = InfluxStore(
        influx.influx_url, influx.influx_token, influx.influx_org, influx.influx_bucket,
        spool_path=(settings.influx_spool_db
                    if for_collector or settings.influx_spool_db.is_file() else None),
        owner=settings.collector.id, timeout_s=influx.influx_timeout_s,
        min_free_mb=influx.spool_min_free_mb, ship=False)
    try:
        store.check()
    except StoreUnavailable:
        store.close()
        raise
    if for_collector:
        store.start_shipping()
    return store
