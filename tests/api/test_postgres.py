"""The same API on PostgreSQL (started by the fixture): model, access rules, cascades."""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citizenwatt.api.db import make_engine
from citizenwatt.api.models import HouseholdLink, MeterAssignment

from .world import build_world

_n = itertools.count()


@pytest.fixture
def pg_world(postgres, store, clock):
    engine = make_engine(postgres.create_database(f"cw_test_{next(_n)}"))
    assert engine.dialect.name == "postgresql"
    w = build_world(store, clock, engine=engine)
    yield w
    engine.dispose()


def test_household_flows_on_postgresql(pg_world):
    w = pg_world
    with TestClient(w.app) as c:
        h = w.bearer(w.link("A"))
        s = c.get(f"/api/v1/households/{w.hh('A')}/savings?start=2026-03-15&end=2026-03-30", headers=h).json()
        assert s["saved_kwh"] == pytest.approx(15 * 12.0 + 11.5 - (15 * 9.6 + 9.2))
        assert c.get(f"/api/v1/households/{w.hh('B')}/energy", headers=h).status_code == 404
        leader = w.bearer(w.staff_tokens["leader1"])
        r = c.post(f"/api/v1/households/{w.hh('A')}/link", headers=leader)
        assert r.status_code == 201
        assert c.get(f"/h/{w.link('A')}").status_code == 404
        assert c.get(f"/h/{r.json()['token']}").status_code == 200
        assert c.post(f"/api/v1/deployments/{w.deployments['d1']}/households", json={"name": "Foyer A"},
                      headers=leader).status_code == 409
        staff = c.get(f"/api/v1/deployments/{w.deployments['d1']}/meters", headers=leader).json()
        assert {m["meter_id"] for m in staff} == {"meter-a", "meter-b"}
        # Deleting the household removes its links and meter periods (ON DELETE CASCADE).
        r = c.delete(f"/api/v1/households/{w.hh('B')}", params={"confirm": "Foyer B"}, headers=leader)
        assert r.status_code == 200
    with w.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(HouseholdLink)
                         .where(HouseholdLink.household_id == w.hh("B"))) == 0
        assert db.scalar(select(func.count()).select_from(MeterAssignment)
                         .where(MeterAssignment.household_id == w.hh("B"))) == 0
