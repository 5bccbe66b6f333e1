"""The relational database: an engine from a URL (SQLite by default, PostgreSQL supported),
the tables created at start, and one session per request."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from citizenwatt.errors import DatabaseError
from citizenwatt.i18n import N_
from citizenwatt.store.sqlite import create_private

from .models import Base


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
    else:
        kwargs["pool_pre_ping"] = True
    try:
        database = make_url(url).database if url.startswith("sqlite") else None
        if database and database != ":memory:" and not database.startswith("file:") \
                and Path(database).parent.is_dir():
            # 0600: staff accounts and link hashes. A missing folder is not made here (a
            # mistyped address must fail, as SQLite would): init_db says so, in a sentence.
            with contextlib.suppress(OSError):
                create_private(Path(database))
        engine = create_engine(url, **kwargs)
    except Exception as e:
        raise DatabaseError(N_("Invalid database address ({error})."),
                            N_("Example: sqlite:///citizenwatt-data/citizenwatt.sqlite or "
                               "postgresql://user:password@host/database"), error=e) from e
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE needs it
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return engine


def init_db(engine: Engine) -> sessionmaker[Session]:
    try:
        Base.metadata.create_all(engine)
    except Exception as e:
        raise DatabaseError(N_("Cannot open the database {url!r}: {error}."),
                            N_("Check the address, the permissions and that the server is "
                               "running."), url=engine.url, error=e) from e
    return sessionmaker(engine, expire_on_commit=False)
