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



# --- pytest-xdist (scripts/test.sh: -n 4 --dist loadfile) -----------------------------------
# Each file runs whole on one worker (its module-scoped fixtures are made once), and every
# file of tests/hardware on the same one: they share the built guide (site and both PDFs,
# a session fixture), which is then built once instead of once per worker.
# The files that take longest start first, so that none of them is the last thing a worker
# does while the others wait (xdist's own order, by number of tests, puts them last).
SLOWEST_FIRST = (
    "tests/store/test_fold_figures.py",
    "tests/deploy/test_multihost.py",
    "tests/hardware/",
    "tests/api/test_schemathesis.py",
    "tests/test_demo_history.py",
    "tests/test_demo_roles_browser.py",
    "tests/firmware/test_measure.py",
    "tests/api/test_browser.py",
    "tests/deploy/test_meter_commands.py",
    "tests/deploy/test_services.py",
    "tests/collector/test_defence.py",
    "tests/collector/test_ingest_faults.py",
    "tests/store/test_tiers.py",
    "tests/test_demo.py",
)


def xdist_scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return "tests/hardware/" if path.startswith("tests/hardware/") else path


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker collects in the same order
        rank = {scope: k for k, scope in enumerate(SLOWEST_FIRST)}
        items.sort(key=lambda item: rank.get(xdist_scope(item.nodeid), len(rank)))


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own choice
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GuideTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    config.option.loadscopereorder = False  # the collection's order: SLOWEST_FIRST first
    return GuideTogether(config, log)
