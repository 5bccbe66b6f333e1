"""A small deployment for tests: two deployments, households with meters, staff with roles,
and readings in a real SqliteStore. Every household and meter carries a marker string so
isolation tests can check that none leaks into another's answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.db import make_engine
from citizenwatt.store.sqlite import SqliteStore

from .helpers import constant_readings, local_ts

NOW = local_ts(2026, 3, 31, 12)  # a Tuesday, two days after the spring DST change
PASSWORD = "correct horse battery"


@dataclass
class World:
    app: object
    store: object
    clock: object
    households: dict = field(default_factory=dict)  # key -> (id, token)
    deployments: dict = field(default_factory=dict)
    staff_tokens: dict = field(default_factory=dict)  # username -> api token
    staff_token_ids: dict = field(default_factory=dict)

    def hh(self, key):
        return self.households[key][0]

    def link(self, key):
        return self.households[key][1]

    def bearer(self, token):
        return {"Authorization": f"Bearer {token}"}


def fill_store(store):
    t_base0, t_base1 = local_ts(2026, 3, 1), local_ts(2026, 3, 15)
    end = NOW - 60
    rows = []
    # Household A: 500 W during its baseline (1-14 March), then 400 W.
    rows += constant_readings("meter-a", t_base0, t_base1, 500.0, 600)
    rows += constant_readings("meter-a", t_base1, end, 400.0, 600, seq0=100000,
                              counter0_wh=500.0 * 14 * 24)
    # Household B: 300 W all month; C (other deployment): 700 W.
    rows += constant_readings("meter-b", t_base0, end, 300.0, 600)
    rows += constant_readings("meter-c", t_base0, end, 700.0, 600)
    store.write(rows, NOW)
    store.set_status("meter-a", {"v": 1, "meter": "meter-a", "state": "online", "dropped": 3,
                                 "faults": {"1": "unplugged"}}, NOW - 30)
    store.set_status("meter-b", {"v": 1, "meter": "meter-b", "state": "offline"}, NOW - 3000)


def build_world(store, clock, engine=None, settings=None) -> World:
    clock.now_s = NOW
    fill_store(store)
    app = create_app(store, settings, clock=clock, engine=engine)
    w = World(app=app, store=store, clock=clock)
    with app.state.sessionmaker() as db:
        d1 = admin.create_deployment(db, "Atelier Belleville")
        d2 = admin.create_deployment(db, "Atelier Lyon")
        w.deployments = {"d1": d1.id, "d2": d2.id}
        specs = [("A", d1, "meter-a", "appart-gaz"), ("B", d1, "meter-b", "appart-gaz"),
                 ("C", d2, "meter-c", "maison")]
        for key, dep, meter, profile in specs:
            hh, token = admin.create_household(
                db, dep, f"Foyer {key}", profile=profile,
                baseline_start=date(2026, 3, 1), baseline_end=date(2026, 3, 14))
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, date(2026, 3, 1))
            w.households[key] = (hh.id, token)
        for name, role, dep in (("admin", "admin", None), ("leader1", "leader", d1),
                                ("viewer1", "viewer", d1), ("leader2", "leader", d2)):
            u = admin.create_staff(db, name, PASSWORD, role, dep)
            tok, token = admin.create_token(db, u, "api", "tests")
            w.staff_tokens[name] = token
            w.staff_token_ids[name] = tok.id
        db.commit()
    return w


@contextmanager
def two_api_processes(tmp_path, clock) -> Iterator[tuple]:
    """The world's readings file and households database on disk, shared by two API
    processes (workers), with a third SqliteStore on the readings file for the collector:
    yields (world, client of one, client of the other, collector's store, database URL)."""
    url = f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}"
    store = SqliteStore(tmp_path / "readings.sqlite")
    world = build_world(store, clock, engine=make_engine(url))
    other_store = SqliteStore(tmp_path / "readings.sqlite")
    other = create_app(other_store, clock=clock, engine=make_engine(url))
    collector = SqliteStore(tmp_path / "readings.sqlite")
    try:
        with TestClient(world.app) as one, TestClient(other) as two:
            yield world, one, two, collector, url
    finally:
        collector.close()
        other_store.close()
        store.close()
