"""The InfluxDB shipper in its own process (store/shipper.py), against a real influxd: it
ships what the collector's store spools, is started again when it dies (nothing lost,
nothing counted twice), stops with the store, and stops by itself when the collector is
gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.shipper import ShipperProcess
from tests.collector.helpers import wait_until
from tests.store.helpers import T0, hours_of, series


def open_shipped(influx, tmp_path, **kw) -> tuple[InfluxStore, ShipperProcess]:
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / "spool.sqlite", ship=False, **kw)
    store.check()
    return store, ShipperProcess(store, restart_delay_s=0.1).start()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_process_ships_what_the_store_spools(influx, tmp_path):
    rows = series(400, seed=21) + series(200, channel=1, seed=22)
    store, shipper = open_shipped(influx, tmp_path)
    assert shipper.pid() != os.getpid()
    for i in range(0, len(rows), 50):
        store.write(rows[i:i + 50], T0)
    assert store.flush(20)
    assert influx.seqs("m-1") == [(0, 1, s) for s in range(400)] + [(1, 1, s) for s in range(200)]
    # the gauges come from the shipper's process, a turn of its loop later
    hour_points = len(hours_of(store.ledger.chain, channel=0)) + \
        len(hours_of(store.ledger.chain, channel=1))
    wait_until(lambda: store.status()["shipped_points"] == 600 + hour_points, 10,
               "the shipper's gauges")
    status = store.status()
    assert status["spool_depth"] == 0 and status["store_up"]
    assert status["shipper_restarts"] == 0
    reader = InfluxStore(influx.url, influx.token, "-", influx.bucket)
    hours = hours_of(reader)
    assert sum(n for _, _, n in hours) == 600
    assert sum(e for _, e, _ in hours) == pytest.approx(rows[399].energy_wh + rows[-1].energy_wh,
                                                        rel=1e-9)
    reader.close()
    store.close()
    assert not alive(shipper.proc.pid)


def test_a_killed_shipper_is_started_again_and_nothing_is_lost_or_doubled(influx, tmp_path):
    rows = series(3000, seed=23)
    store, shipper = open_shipped(influx, tmp_path)
    first = shipper.pid()
    for i in range(0, 1500, 100):
        store.write(rows[i:i + 100], T0)
    os.kill(first, signal.SIGKILL)  # mid-stream: a chunk may be in flight, or half marked
    for i in range(1500, 3000, 100):  # the writer goes on meanwhile: spooled
        assert store.write(rows[i:i + 100], T0).stored == 100
    wait_until(lambda: shipper.restarts == 1 and shipper.pid() not in (None, first), 20,
               "the shipper started again")
    assert store.flush(30)
    assert influx.seqs("m-1") == [(0, 1, s) for s in range(3000)]  # each once
    reader = InfluxStore(influx.url, influx.token, "-", influx.bucket)
    hours = hours_of(reader)
    assert sum(n for _, _, n in hours) == 3000
    assert sum(e for _, e, _ in hours) == pytest.approx(rows[-1].energy_wh, rel=1e-9)
    reader.close()
    assert store.status()["shipper_restarts"] == 1
    store.close()


def test_the_shipper_stops_when_the_collector_is_gone(influx, tmp_path):
    """kill -9 of the collector: the end of the shipper's stdin stops it (no orphan
    holding the lease), and the spool is where the next collector starts from."""
    code = (
        "import sys, time\n"
        "from citizenwatt.store.influx import InfluxStore\n"
        "from citizenwatt.store.shipper import ShipperProcess\n"
        f"s = InfluxStore({influx.url!r}, {influx.token!r}, '-', {influx.bucket!r}, "
        f"spool_path={str(tmp_path / 'spool.sqlite')!r}, ship=False)\n"
        "p = ShipperProcess(s).start()\n"
        "print(p.pid(), flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_taking_the_next_chunk_ahead_keeps_the_spool_order(influx, tmp_path):
    """The shipper process takes the next chunk while one is being written: a backlog of
    many chunks with a deletion in the middle reaches InfluxDB as the ledger holds it (the
    points before the deletion deleted, those after it kept), and a write that fails
    leaves its chunk, and the one taken after it, to be taken again."""
    rows = series(2000, seed=24)
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                        spool_path=tmp_path / "spool.sqlite", ship=False, chunk_points=150)
    store.take_ahead = True
    store.write(rows[:1000], T0)
    deleted = store.delete("m-1", rows[200].ts_utc, rows[400].ts_utc)  # InfluxDB has none yet
    assert deleted == 200
    store.write(rows[1000:], T0)
    calls = {"n": 0}
    connect = store._connect_writer

    def connect_with_a_hiccup():  # the third HTTP write fails once: InfluxDB went away
        connect()
        write = store._write_api.write

        def failing_third(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 3:
                raise ConnectionError("InfluxDB went away")
            return write(*a, **kw)

        store._write_api.write = failing_third

    store._connect_writer = connect_with_a_hiccup
    store.start_shipping()
    assert store.flush(30)
    assert calls["n"] > 2000 // 150  # many chunks, and the failed one again
    assert store.status()["ship_errors"] == 1
    assert influx.seqs("m-1") == [(0, 1, s) for s in range(2000) if not 200 <= s < 400]
    store.close()
