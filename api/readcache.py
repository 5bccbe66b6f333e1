"""Figures read from the store, kept in this API process until the store changes: a page
asked for again (or by several people) between two of the collector's writes is not read
and summed again.

Each entry is keyed by what it was computed from (the household's meters, channels and
zone, the local day...) and belongs to one version of the store's data: the embedded
store's `PRAGMA data_version`, read on a connection of our own, which changes whenever
another connection commits (the collector, another API process, this one's deletions).
A new version empties the cache before anything is read. A store without such a version
(InfluxDB) is read every time.

KeptLinks does the same for the households of live links, with the relational database's
data version (the SQLite file's; PostgreSQL and an in-memory database are read every time).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from citizenwatt.store.port import ReadingStore
from citizenwatt.store.sqlite import SqliteStore

T = TypeVar("T")
MISSING: Any = object()
MAX_ENTRIES = 4096


class _Versioned:
    """Entries kept for one data version of a SQLite file (`PRAGMA data_version`, read on a
    connection of our own); no file (`path` None): nothing is kept."""

    def __init__(self, path: Path | None, max_entries: int):
        self._path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._version: int | None = None
        self._probe: sqlite3.Connection | None = None

    def version(self) -> int | None:
        """The file's data version now; None: unknown, nothing is kept."""
        if self._path is None:
            return None
        with self._lock:
            try:
                if self._probe is None:
                    self._probe = sqlite3.connect(self._path, timeout=30, check_same_thread=False)
                return int(self._probe.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self._close_probe()
                return None

    def _keep(self, key: Hashable, value: Any) -> None:
        """Keep `value` (the lock held, the version checked by the caller)."""
        self._entries[key] = value
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def _close_probe(self) -> None:
        if self._probe is not None:
            try:
                self._probe.close()
            except sqlite3.Error:
                pass
            self._probe = None

    def close(self) -> None:
        with self._lock:
            self._close_probe()
            self._entries.clear()


class StoreReads(_Versioned):
    """Read-through cache of store figures, emptied when the store's data version moves."""

    def __init__(self, store: ReadingStore, max_entries: int = MAX_ENTRIES):
        super().__init__(store.path if isinstance(store, SqliteStore) else None, max_entries)
        self.store = store

    def peek(self, key: Hashable, asked: Any = MISSING) -> Any:
        """What is kept for `key` at the store's present version (or at `asked`, read by the
        caller a moment before), else MISSING."""
        version = self.version() if asked is MISSING else asked
        with self._lock:
            if version is None or version != self._version or key not in self._entries:
                return MISSING
            self._entries.move_to_end(key)
            return self._entries[key]

    async def aget(self, key: Hashable, compute: Callable[[], T]) -> T:
        """get() for a coroutine: a kept figure is answered on the event loop, a read of the
        store goes to a worker thread (InfluxDB or a year of hours may take a while)."""
        value = self.peek(key)
        if value is not MISSING:
            return value
        return await run_in_threadpool(self.get, key, compute)

    def get(self, key: Hashable, compute: Callable[[], T], asked: Any = MISSING) -> T:
        """compute(), or what it gave for `key` since the store last changed; `asked`:
        self.version() read a moment before, to read it once for several figures."""
        version: int | None = self.version() if asked is MISSING else asked
        if version is None:
            return compute()
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            elif key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()  # outside the lock: a slow read does not hold up the others
        with self._lock:
            if self._version == version:
                self._keep(key, value)
        return value

    def put(self, key: Hashable, value: Any, version: int | None) -> None:
        """Keep `value` for `key` if it was computed at `version` and the store has not
        moved on since (a figure of an older version is never kept)."""
        if version is None:
            return
        with self._lock:
            if self._version is None:
                self._version = version
            if self._version == version:
                self._keep(key, value)


class KeptLinks(_Versioned):
    """The households of live links (auth.linked_household, keyed by the link), kept until
    any connection commits to the relational database: a revoked or reissued link, a renamed
    household, a meter moved or relabelled is seen by the next request, in every process.
    Only on a SQLite file, whose data version tells; any other database is read each time.
    A link that opens nothing is never kept (it is refused and counted the usual way)."""

    def __init__(self, engine: Engine, max_entries: int = MAX_ENTRIES):
        url = engine.url
        database = url.database if engine.dialect.name == "sqlite" else None
        super().__init__(Path(database) if database and database != ":memory:"
                         and not database.startswith("file:") else None, max_entries)

    def peek(self, token: str) -> Any:
        """The household kept for `token` at the database's present version, else None."""
        version = self.version()
        with self._lock:
            if version is None or version != self._version:
                return None
            return self._entries.get(token)

    def get(self, token: str, read: Callable[[], T | None]) -> T | None:
        """read() (in the caller's thread), kept for `token` if it found a household."""
        version = self.version()  # before reading: a change made meanwhile is seen next time
        value = read()
        if version is None or value is None:
            return value
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            self._keep(token, value)
        return value
