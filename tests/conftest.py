from __future__ import annotations

import os

import pytest

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment: a rich
# Console made at import (workshop/commands.py) would keep 80 columns for good, whatever
# width a later CliRunner(env={"COLUMNS": ...}) asks for. A worker runs as pytest itself
# does, with no such variables.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

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
