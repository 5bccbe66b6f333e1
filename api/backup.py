"""Backups of a deployment and their restore (`citizenwatt admin backup`, `restore`): the
households database (SQLite through its online backup API, PostgreSQL through
pg_dump/pg_restore), the embedded readings store or, with InfluxDB, the collector's ledger;
a manifest with versions and checksums. See docs/operations.md."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from citizenwatt import __version__
from citizenwatt.config import Settings
from citizenwatt.errors import BackupError
from citizenwatt.i18n import N_

from .db import current_revision, is_known_revision, make_engine, upgrade

MANIFEST = "manifest.json"
FORMAT = 1  # of the manifest; a restore refuses a newer one
_STEP_FOLDER = N_("Check the folder given with --from: it must be a folder made by `citizenwatt admin "
                  "backup`, copied whole.")


@dataclass(frozen=True)
class Part:
    """One thing a backup holds: what it is, its file in the backup, how it is copied, and
    where it lives in the deployment (a SQLite file, or a PostgreSQL database)."""

    what: str  # households | readings | ledger
    file: str
    method: str  # sqlite | pg_dump
    path: Path | None = None
    url: URL | None = None
    optional: bool = False  # the ledger exists only where a collector runs

    @property
    def where(self) -> str:
        return str(self.path) if self.path else self.url.render_as_string() if self.url else "?"


def parts(settings: Settings) -> list[Part]:
    """What a backup of this deployment holds, from its settings."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError(N_("The households database is in memory: there is nothing to back up."),
                              N_("Give the deployment's settings (--data-dir, --config)."))
        found = [Part("households", "households.sqlite", "sqlite", path=Path(url.database))]
    elif url.get_backend_name() == "postgresql":
        found = [Part("households", "households.pgdump", "pg_dump", url=url)]
    else:
        raise BackupError(N_("Backups know SQLite and PostgreSQL, not {dialect}."),
                          N_("Use your database's own backup tool."), dialect=url.get_backend_name())
    if settings.store.kind == "sqlite":
        found.append(Part("readings", "readings.sqlite", "sqlite", path=settings.readings_db))
    else:  # InfluxDB keeps the readings: `influxd backup` (docs/operations.md)
        found.append(Part("ledger", "influx-ledger.sqlite", "sqlite", path=settings.influx_spool_db,
                          optional=True))
    return found


# -- making a backup ----------------------------------------------------------------------

def backup(settings: Settings, out: Path, *, now_utc: float) -> dict[str, Any]:
    """Copy the deployment's data into the new folder `out`, then its manifest; return the
    manifest. A folder that is not empty is refused: a backup never overwrites another."""
    todo = parts(settings)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(N_("The folder {path} already exists and is not empty."),
                          N_("Give a new folder: a backup never overwrites another one."), path=out)
    created = not out.exists()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        files, notes = [], []
        for part in todo:
            target = out / part.file
            if part.method == "pg_dump":
                assert part.url is not None
                _pg_dump(part.url, target)
            else:
                assert part.path is not None
                if not part.path.is_file():
                    if part.optional:
                        notes.append(f"{part.what}: {part.path} -")
                        continue
                    raise BackupError(N_("{path} does not exist: nothing to back up there."),
                                      N_("Give the deployment's data folder (--data-dir) or settings "
                                         "(--config)."), path=part.path)
                sqlite_copy(part.path, target, new=True)
            files.append({"what": part.what, "file": part.file, "method": part.method,
                          "bytes": target.stat().st_size, "sha256": sha256(target)})
        manifest = {
            "format": FORMAT,
            "citizenwatt": __version__,
            "created_utc": now_utc,
            "created": datetime.fromtimestamp(now_utc, UTC).isoformat(timespec="seconds"),
            "schema_revision": _schema_revision(settings.database_url, out / todo[0].file
                                                if todo[0].method == "sqlite" else None),
            "households_database": todo[0].method.replace("pg_dump", "postgresql"),
            "store": settings.store.kind,
            "sqlite": sqlite3.sqlite_version,
            "pg_dump": _tool_version("pg_dump") if todo[0].method == "pg_dump" else None,
            "influxdb": ({"url": settings.store.influx_url, "bucket": settings.store.influx_bucket,
                          "readings": "not in this backup: influxd backup -portable (docs/operations.md)"}
                         if settings.store.kind != "sqlite" else None),
            "files": files,
            "notes": notes,
        }
        _write_private(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        return manifest
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for f in out.iterdir():
                f.unlink()
        raise


def _schema_revision(database_url: str, copy: Path | None) -> str | None:
    """The schema revision of the data backed up: read from the SQLite copy itself (read
    only: its checksum is taken), or from the PostgreSQL database."""
    if copy is not None:
        db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # made before migrations existed
            row = None
        finally:
            db.close()
        return row[0] if row else None
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    finally:
        engine.dispose()


def sqlite_copy(source: Path, target: Path, *, new: bool) -> None:
    """A consistent copy of a live SQLite file through SQLite's online backup API: writers
    may go on, the copy is the database at one instant. `new`: the target must not exist
    (it is made 0600); else the target database is replaced in place, under its own lock,
    so that its WAL and any reader stay consistent."""
    if new:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
        if new:
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)


# -- PostgreSQL ---------------------------------------------------------------------------

def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(N_("{tool} is not installed: it backs up and restores PostgreSQL."),
                          N_("Install it: apt-get install postgresql-client."), tool=name)
    return found


def _tool_version(name: str) -> str:
    return subprocess.run([_tool(name), "--version"], capture_output=True, text=True,
                          timeout=30).stdout.strip()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump's --dbname and environment for `url`; the password goes in PGPASSWORD, never
    on a command line that `ps` shows."""
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return ["--dbname", dsn], env


def _run_pg(tool: str, args: list[str], url: URL) -> None:
    dbname, env = _libpq(url)
    r = subprocess.run([_tool(tool), *args, *dbname], env=env, capture_output=True, text=True,
                       timeout=6 * 3600)
    if r.returncode != 0:
        raise BackupError(N_("{tool} failed on {database}: {error}"),
                          N_("Check that PostgreSQL runs and that this account may read and write "
                             "the database; nothing else was changed."),
                          tool=tool, database=url.render_as_string(), error=r.stderr.strip()[-600:])


def _pg_dump(url: URL, target: Path) -> None:
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--file", str(target)], url)


def _pg_restore(dump: Path, url: URL) -> None:
    # --clean --if-exists: the tables an API start made in the empty database are replaced;
    # one transaction: a failure leaves the database as it was.
    _run_pg("pg_restore", ["--clean", "--if-exists", "--no-owner", "--no-privileges",
                           "--single-transaction", "--exit-on-error", str(dump)], url)


# -- restoring ----------------------------------------------------------------------------

def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file it lists against its checksum."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BackupError(N_("{path} is not a Citizen Watt backup ({error})."), _STEP_FOLDER,
                          path=source, error=e) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise BackupError(N_("{path} is not a Citizen Watt backup ({error})."), _STEP_FOLDER,
                          path=source, error=MANIFEST)
    if manifest.get("format", 0) > FORMAT:
        raise BackupError(N_("This backup was made by a newer Citizen Watt ({version})."),
                          N_("Restore it with that version or a newer one."),
                          version=manifest.get("citizenwatt"))
    for f in manifest["files"]:
        if not isinstance(f, dict) or Path(str(f.get("file"))).name != f.get("file"):
            raise BackupError(N_("{path} is not a Citizen Watt backup ({error})."), _STEP_FOLDER,
                              path=source, error=f"{MANIFEST}: {f!r}")
        path = source / f["file"]
        if not path.is_file() or sha256(path) != f["sha256"]:
            raise BackupError(N_("The file {path} of the backup is missing or damaged (its checksum "
                                 "differs from the manifest's)."),
                              N_("Nothing was restored. Use another copy of the backup."), path=path)
    return manifest


def _has_rows_sqlite(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    db = sqlite3.connect(path, timeout=30)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'")]
        return any(db.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in tables)
    finally:
        db.close()


def _has_rows_pg(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return any(conn.execute(text(f'SELECT 1 FROM "{t}" LIMIT 1')).first() for t in tables)
    except SQLAlchemyError as e:
        raise BackupError(N_("Cannot reach the database {url} to restore into ({error})."),
                          N_("Create it first (createdb), check the address and that PostgreSQL "
                             "runs; nothing was changed."),
                          url=engine.url, error=str(e).splitlines()[0]) from None


def restore(settings: Settings, source: Path, *, force: bool, now_utc: float) -> dict[str, Any]:
    """Put the backup in `source` back in place of the deployment's data and bring the
    households database to the newest schema. Every file is checked first; targets that hold
    data are refused unless `force`, and then kept beside them (`*.before-restore-<time>`).
    Returns {"manifest", "kept" (paths), "revision"}. Stop the API and the collector first."""
    manifest = read_manifest(source)
    todo = {p.what: p for p in parts(settings)}
    files = {f["what"]: f for f in manifest["files"]}
    for what, f in files.items():
        part = todo.get(what)
        if part is None or part.method != f["method"]:
            raise BackupError(N_("The backup holds {what} as {method}, but these settings keep it "
                                 "elsewhere ({settings})."),
                              N_("Restore with the settings the backup was made with (--config), "
                                 "then change them."),
                              what=what, method=f["method"],
                              settings=part.method if part else settings.store.kind)
    revision = manifest.get("schema_revision")
    if revision and not is_known_revision(revision):
        raise BackupError(N_("This backup's households database is at schema revision {revision}, "
                             "which this version of Citizen Watt does not know."),
                          N_("Restore it with the version that made it ({version}) or a newer one."),
                          revision=revision, version=manifest.get("citizenwatt"))
    on_pg = files.get("households", {}).get("method") == "pg_dump"
    engine = make_engine(settings.database_url) if on_pg else None
    try:
        full = [todo[w] for w in files if _holds_data(todo[w], engine)]
        if full and not force:
            raise BackupError(N_("Restoring would replace data that is there now: {targets}."),
                              N_("Nothing was changed. Add --force to replace it (the present data "
                                 "are first kept beside it, as *.before-restore-<time>)."),
                              targets=", ".join(p.where for p in full))
        stamp = datetime.fromtimestamp(now_utc, UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = [_keep(p, settings, stamp) for p in full]
        order = sorted(files, key=lambda w: files[w]["method"] != "pg_dump")  # the fallible one first
        for what in order:
            part = todo[what]
            if part.method == "pg_dump":
                assert part.url is not None
                _pg_restore(source / files[what]["file"], part.url)
            else:
                assert part.path is not None
                part.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                new = not part.path.exists()
                if new:
                    os.close(os.open(part.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                sqlite_copy(source / files[what]["file"], part.path, new=False)
    finally:
        if engine is not None:
            engine.dispose()
    engine = make_engine(settings.database_url)
    try:
        _before, after = upgrade(engine)
    finally:
        engine.dispose()
    return {"manifest": manifest, "kept": kept, "revision": after}


def _holds_data(part: Part, engine: Engine | None) -> bool:
    if part.method == "pg_dump":
        assert engine is not None
        return _has_rows_pg(engine)
    assert part.path is not None
    return _has_rows_sqlite(part.path)


def _keep(part: Part, settings: Settings, stamp: str) -> Path:
    """A copy of what is there now, made before a forced restore replaces it."""
    if part.method == "pg_dump":
        assert part.url is not None
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept = settings.data_dir / f"households.before-restore-{stamp}.pgdump"
        _pg_dump(part.url, kept)
        return kept
    assert part.path is not None
    kept = part.path.with_name(f"{part.path.name}.before-restore-{stamp}")
    sqlite_copy(part.path, kept, new=True)
    return kept
