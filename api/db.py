"""The relational database: an engine from a URL (SQLite by default, PostgreSQL supported),
its schema brought to the newest migration at start (Alembic, api/migrations/), and one
session per request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from citizenwatt.errors import DatabaseError
from citizenwatt.i18n import N_
from citizenwatt.store.sqlite import create_private

from .models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The schema of release 0.1.0, which created its tables with create_all and kept no
# migration record: a database of that release is recognised by these tables and columns,
# then marked as being at this revision before it is upgraded.
BASELINE = "0001"
BASELINE_TABLES: dict[str, frozenset[str]] = {
    "deployment": frozenset({"id", "name", "timezone", "co2_g_per_kwh", "co2_source", "hdd_base_c",
                             "created_utc"}),
    "household": frozenset({"id", "deployment_id", "name", "profile", "tariff_option",
                            "offpeak_start_h", "offpeak_end_h", "baseline_start", "baseline_end",
                            "created_utc"}),
    "household_link": frozenset({"id", "household_id", "token_sha256", "created_utc", "revoked_utc"}),
    "meter": frozenset({"id", "deployment_id", "note"}),
    "channel": frozenset({"meter_id", "channel", "label", "role"}),
    "meter_assignment": frozenset({"id", "meter_id", "household_id", "valid_from", "valid_to"}),
    "tariff": frozenset({"id", "deployment_id", "option", "valid_from", "valid_to", "base_eur_per_kwh",
                         "peak_eur_per_kwh", "offpeak_eur_per_kwh", "source"}),
    "daily_temperature": frozenset({"deployment_id", "day", "mean_temp_c"}),
    "staff_user": frozenset({"id", "deployment_id", "username", "password_hash", "role", "disabled",
                             "created_utc"}),
    "staff_token": frozenset({"id", "user_id", "kind", "name", "token_sha256", "created_utc",
                              "expires_utc", "revoked_utc"}),
}
_PG_LOCK = 0x43574D47  # pg_advisory_xact_lock key: one API instance migrates at a time


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
    """Bring the database to the newest schema (see `upgrade`), then sessions on it."""
    upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)


# -- migrations ---------------------------------------------------------------------------

def alembic_config(connection: Connection | None = None, *, dialect: str | None = None,
                   output: TextIO | None = None) -> Any:
    """Alembic's configuration for our migrations, without any alembic.ini: on `connection`
    (online), or printing the SQL of `dialect` to `output` (offline)."""
    from alembic.config import Config

    cfg = Config(output_buffer=output)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes.update(connection=connection, dialect=dialect)
    return cfg


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    return _script().get_current_head()


def is_known_revision(revision: str) -> bool:
    """Whether this code has migration `revision` (a newer release's is unknown)."""
    from alembic.util import CommandError

    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def run_migrations(context: Any) -> None:
    """The body of migrations/env.py: run the migrations Alembic asked for, on the
    connection we gave it, or (Alembic's own command, for developers) on `-x url=...`, else
    on the configured database."""
    cfg = context.config
    opts: dict[str, Any] = {"target_metadata": Base.metadata, "render_as_batch": True,
                            "compare_type": True}
    if context.is_offline_mode():
        context.configure(dialect_name=cfg.attributes.get("dialect") or "sqlite", literal_binds=True,
                          **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    conn = cfg.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, **opts)
        with context.begin_transaction():  # inside ours: nothing is committed here
            context.run_migrations()
        return
    from citizenwatt.config import load_settings

    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url
    engine = make_engine(url)
    try:
        with _locked(engine) as conn:
            context.configure(connection=conn, **opts)
            context.run_migrations()
    finally:
        engine.dispose()


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the migration lock, committed at the end.

    PostgreSQL: an advisory lock, so two API instances starting together migrate once.
    SQLite: BEGIN IMMEDIATE takes the write lock (its DDL is transactional, so a failed
    migration leaves nothing half done), with foreign keys off for the duration: Alembic's
    batch mode copies a table and drops the old one, and a DROP with foreign keys on would
    cascade into the rows that reference it. They are checked before the commit."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise DatabaseError(N_("The migration would leave rows pointing to nothing "
                                           "({rows})."),
                                        N_("Nothing was changed. Report it to the Citizen Watt "
                                           "developers with this message."), rows=broken[:5])
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _previous_release_tables(conn: Connection) -> dict[str, set[str]]:
    """Our tables in a database that has no migration record, with their columns."""
    insp = inspect(conn)
    names = set(insp.get_table_names()) & set(BASELINE_TABLES)
    return {t: {c["name"] for c in insp.get_columns(t)} for t in names}


def _check_baseline(engine: Engine, found: dict[str, set[str]]) -> None:
    problems = []
    for table, columns in BASELINE_TABLES.items():
        if table not in found:
            problems.append(f"{table}: -")
            continue
        missing, extra = columns - found[table], found[table] - columns
        if missing or extra:
            problems.append(f"{table}: " + " ".join(
                [f"-{c}" for c in sorted(missing)] + [f"+{c}" for c in sorted(extra)]))
    if problems:
        raise DatabaseError(
            N_("The database {url} has Citizen Watt tables but no migration record, and they "
               "differ from those of the previous release ({differences})."),
            N_("Nothing was changed. Restore a backup (citizenwatt admin restore) or give an "
               "empty database (CITIZENWATT_API__DATABASE_URL)."),
            url=engine.url, differences="; ".join(problems))


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to `revision`; (revision before, revision after).

    A database made by the previous release (its tables, no alembic_version) is first
    checked against that release's tables and marked as BASELINE; a database at a revision
    this code does not know (upgraded by a newer release) is refused."""
    from alembic import command
    from alembic.util import CommandError

    try:
        with _locked(engine) as conn:
            before = current_revision(conn)
            if before is None:
                found = _previous_release_tables(conn)
                if found:
                    _check_baseline(engine, found)
                    command.stamp(alembic_config(conn), BASELINE)
                    before = BASELINE
            elif before == head_revision() and revision == "head":
                return before, before
            command.upgrade(alembic_config(conn), revision)
            return before, current_revision(conn)
    except DatabaseError:
        raise
    except CommandError as e:
        raise _unknown_revision(engine, _safe_current(engine), e) from e
    except Exception as e:
        raise _cannot_open(engine, e) from e


def _unknown_revision(engine: Engine, revision: str, error: object) -> DatabaseError:
    return DatabaseError(
        N_("The database {url} is at schema revision {revision}, which this version of "
           "Citizen Watt does not know ({error})."),
        N_("It was upgraded by a newer version: run that version, or restore a backup made "
           "before the upgrade (citizenwatt admin restore)."),
        url=engine.url, revision=revision, error=error)


def _cannot_open(engine: Engine, error: Exception) -> DatabaseError:
    return DatabaseError(N_("Cannot open the database {url!r}: {error}."),
                         N_("Check the address, the permissions and that the server is "
                            "running."), url=engine.url, error=error)


def _safe_current(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            return current_revision(conn) or "-"
    except Exception:
        return "?"


def upgrade_sql(engine: Engine, output: TextIO) -> None:
    """Print the SQL that `upgrade` would run on this database, changing nothing."""
    from alembic import command

    try:
        with engine.connect() as conn:
            before = current_revision(conn)
            previous = before is None and bool(_previous_release_tables(conn))
    except Exception as e:
        raise _cannot_open(engine, e) from e
    if before is not None and not is_known_revision(before):
        raise _unknown_revision(engine, before, "--sql")
    dialect = engine.dialect.name
    if previous:
        command.stamp(alembic_config(dialect=dialect, output=output), BASELINE, sql=True)
        before = BASELINE
    if before == head_revision():
        return
    start = f"{before}:" if before else ""
    command.upgrade(alembic_config(dialect=dialect, output=output), f"{start}head", sql=True)
