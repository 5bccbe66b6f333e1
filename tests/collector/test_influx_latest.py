"""InfluxStore.latest: from the ledger by (boot, seq) like the embedded store, else from
InfluxDB (newest point by time, taken whole, searched from the channel's last energy_hour
point, or with LAST() without one); open_store gives the API the ledger when it is on the
same host."""

from __future__ import annotations

import dataclasses

from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.backends import open_store
from citizenwatt.config import Settings
from tests.collector.test_sqlite_store import T0, series


def readings():
    ch0 = series(50, channel=0, seed=1)
    # boot 2 restarted with a clock 200 s behind boot 1's last reading: by (boot, seq) its
    # last reading is the newest, by time it is not
    ch0 += series(5, boot=2, channel=0, t0=ch0[-1].ts_utc - 250, seed=2)
    # channel 1 had a voltage sensor, unplugged for the last reading: vrms_v/pf absent
    ch1 = [dataclasses.replace(r, vrms_v=231.0 - r.seq / 10, pf=0.9, apparent=False)
           for r in series(30, channel=1, seed=3)]
    ch1[-1] = dataclasses.replace(ch1[-1], vrms_v=None, pf=None, apparent=True)
    return ch0, ch1


def test_latest_with_and_without_the_ledger(influx, tmp_path):
    ch0, ch1 = readings()
    sqlite = SqliteStore(tmp_path / "ref.sqlite")
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "spool.sqlite")
    for store in (sqlite, writer):
        store.write(ch1[::-1] + ch0, T0)  # channel 1 newest first: late arrivals
    assert writer.flush(10)

    # with the ledger: the same answer as the embedded store, boot 2's last reading
    assert writer.latest("m-1") == sqlite.latest("m-1")
    assert [(r.channel, r.boot, r.seq) for r in writer.latest("m-1")] == [(0, 2, 4), (1, 1, 29)]

    # without (a reader elsewhere): the newest point by time, whole (no vrms_v left over
    # from an older point)
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    newest_by_time = max(ch0, key=lambda r: r.ts_utc)
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    assert reader.latest("m-1")[1].vrms_v is None
    # a channel without hour points (none shipped yet): found over its whole series
    influx.engine.query("DELETE FROM energy_hour WHERE channel='1'", method="POST")
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    influx.engine.query("DELETE FROM energy_hour", method="POST")
    assert reader.latest("m-1") == [newest_by_time, ch1[-1]]
    assert reader.latest("nobody") == [] and writer.latest("nobody") == []
    writer.close()
    reader.close()
    sqlite.close()


def test_open_store_for_the_api_uses_the_ledger_when_it_is_here(influx, tmp_path):
    settings = Settings(data_dir=tmp_path, store={
        "kind": "influxdb", "influx_url": influx.url, "influx_token": influx.token,
        "influx_bucket": influx.bucket})
    far = open_store(settings, for_collector=False)  # no ledger in this directory yet
    assert far.ledger is None
    far.close()
    collector = open_store(settings)  # creates the ledger and ships it
    ch0, ch1 = readings()
    collector.write(ch0 + ch1, T0)
    assert collector.flush(10)
    api = open_store(settings, for_collector=False)
    assert api.ledger is not None and api._shipper is None  # reads it, never ships it
    assert api.latest("m-1") == collector.latest("m-1")
    assert [(r.channel, r.boot, r.seq) for r in api.latest("m-1")] == [(0, 2, 4), (1, 1, 29)]
    assert api.meters() == collector.meters()
    api.close()
    collector.close()
