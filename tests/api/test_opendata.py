"""Open data (`citizenwatt admin opendata`): a Frictionless package that validates, groups
of at least k households, and no household found in it, even by subtracting two exports."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.errors import ApiError
from citizenwatt.api.models import Deployment, Household, MeterAssignment
from citizenwatt.api.opendata import ALL, OTHERS, export_opendata, partition
from citizenwatt.cli import app as cli_app
from citizenwatt.config import Settings

from .helpers import constant_readings, local_ts

FIRST = date(2026, 3, 1)
DAYS = 10
NOW = local_ts(2026, 3, 20, 12)  # every day of the range settled
PROFILES = ["appartement"] * 6 + ["maison"] * 4 + [""] * 2


def power_of(i: int, day: int) -> float:
    """Each household its own daily power, so that its series is recognisable."""
    return 100.0 + 37.0 * i + 11.0 * ((i * 7 + day * 3) % 5)


def fill(store, maker, profiles=PROFILES, first=FIRST, days=DAYS, dep_name="Atelier Belleville"):
    """One household per profile, each with its own meter, measured every 10 min on each day."""
    with maker() as db:
        dep = admin.create_deployment(db, dep_name)
        for i, profile in enumerate(profiles):
            hh, _ = admin.create_household(db, dep, f"Foyer secret {i}", profile=profile)
            meter = f"od-{dep.id}-{i:02d}"
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, first)
            counter, seq = 0.0, 0
            for d in range(days):
                t0 = local_ts(first.year, first.month, first.day) + d * 86400
                rows = constant_readings(meter, t0, t0 + 86400, power_of(i, d), step_s=600, seq0=seq,
                                         counter0_wh=counter)
                store.write(rows, t0 + 86400)
                counter, seq = rows[-1].energy_wh, rows[-1].seq
        db.commit()


def household_daily_wh(i: int, days=DAYS) -> list[float]:
    return [power_of(i, d) * 24 for d in range(days)]


def read_csv(path):
    with open(path / "consumption.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def maker(store):
    return create_app(store, clock=lambda: NOW).state.sessionmaker


def run_export(store, maker, out, start=FIRST, days=DAYS, k=5, now_s=NOW, resolution="day", **kw):
    with maker() as db:
        return export_opendata(db, store, "Atelier Belleville", start, start + timedelta(days=days - 1),
                               resolution, out, k=k, licence="etalab-2.0", now_s=now_s, **kw)


def test_the_package_validates_with_frictionless_and_names_no_one(store, maker, tmp_path):
    frictionless = pytest.importorskip("frictionless")
    fill(store, maker)
    done = run_export(store, maker, tmp_path / "pkg")
    report = frictionless.validate(str(tmp_path / "pkg" / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])
    rows = read_csv(tmp_path / "pkg")
    assert done.published == DAYS and done.rows == len(rows) == 2 * DAYS
    # appartement (6) stands alone; maison (4) and no profile (2) pooled as the other profiles
    assert {r["group"] for r in rows} == {"appartement", "autres profils"}
    assert all(int(r["households"]) >= 5 for r in rows)
    day0 = [r for r in rows if r["period_start"].startswith("2026-03-01")]
    flats = next(r for r in day0 if r["group"] == "appartement")
    assert float(flats["energy_kwh"]) == pytest.approx(sum(power_of(i, 0) * 24 for i in range(6)) / 1000,
                                                       abs=0.002)
    assert flats["period_start"] == "2026-03-01T00:00:00+01:00"
    text = (tmp_path / "pkg" / "consumption.csv").read_text() + (
        tmp_path / "pkg" / "datapackage.json"
    ).read_text()
    assert "Foyer secret" not in text and "od-" not in text
    meta = json.loads((tmp_path / "pkg" / "datapackage.json").read_text())
    assert meta["licenses"][0]["name"] == "etalab-2.0"
    assert meta["resources"][0]["schema"]["fields"][3]["constraints"]["minimum"] == 5


def test_no_household_series_found_in_one_export(store, maker, tmp_path):
    fill(store, maker)
    run_export(store, maker, tmp_path / "pkg", resolution="hour", days=3)
    rows = read_csv(tmp_path / "pkg")
    cells: dict[str, list[float]] = {}
    for r in rows:
        cells.setdefault(r["period_start"], []).append(float(r["energy_kwh"]) * 1000)
    assert len(cells) == 3 * 24
    for i in range(len(PROFILES)):
        hourly = power_of(i, 0)  # the first day's hours
        for period, values in list(cells.items())[:24]:
            # no published figure, nor the difference of two of the same hour, is this household's
            candidates = values + [a - b for a in values for b in values if a != b]
            assert all(abs(c - hourly) > 0.5 for c in candidates), (i, period)


def test_two_exports_cannot_be_subtracted_to_find_a_household(store, maker, tmp_path):
    """A household leaves (its data erased) between two exports of overlapping ranges: the
    second repeats what the first published, so the difference is 0, not its series."""
    fill(store, maker)
    first = run_export(store, maker, tmp_path / "a", days=6)
    leaver = 3  # an "appartement" household
    with maker() as db:
        hh = db.scalar(select(Household).where(Household.name == f"Foyer secret {leaver}"))
        meter = db.scalar(select(MeterAssignment).where(MeterAssignment.household_id == hh.id)).meter_id
        db.delete(hh)
        db.commit()
    store.delete(meter, 0, 4e9)
    second = run_export(store, maker, tmp_path / "b", days=DAYS)
    assert first.published == 6 and second.repeated == 6 and second.published == DAYS
    a = {(r["period_start"], r["group"]): float(r["energy_kwh"]) for r in read_csv(tmp_path / "a")}
    b = {(r["period_start"], r["group"]): float(r["energy_kwh"]) for r in read_csv(tmp_path / "b")}
    assert a.items() <= b.items()  # the overlap is identical, cell by cell
    # the new days were computed without the leaver: 5 flats still make a group
    new_day = [v for (p, g), v in b.items() if p.startswith("2026-03-08") and g == "appartement"]
    expected = sum(power_of(i, 7) * 24 for i in range(6) if i != leaver) / 1000
    assert new_day == [pytest.approx(expected, abs=0.002)]
    # Without the ledger, the same subtraction would have given the leaver's day away:
    fresh = sum(power_of(i, 0) * 24 for i in range(6) if i != leaver) / 1000
    assert a[("2026-03-01T00:00:00+01:00", "appartement")] - fresh == pytest.approx(
        household_daily_wh(leaver)[0] / 1000, abs=0.002
    )


def test_groups_below_k_are_never_published(store, maker, tmp_path):
    fill(store, maker, profiles=["appartement"] * 4)
    done = run_export(store, maker, tmp_path / "pkg")
    assert done.withheld == DAYS and done.published == 0 and read_csv(tmp_path / "pkg") == []


def test_a_partly_measured_day_does_not_count(store, maker, tmp_path):
    """A household whose meter stopped at noon is not counted that day: a group of 5 with it
    becomes 4, so nothing is published for that day."""
    fill(store, maker, profiles=["appartement"] * 5, days=2)
    with maker() as db:
        meter = db.scalar(select(MeterAssignment)).meter_id
    noon = local_ts(2026, 3, 2, 12)
    store.delete(meter, noon, 4e9)
    done = run_export(store, maker, tmp_path / "pkg", days=2)
    rows = read_csv(tmp_path / "pkg")
    assert done.published == 1 and [r["period_start"][:10] for r in rows] == ["2026-03-01"]


def test_recent_days_wait_until_settled(store, maker, tmp_path):
    fill(store, maker)
    last_day_end = local_ts(2026, 3, 11)
    done = run_export(store, maker, tmp_path / "pkg", now_s=last_day_end + 86400, settle_days=2)
    assert done.unsettled == 1 and done.published == DAYS - 1
    # once settled, the next export publishes it
    done = run_export(store, maker, tmp_path / "pkg2", now_s=last_day_end + 3 * 86400, settle_days=2)
    assert done.unsettled == 0 and done.published == DAYS and done.repeated == DAYS - 1


def test_partition_groups_are_disjoint_and_at_least_k():
    rng = random.Random(5)
    for _ in range(2000):
        k = rng.randint(2, 6)
        members = [
            (rng.choice(["a", "b", "c", "", " a "]), rng.uniform(0, 5000)) for _ in range(rng.randint(0, 20))
        ]
        groups = partition(members, k)
        if len(members) < k:
            assert groups == []
            continue
        assert all(n >= k for _, n, _ in groups)
        assert sum(n for _, n, _ in groups) == len(members)  # every household once, no total beside
        assert sum(wh for _, _, wh in groups) == pytest.approx(sum(wh for _, wh in members))
        codes = [g for g, _, _ in groups]
        assert len(codes) == len(set(codes))
        assert ALL not in codes or codes == [ALL]  # "all" never beside a part of itself
    assert partition([("a", 1.0)] * 5 + [("b", 2.0)] * 2, 5) == [(ALL, 7, 9.0)]
    assert partition([("a", 1.0)] * 5 + [("b", 2.0)] * 5, 5) == [
        ("profile:a", 5, 5.0),
        ("profile:b", 5, 10.0),
    ]
    assert partition([("a", 1.0)] * 5 + [("b", 2.0)] * 3 + [("", 1.0)] * 2, 5) == [
        ("profile:a", 5, 5.0),
        (OTHERS, 5, 8.0),
    ]


def test_bad_requests_say_what_to_do(store, maker, tmp_path):
    fill(store, maker, profiles=["a"] * 5, days=1)
    with maker() as db:
        for kwargs, code in [
            ({"resolution": "week"}, "opendata_resolution"),
            ({"licence": "secret"}, "opendata_licence"),
            ({"k": 1}, "opendata_k"),
        ]:
            args = {"resolution": "day", "licence": "etalab-2.0", "k": 5} | kwargs
            with pytest.raises(ApiError) as e:
                export_opendata(
                    db,
                    store,
                    "Atelier Belleville",
                    FIRST,
                    FIRST,
                    args["resolution"],
                    tmp_path / "x",
                    k=args["k"],
                    licence=args["licence"],
                    now_s=NOW,
                )
            assert e.value.code == code
        with pytest.raises(ApiError) as e:
            export_opendata(
                db,
                store,
                "Nowhere",
                FIRST,
                FIRST,
                "day",
                tmp_path / "x",
                k=5,
                licence="etalab-2.0",
                now_s=NOW,
            )
        assert e.value.code == "deployment_unknown"
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "old.csv").write_text("x")
        with pytest.raises(ApiError) as e:
            export_opendata(
                db,
                store,
                "Atelier Belleville",
                FIRST,
                FIRST,
                "day",
                tmp_path / "full",
                k=5,
                licence="etalab-2.0",
                now_s=NOW,
            )
        assert e.value.code == "opendata_out"
        assert db.scalar(select(Deployment)) is not None


def test_the_command_exports_from_a_data_folder(tmp_path):
    """The README's way: `citizenwatt admin opendata` on the data folder the services use."""
    from citizenwatt.store.sqlite import SqliteStore

    settings = Settings(data_dir=tmp_path)
    store = SqliteStore(settings.readings_db)
    try:
        maker = create_app(store, settings, clock=lambda: NOW).state.sessionmaker
        fill(store, maker, days=3)
    finally:
        store.close()
    run = CliRunner()
    r = run.invoke(
        cli_app,
        [
            "admin",
            "opendata",
            "--deployment",
            "Atelier Belleville",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-03",
            "--out",
            str(tmp_path / "pkg"),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "3 sur 3 périodes publiées" in r.output
    assert len(read_csv(tmp_path / "pkg")) == 6
    r = run.invoke(
        cli_app,
        [
            "admin",
            "opendata",
            "--deployment",
            "Atelier Belleville",
            "--from",
            "2026-03-0x",
            "--to",
            "2026-03-03",
            "--out",
            str(tmp_path / "pkg2"),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 2 and "AAAA-MM-JJ" in r.output
