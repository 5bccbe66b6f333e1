"""Backup and restore drills (`citizenwatt admin backup`, `restore`): a deployment filled
through the API's admin and the readings store, backed up, its data wiped, restored: every
household figure over the API is the same. Also: what a restore refuses, and what it keeps."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import stat

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.backup import sha256
from citizenwatt.api.db import head_revision
from citizenwatt.cli import app as cli
from citizenwatt.config import Settings
from citizenwatt.store.sqlite import SqliteStore

from .conftest import Clock
from .world import build_world, fill_store

_n = itertools.count()
run = CliRunner()


def figures(world_app, households: dict) -> dict:
    """What each household sees over the API: daily energy, savings in kWh, euros and CO2,
    live power, its record; and what its leader sees of the meters."""
    out = {}
    with TestClient(world_app) as c:
        for key, (hh_id, token) in sorted(households.items()):
            h = {"Authorization": f"Bearer {token}"}
            month = {"resolution": "day", "start": "2026-03-01", "end": "2026-03-31"}
            energy = c.get(f"/api/v1/households/{hh_id}/energy", params=month, headers=h)
            savings = c.get(f"/api/v1/households/{hh_id}/savings",
                            params={"start": "2026-03-15", "end": "2026-03-30"}, headers=h)
            live = c.get(f"/api/v1/households/{hh_id}/live", headers=h)
            record = c.get(f"/api/v1/households/{hh_id}", headers=h)
            assert {r.status_code for r in (energy, savings, live, record)} == {200}, key
            out[key] = {"energy": energy.json(), "savings": savings.json(), "live": live.json(),
                        "record": record.json()}
    return out


def filled(settings: Settings):
    """A deployment in settings' data folder: households, staff and readings (tests/api/world)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(settings.readings_db)
    w = build_world(store, Clock(), settings=settings)
    return w, store


def close(world, store) -> None:
    store.close()
    world.app.state.engine.dispose()


def reopened(settings: Settings, clock_s: float):
    store = SqliteStore(settings.readings_db)
    return create_app(store, settings, clock=Clock(clock_s)), store


def test_drill_backup_wipe_restore_gives_every_household_figure_back(tmp_path):
    data, out = tmp_path / "data", tmp_path / "sauvegarde"
    settings = Settings(data_dir=data)
    w, store = filled(settings)
    before = figures(w.app, w.households)
    assert before["A"]["savings"]["saved_eur"] > 0 and before["A"]["energy"]["total"]["energy_wh"] > 0
    close(w, store)

    r = run.invoke(cli, ["admin", "backup", "--out", str(out), "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert "Sauvegarde faite dans" in r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_revision"] == head_revision()
    assert {f["what"]: f["file"] for f in manifest["files"]} == {
        "households": "households.sqlite", "readings": "readings.sqlite"}
    for f in manifest["files"]:
        assert sha256(out / f["file"]) == f["sha256"]
        assert f["bytes"] == (out / f["file"]).stat().st_size
    assert sorted(p.name for p in out.iterdir()) == ["households.sqlite", "manifest.json", "readings.sqlite"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700

    shutil.rmtree(data)
    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert "restaurée" in r.output

    app, store = reopened(settings, w.clock.now_s)
    assert figures(app, w.households) == before
    store.close()
    app.state.engine.dispose()


def test_restore_refuses_data_in_place_then_with_force_keeps_it_beside(tmp_path):
    data, out = tmp_path / "data", tmp_path / "sauvegarde"
    settings = Settings(data_dir=data)
    w, store = filled(settings)
    before = figures(w.app, w.households)
    close(w, store)
    assert run.invoke(cli, ["admin", "backup", "--out", str(out), "--data-dir", str(data)]).exit_code == 0

    # After the backup, a new household is created: a restore would lose it.
    app, store = reopened(settings, w.clock.now_s)
    with app.state.sessionmaker() as db:
        dep = admin.create_deployment(db, "Atelier Marseille")
        admin.create_household(db, dep, "Foyer D")
        db.commit()
    store.close()
    app.state.engine.dispose()

    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--data-dir", str(data)])
    assert r.exit_code == 1
    assert "--force" in r.output and str(data / "citizenwatt.sqlite") in r.output
    assert sorted(p.name for p in data.iterdir() if "before-restore" in p.name) == []
    with sqlite3.connect(data / "citizenwatt.sqlite") as db:  # untouched
        assert db.execute("SELECT count(*) FROM household WHERE name = 'Foyer D'").fetchone() == (1,)

    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--force", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    kept = sorted(p for p in data.iterdir() if ".before-restore-" in p.name)
    assert [p.name.split(".before-restore-")[0] for p in kept] == ["citizenwatt.sqlite", "readings.sqlite"]
    with sqlite3.connect(kept[0]) as db:  # what was there is kept
        assert db.execute("SELECT count(*) FROM household WHERE name = 'Foyer D'").fetchone() == (1,)
    with sqlite3.connect(data / "citizenwatt.sqlite") as db:
        assert db.execute("SELECT count(*) FROM household WHERE name = 'Foyer D'").fetchone() == (0,)
    app, store = reopened(settings, w.clock.now_s)
    assert figures(app, w.households) == before
    store.close()
    app.state.engine.dispose()


def test_a_damaged_or_foreign_backup_is_refused_before_anything_is_written(tmp_path):
    data, out = tmp_path / "data", tmp_path / "sauvegarde"
    settings = Settings(data_dir=data)
    close(*filled(settings))
    assert run.invoke(cli, ["admin", "backup", "--out", str(out), "--data-dir", str(data)]).exit_code == 0
    r = run.invoke(cli, ["admin", "backup", "--out", str(out), "--data-dir", str(data)])
    assert r.exit_code == 1 and "n'est pas vide" in r.output  # never over another backup

    shutil.rmtree(data)
    blob = bytearray((out / "readings.sqlite").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (out / "readings.sqlite").write_bytes(bytes(blob))
    r = run.invoke(cli, ["--lang", "en", "admin", "restore", "--from", str(out), "--data-dir", str(data)])
    assert r.exit_code == 1 and "readings.sqlite" in r.output and "damaged" in r.output
    assert not data.exists()

    r = run.invoke(cli, ["--lang", "en", "admin", "restore", "--from", str(tmp_path),
                         "--data-dir", str(data)])
    assert r.exit_code == 1 and "is not a Citizen Watt backup" in r.output
    assert not data.exists()


def test_drill_on_postgresql_with_pg_dump(tmp_path, postgres):
    name = f"cw_backup_{next(_n)}"
    url = postgres.create_database(name)
    data, out = tmp_path / "data", tmp_path / "sauvegarde"
    settings = Settings(data_dir=data, api={"database_url": url})
    env = {"CITIZENWATT_API__DATABASE_URL": url}
    w, store = filled(settings)
    before = figures(w.app, w.households)
    close(w, store)

    r = run.invoke(cli, ["admin", "backup", "--out", str(out), "--data-dir", str(data)], env=env)
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["file"] for f in manifest["files"]} == {"households.pgdump", "readings.sqlite"}
    assert manifest["households_database"] == "postgresql" and "pg_dump" in manifest["pg_dump"]

    shutil.rmtree(data)
    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--data-dir", str(data)], env=env)
    assert r.exit_code == 0, r.output

    app, store = reopened(settings, w.clock.now_s)
    assert figures(app, w.households) == before
    store.close()
    app.state.engine.dispose()
    # A second restore over the restored data is refused without --force.
    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--data-dir", str(data)], env=env)
    assert r.exit_code == 1 and "--force" in r.output
    # Into a database that does not exist: a sentence, nothing written.
    missing = {"CITIZENWATT_API__DATABASE_URL": url.rsplit("/", 1)[0] + "/cw_nowhere"}
    r = run.invoke(cli, ["--lang", "en", "admin", "restore", "--from", str(out), "--data-dir",
                         str(tmp_path / "other")], env=missing)
    assert r.exit_code == 1 and "createdb" in r.output and "cw_nowhere" in r.output
    assert not (tmp_path / "other").exists()


def test_with_influxdb_the_backup_holds_the_collector_ledger_and_says_where_the_readings_are(tmp_path):
    data, out = tmp_path / "data", tmp_path / "sauvegarde"
    env = {"CITIZENWATT_STORE__KIND": "influxdb"}
    settings = Settings(data_dir=data, store={"kind": "influxdb"})
    data.mkdir()
    ledger = SqliteStore(settings.influx_spool_db)  # the ledger is an embedded store, as the collector's
    fill_store(ledger)
    ledger_meters = [(m.meter_id, m.readings, m.last_ts_utc) for m in ledger.meters()]
    ledger.close()
    create_app(SqliteStore(tmp_path / "unused.sqlite"), settings).state.engine.dispose()

    r = run.invoke(cli, ["--lang", "en", "admin", "backup", "--out", str(out), "--data-dir", str(data)],
                   env=env)
    assert r.exit_code == 0, r.output
    assert "influxd backup" in r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["what"] for f in manifest["files"]} == {"households", "ledger"}
    assert manifest["influxdb"]["bucket"] == "citizenwatt/autogen"

    shutil.rmtree(data)
    r = run.invoke(cli, ["admin", "restore", "--from", str(out), "--data-dir", str(data)], env=env)
    assert r.exit_code == 0, r.output
    ledger = SqliteStore(settings.influx_spool_db)
    assert [(m.meter_id, m.readings, m.last_ts_utc) for m in ledger.meters()] == ledger_meters
    ledger.close()
    # Restoring the ledger where the settings keep readings in SQLite is refused.
    r = run.invoke(cli, ["--lang", "en", "admin", "restore", "--from", str(out), "--data-dir",
                         str(tmp_path / "elsewhere")])
    assert r.exit_code == 1 and "settings the backup was made with" in r.output
