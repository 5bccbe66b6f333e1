"""The relational database: an engine from a URL (SQLite by default, PostgreSQL supported),
the tables created at start, and one session per request."""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .models import Base


class DatabaseError(RuntimeError):
    """The relational database cannot be used; the message says what to check."""


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
        engine = create_engine(url, **kwargs)
    except Exception as e:
        raise DatabaseError(f"Adresse de base de données invalide ({e}). Exemple : "
                            "sqlite:///citizenwatt-data/citizenwatt.sqlite ou "
                            "postgresql://user:motdepasse@hote/base") from e
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
        raise DatabaseError(f"Impossible d'ouvrir la base de données {engine.url!r} : {e}. "
                            "Vérifiez l'adresse, les droits et que le serveur tourne.") from e
    return sessionmaker(engine, expire_on_commit=False)
