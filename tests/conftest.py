from __future__ import annotations

import pytest

from tests.services import InfluxService, Mosquitto


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def influx(tmp_path):
    """Real influxd 1.6.7 behind the test-only /api/v2/write adapter, for one test."""
    svc = InfluxService(tmp_path / "influxdb").start()
    yield svc
    svc.stop()
