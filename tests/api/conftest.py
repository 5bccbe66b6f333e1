from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.store.sqlite import SqliteStore


class Clock:
    """A settable UTC clock, so "today" and "age" are known in tests."""

    def __init__(self, now_s: float = 0.0):
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "readings.sqlite")
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(store, clock):
    app = create_app(store, clock=clock)  # default settings, in-memory database
    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(store, clock):
    from .world import build_world
    return build_world(store, clock)


@pytest.fixture
def wclient(world):
    with TestClient(world.app) as c:
        yield c


@pytest.fixture(scope="session")
def postgres():
    from .pg import Postgres, PostgresUnavailable
    try:
        pg = Postgres().start()
    except PostgresUnavailable as e:
        pytest.fail(f"PostgreSQL ne démarre pas : {e}", pytrace=False)
    yield pg
    pg.stop()
