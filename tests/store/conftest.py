"""The backends the conformance suite runs on, each as a factory of fresh, empty stores.

- sqlite: the embedded store.
- influxdb: InfluxStore as the collector (and an API on the same host) opens it: writes go
  to its ledger and are shipped to a real influxd (1.6.7 behind the test-only /api/v2/write
  adapter); hours are read from InfluxDB.
- influxdb-reader: the same writes, read back by an InfluxStore without a ledger (an API on
  another host): the newest readings, hours and the meter list come from InfluxDB's points,
  and deletions are done in InfluxDB directly.

InfluxDB shows a change once the shipper has sent it: the harness waits for the spool to
drain (flush) after every change, so the tests read what a settled store says. One influxd
serves the whole module; each store gets a database of its own.
"""

from __future__ import annotations

import itertools

import pytest

from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from tests.services import InfluxService

BACKENDS = ("sqlite", "influxdb", "influxdb-reader")
_databases = itertools.count(1)


class Settled:
    """An InfluxStore with a ledger, waiting after each change until InfluxDB has it."""

    def __init__(self, writer: InfluxStore):
        self.writer = writer

    def _settle(self) -> None:
        assert self.writer.flush(20), "the spool did not drain into InfluxDB"

    def write(self, rows, received_s, **batch):  # batch: statuses, dead_letters
        res = self.writer.write(rows, received_s, **batch)
        self._settle()
        return res

    def set_status(self, meter_id, status, received_s):
        self.writer.set_status(meter_id, status, received_s)
        self._settle()

    def delete(self, meter_id, start_s, end_s):
        n = self.writer.delete(meter_id, start_s, end_s)
        self._settle()
        return n

    def __getattr__(self, name):  # latest, hourly, meters, reject, rejections, close
        return getattr(self.writer, name)


class ReadElsewhere(Settled):
    """Writes through the collector's store; reads and deletions through a store without a
    ledger. Dead letters stay with the collector (its ledger), so rejections() asks it."""

    def __init__(self, writer: InfluxStore, reader: InfluxStore):
        super().__init__(writer)
        self.reader = reader

    def latest(self, meter_id):
        return self.reader.latest(meter_id)

    def hourly(self, meter_id, start_s, end_s, channel=None):
        return self.reader.hourly(meter_id, start_s, end_s, channel)

    def readings(self, meter_id, start_s, end_s, limit=None):
        return self.reader.readings(meter_id, start_s, end_s, limit)

    def meters(self):
        return self.reader.meters()

    def delete(self, meter_id, start_s, end_s):
        return self.reader.delete(meter_id, start_s, end_s)

    def close(self):
        self.reader.close()
        self.writer.close()


class Backend:
    """`new()` opens one more fresh, empty store of this backend; all closed at the end."""

    def __init__(self, name: str, tmp_path, service: InfluxService | None):
        self.name, self.tmp_path, self.service = name, tmp_path, service
        self.opened: list = []

    def new(self):
        k = len(self.opened)
        if self.name == "sqlite":
            store = SqliteStore(self.tmp_path / f"readings-{k}.sqlite")
        else:
            database = f"conformance_{next(_databases)}"
            self.service.engine.query(f'CREATE DATABASE "{database}"', method="POST")
            bucket = f"{database}/autogen"
            writer = InfluxStore(self.service.url, self.service.token, "-", bucket,
                                 spool_path=self.tmp_path / f"spool-{k}.sqlite")
            writer.check()
            if self.name == "influxdb":
                store = Settled(writer)
            else:
                store = ReadElsewhere(writer, InfluxStore(
                    self.service.engine.url, self.service.token, "-", bucket))
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(scope="module")
def shared_influx(tmp_path_factory):
    svc = InfluxService(tmp_path_factory.mktemp("influxdb")).start()
    yield svc
    svc.stop()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    service = None if request.param == "sqlite" else request.getfixturevalue("shared_influx")
    b = Backend(request.param, tmp_path, service)
    yield b
    b.close()


@pytest.fixture
def store(backend):
    """One fresh store of the backend under test."""
    return backend.new()
