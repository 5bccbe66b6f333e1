"""Schema migrations of the households database (Alembic, api/migrations/), on SQLite and on
PostgreSQL: a database of the previous release (create_all, no alembic_version) is
recognised, upgraded, and keeps every row; the migrations build exactly the models; a
database this code cannot vouch for is refused with nothing changed."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from citizenwatt.api import db as dbmod
from citizenwatt.api.db import BASELINE, BASELINE_TABLES, DatabaseError, head_revision, init_db, make_engine
from citizenwatt.api.models import Base, Household
from citizenwatt.cli import app

from . import models_0_1_0 as previous

_n = itertools.count()

# One row or more in every table of the previous release, with every column given.
ROWS: dict[str, list[dict]] = {
    "deployment": [
        {"id": 1, "name": "Atelier Belleville", "timezone": "Europe/Paris", "co2_g_per_kwh": 52.0,
         "co2_source": "RTE 2025", "hdd_base_c": 18.0, "created_utc": 1_767_000_000.5},
        {"id": 2, "name": "Atelier Lyon", "timezone": "Europe/Paris", "co2_g_per_kwh": 60.0,
         "co2_source": "ADEME", "hdd_base_c": 17.0, "created_utc": 1_767_000_100.0},
    ],
    "household": [
        {"id": 10, "deployment_id": 1, "name": "Foyer 1", "profile": "appart-gaz", "tariff_option": "hphc",
         "offpeak_start_h": 23, "offpeak_end_h": 7, "baseline_start": date(2026, 3, 1),
         "baseline_end": date(2026, 3, 14), "created_utc": 1_767_000_200.25},
        {"id": 11, "deployment_id": 2, "name": "Foyer 2", "profile": "", "tariff_option": "base",
         "offpeak_start_h": 22, "offpeak_end_h": 6, "baseline_start": None, "baseline_end": None,
         "created_utc": 1_767_000_300.0},
    ],
    "household_link": [
        {"id": 1, "household_id": 10, "token_sha256": "a" * 64, "created_utc": 1.0, "revoked_utc": 2.0},
        {"id": 2, "household_id": 10, "token_sha256": "b" * 64, "created_utc": 3.0, "revoked_utc": None},
    ],
    "meter": [{"id": "meter-a", "deployment_id": 1, "note": "tableau du couloir"},
              {"id": "meter-b", "deployment_id": 2, "note": ""}],
    "channel": [{"meter_id": "meter-a", "channel": 0, "label": "Toute la maison", "role": "main"},
                {"meter_id": "meter-a", "channel": 1, "label": "Chauffe-eau", "role": "sub"}],
    "meter_assignment": [
        {"id": 1, "meter_id": "meter-a", "household_id": 10, "valid_from": date(2026, 3, 1),
         "valid_to": None},
        {"id": 2, "meter_id": "meter-b", "household_id": 11, "valid_from": date(2026, 2, 1),
         "valid_to": date(2026, 4, 1)},
    ],
    "tariff": [{"id": 1, "deployment_id": 1, "option": "base", "valid_from": date(2026, 2, 1),
                "valid_to": None, "base_eur_per_kwh": 0.1952, "peak_eur_per_kwh": None,
                "offpeak_eur_per_kwh": None, "source": "CRE"}],
    "daily_temperature": [{"deployment_id": 1, "day": date(2026, 3, 2), "mean_temp_c": 7.5}],
    "staff_user": [
        {"id": 1, "deployment_id": None, "username": "anne", "password_hash": "scrypt$x", "role": "admin",
         "disabled": False, "created_utc": 5.0},
        {"id": 2, "deployment_id": 1, "username": "bruno", "password_hash": "scrypt$y", "role": "leader",
         "disabled": True, "created_utc": 6.0},
    ],
    "staff_token": [{"id": 1, "user_id": 2, "kind": "api", "name": "atelier", "token_sha256": "c" * 64,
                     "created_utc": 7.0, "expires_utc": 9.0, "revoked_utc": None}],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}"
    return request.getfixturevalue("postgres").create_database(f"cw_migrate_{next(_n)}")


@pytest.fixture
def engine(url):
    e = make_engine(url)
    yield e
    e.dispose()


def previous_release_database(engine) -> None:
    """What the previous release left: its create_all, then rows in every table."""
    previous.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in previous.Base.metadata.sorted_tables:
            conn.execute(table.insert(), ROWS[table.name])


def every_row(engine) -> dict[str, list[dict]]:
    """Every row of the previous release's tables, with its columns, in key order."""
    out = {}
    with engine.connect() as conn:
        for table in previous.Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            out[table.name] = [dict(r) for r in rows]
    return out


def test_rows_cover_every_table_and_column_of_the_previous_release():
    assert set(ROWS) == set(previous.Base.metadata.tables)
    for name, table in previous.Base.metadata.tables.items():
        assert all(set(row) == set(table.columns.keys()) for row in ROWS[name]), name


def test_the_baseline_check_lists_the_previous_release_tables_and_columns():
    assert BASELINE_TABLES == {name: frozenset(t.columns.keys())
                               for name, t in previous.Base.metadata.tables.items()}


def test_the_previous_release_database_upgrades_and_keeps_every_row(engine):
    previous_release_database(engine)
    before = every_row(engine)
    assert sum(len(rows) for rows in before.values()) == sum(len(r) for r in ROWS.values())

    maker = init_db(engine)

    with engine.connect() as conn:
        assert dbmod.current_revision(conn) == head_revision() != BASELINE
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("household")}
    assert "ix_household_profile" in indexes  # revision 0002 ran
    assert every_row(engine) == before
    with maker() as db:  # and today's models read them
        hh = db.scalar(select(Household).where(Household.name == "Foyer 1"))
        assert hh.deployment.name == "Atelier Belleville"
        assert [a.meter_id for a in hh.assignments] == ["meter-a"]
    assert dbmod.upgrade(engine) == (head_revision(), head_revision())  # a second start changes nothing


def test_the_migrations_build_exactly_the_models(engine):
    init_db(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_the_baseline_revision_is_the_previous_release_schema(engine):
    dbmod.upgrade(engine, BASELINE)
    with engine.connect() as conn:
        assert dbmod.current_revision(conn) == BASELINE
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                previous.Base.metadata)
    assert diff == []


def test_tables_unlike_the_previous_release_are_refused_and_left_as_they_are(engine):
    previous.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE meter ADD COLUMN firmware VARCHAR(20)"))
        conn.execute(text("DROP TABLE daily_temperature"))
    with pytest.raises(DatabaseError) as e:
        init_db(engine)
    said = e.value.say("en")
    assert "meter: +firmware" in said and "daily_temperature: -" in said
    assert "citizenwatt admin restore" in said
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "alembic_version" not in tables and "daily_temperature" not in tables


def test_a_database_from_a_newer_release_is_refused(engine, url):
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError) as e:
        init_db(engine)
    said = e.value.say("en")
    assert "9999" in said and "newer version" in said
    r = CliRunner().invoke(app, ["--lang", "en", "admin", "migrate", "--sql"],
                           env={"CITIZENWATT_API__DATABASE_URL": url})
    assert r.exit_code == 1 and "9999" in r.output and "newer version" in r.output
    with engine.connect() as conn:
        assert dbmod.current_revision(conn) == "9999"


def test_a_batch_copy_on_sqlite_cascades_into_no_row(tmp_path):
    """A future revision that SQLite can only do by copying a table (here a CHECK added to
    staff_user, which staff_token references ON DELETE CASCADE): under db._locked the tokens
    survive; with foreign keys on, the same copy would have deleted them."""
    def add_check(conn):
        ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
        with ops.batch_alter_table("staff_user", recreate="always") as batch:
            batch.create_check_constraint("ck_staff_role", "role IN ('viewer', 'leader', 'admin')")

    def tokens(engine):
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM staff_token")).scalar()

    engines = []
    for name in ("locked", "plain"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite")
        engines.append(engine)
        previous_release_database(engine)
        init_db(engine)
        assert tokens(engine) == 1
    with dbmod._locked(engines[0]) as conn:
        add_check(conn)
    with engines[1].begin() as conn:  # foreign keys on, as every connection of the API has them
        add_check(conn)
    assert (tokens(engines[0]), tokens(engines[1])) == (1, 0)
    for engine in engines:
        engine.dispose()


def test_admin_migrate_prints_the_sql_then_upgrades(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}")
    previous_release_database(engine)
    run = CliRunner()
    r = run.invoke(app, ["admin", "migrate", "--sql", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "CREATE INDEX ix_household_profile ON household (deployment_id, profile)" in r.output
    assert f"INSERT INTO alembic_version (version_num) VALUES ('{BASELINE}')" in r.output
    with engine.connect() as conn:  # --sql changed nothing
        assert "alembic_version" not in inspect(conn).get_table_names()
    r = run.invoke(app, ["admin", "migrate", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert f"Base migrée de {BASELINE} à {head_revision()}." in r.output
    r = run.invoke(app, ["--lang", "en", "admin", "migrate", "--data-dir", str(tmp_path)])
    assert f"already at the newest schema ({head_revision()})" in r.output
    assert every_row(engine) == every_row_expected()
    engine.dispose()


def every_row_expected() -> dict[str, list[dict]]:
    out = {}
    for table in previous.Base.metadata.sorted_tables:
        keys = [c.name for c in table.primary_key.columns]
        out[table.name] = sorted(ROWS[table.name], key=lambda r: tuple(r[k] for k in keys))
    return out


def test_two_instances_starting_together_migrate_once(url):
    """Two API instances on one database (two hosts, or two workers): the migration lock
    makes the second wait and find the schema already at head."""
    import threading

    engines = [make_engine(url) for _ in range(2)]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def start(engine):
        barrier.wait()
        try:
            results.append(dbmod.upgrade(engine))
        except Exception as e:  # noqa: BLE001 - collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    head = head_revision()
    assert sorted(results, key=lambda r: r[0] or "") == [(None, head), (head, head)]
    for e in engines:
        e.dispose()
