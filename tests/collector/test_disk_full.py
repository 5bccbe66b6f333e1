"""A full disk under the collector's store: it stops acknowledging (Mosquitto keeps the
readings), says so in its log and metrics, and when space returns every reading arrives,
once; the API keeps serving meanwhile. On a small file system made for the test (tmpfs)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.config import Settings
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import CollectorProcess, Publisher, expected_energy_wh, make_stream, wait_until

DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only: CI runs as root)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    r = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={DISK_BYTES},mode=0700",
            "cw-" + uuid.uuid4().hex[:6],
            str(where),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def fill_up(disk) -> None:
    """Take every free byte of the file system, as a runaway log would."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # down to the last blocks
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)


def stored_energy(db) -> dict[str, float]:
    store = SqliteStore(db)
    try:
        return {
            m.meter_id: sum(h.energy_wh for h in store.hourly(m.meter_id, 0, 4e9)) for m in store.meters()
        }
    finally:
        store.close()


def test_full_disk_loses_nothing_and_counts_nothing_twice(mosquitto, small_disk, tmp_path):
    stream = make_stream(1200, meters=3, channels=2)
    first, during = stream[:400], stream[400:]
    col = CollectorProcess(tmp_path / "col", mosquitto, data_dir=small_disk)
    col.start()
    pub = Publisher(mosquitto.host, mosquitto.port)
    try:
        pub.start(first, rate_per_s=2000)
        assert pub.wait_all_acked(30)
        wait_until(
            lambda: col.metrics()["citizenwatt_collector_stored_readings_total"] >= len(first),
            30,
            "the first readings stored",
        )
        # The API opened on the store before the disk fills (as a running API is).
        store = SqliteStore(small_disk / "readings.sqlite")
        (tmp_path / "api").mkdir()
        api = TestClient(create_app(store, Settings(data_dir=tmp_path / "api")))
        assert api.get("/api/v1/meters").status_code == 200

        fill_up(small_disk)
        pub = Publisher(mosquitto.host, mosquitto.port, client_id="test-meters-2")
        pub.start(during, rate_per_s=2000)
        assert pub.wait_all_acked(30)  # the broker took them: the meters' side is done
        wait_until(
            lambda: col.metrics()["citizenwatt_collector_store_errors_total"] >= 2,
            30,
            "the collector to meet the full disk",
        )
        m = col.metrics()
        assert m["citizenwatt_collector_stored_readings_total"] < len(stream)
        assert m["citizenwatt_collector_disk_full"] == 1
        log = col.log_path.read_text(errors="replace")
        assert "disque" in log and "plein" in log, log[-1500:]
        # the API keeps serving what is stored
        r = api.get("/api/v1/meters")
        assert r.status_code == 200 and len(r.json()["meters"]) == 3

        (small_disk / "filler").unlink()  # space returns
        wait_until(
            lambda: col.metrics()["citizenwatt_collector_stored_readings_total"] >= len(stream),
            60,
            "every reading stored once space returned",
        )
        m = col.metrics()
        assert m["citizenwatt_collector_disk_full"] == 0
        assert m["citizenwatt_collector_stored_rows_total"] == len(stream) * 2
        store.close()
    finally:
        pub.stop()
        col.stop()
    got = stored_energy(small_disk / "readings.sqlite")
    want = expected_energy_wh(stream)
    assert got.keys() == want.keys()
    for meter in want:
        assert got[meter] == pytest.approx(want[meter], abs=1e-6), meter
