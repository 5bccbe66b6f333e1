"""Done-when tests of issue 4, with real Mosquitto and real InfluxDB, counted reading by
reading: kill -9 of the collector mid-batch, a broker restart, InfluxDB stopped under load,
and two collectors on a shared subscription. Nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal

import pytest

from citizenwatt.collector.service import Collector
from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import (
    CollectorProcess,
    Publisher,
    expected_energy_wh,
    make_stream,
    wait_until,
)
from tests.services import Mosquitto

pytestmark = pytest.mark.slow
METERS, CHANNELS = 4, 2


def assert_exactly_once_in_influx(influx, stream) -> None:
    n = len(stream)
    for k in range(METERS):
        want = [(c, 1, s) for c in range(CHANNELS) for s in range(n // METERS + (k < n % METERS))]
        assert influx.seqs(f"m-{k}") == sorted(want), f"m-{k}"
    store = InfluxStore(influx.url, influx.token, "-", influx.bucket)  # read-only
    for meter, energy_wh in expected_energy_wh(stream).items():
        hours = store.hourly(meter, 0, 4e9)
        assert sum(h.energy_wh for h in hours) == pytest.approx(energy_wh, rel=1e-9)
        assert sum(h.readings for h in hours) == CHANNELS * len(
            [t for t, _ in stream if t == f"cw/{meter}/reading"])


def influx_rows(influx) -> int:
    return influx.count()


def test_kill_9_mid_batch_loses_and_duplicates_nothing(influx, tmp_path):
    # The broker queues what arrives while no collector is connected; with Mosquitto's
    # default queue (1000) a restart slower than 1.25 s at 800/s (a loaded machine) made
    # the broker drop messages ("Outgoing messages are being dropped"), which is not what
    # this drill is about. As docs/collector.md says and deploy/ ships: a deep queue.
    mosquitto = Mosquitto(tmp_path / "mosquitto", extra_conf="max_queued_messages 100000").start()
    stream = make_stream(3000, METERS, CHANNELS)
    col = CollectorProcess(tmp_path / "data", mosquitto, influx).start()
    pub = Publisher(mosquitto.host, mosquitto.port).start(stream, rate_per_s=800)
    try:
        # kill while readings are flowing: some stored, some in the inbox, a batch in hand
        wait_until(lambda: col.metrics()["citizenwatt_collector_stored_readings_total"] >= 800,
                   15, "a third of the stream stored")
        col.kill9()
        killed_at = pub.published
        assert 0 < killed_at < len(stream)
        col = CollectorProcess(tmp_path / "data", mosquitto, influx).start()  # same client id
        assert pub.wait_all_acked(20)
        wait_until(lambda: influx_rows(influx) >= len(stream) * CHANNELS, 90,
                   "every reading in InfluxDB")
        wait_until(lambda: col.metrics()["citizenwatt_collector_spool_points"] == 0, 10,
                   "an empty spool")
    finally:
        pub.stop()
        col.stop()
        mosquitto.stop()
    assert_exactly_once_in_influx(influx, stream)


def test_broker_restart_with_queued_messages_loses_nothing(tmp_path):
    # as in docs/collector.md: a queue deep enough for the collector's downtime (the default
    # 1000 drops the rest while the collector is away, restart or not)
    broker = Mosquitto(tmp_path / "mosquitto", persistence=True,
                       extra_conf="max_queued_messages 100000").start()
    stream = make_stream(2000, METERS, CHANNELS)
    col = CollectorProcess(tmp_path / "data", broker).start()
    pub = Publisher(broker.host, broker.port)
    try:
        pub.publish_all(stream[:600], rate_per_s=1000)
        # freeze the collector so the broker holds unacknowledged and queued messages ...
        os.kill(col.proc.pid, signal.SIGSTOP)
        pub.publish_all(stream[600:1200], rate_per_s=2000)
        assert pub.wait_all_acked(10)  # the broker has them all
        broker.restart()  # ... and must keep them across the restart (persistence)
        os.kill(col.proc.pid, signal.SIGCONT)
        # a meter keeps readings in its own queue while offline: publish once reconnected
        wait_until(pub.client.is_connected, 10, "the publisher to reconnect")
        pub.start(stream[1200:], rate_per_s=1000)
        assert pub.wait_all_acked(20)
        store = SqliteStore(tmp_path / "data" / "readings.sqlite")
        wait_until(lambda: sum(m.readings for m in store.meters()) >= len(stream) * CHANNELS,
                   20, "every reading stored")
        m = col.metrics()
    finally:
        os.kill(col.proc.pid, signal.SIGCONT)
        pub.stop()
        col.stop()
        broker.stop()
    summary = {s.meter_id: s for s in store.meters()}
    assert sum(s.readings for s in summary.values()) == len(stream) * CHANNELS
    for meter, energy_wh in expected_energy_wh(stream).items():
        assert sum(h.energy_wh for h in store.hourly(meter, 0, 4e9)) == \
            pytest.approx(energy_wh, rel=1e-9)
    # redeliveries after the restart were recognised, not stored twice
    assert m["citizenwatt_collector_stored_rows_total"] + \
        m["citizenwatt_collector_duplicate_rows_total"] >= 800 * CHANNELS


def test_influxdb_stopped_under_load_is_spooled_then_replayed(mosquitto, influx, tmp_path):
    stream = make_stream(4000, METERS, CHANNELS)
    col = CollectorProcess(tmp_path / "data", mosquitto, influx).start()
    pub = Publisher(mosquitto.host, mosquitto.port).start(stream, rate_per_s=700)
    try:
        wait_until(lambda: pub.published > 600, 10, "the stream to flow")
        influx.engine.stop()
        processed_at_stop = col.metrics()["citizenwatt_collector_processed_messages_total"]
        # InfluxDB is down: the collector goes on reading and acknowledging, into its spool
        m = wait_until(lambda: (lambda m: m if m["citizenwatt_collector_spool_points"] > 2000
                                and m["citizenwatt_collector_store_up"] == 0 else None)(
                                    col.metrics()), 15, "the spool to fill")
        assert m["citizenwatt_collector_processed_messages_total"] > processed_at_stop + 500
        assert m["citizenwatt_collector_inbox_messages"] < 1000
        influx.engine.start(create_database=False)
        assert pub.wait_all_acked(20)
        wait_until(lambda: col.metrics()["citizenwatt_collector_spool_points"] == 0, 20,
                   "the spool to drain")
        m = col.metrics()
        assert m["citizenwatt_collector_store_up"] == 1
        assert m["citizenwatt_collector_ship_errors_total"] > 0
    finally:
        pub.stop()
        col.stop()
    assert_exactly_once_in_influx(influx, stream)


def test_two_collectors_on_a_shared_subscription_store_each_reading_once(
        mosquitto, influx, tmp_path):
    stream = make_stream(3000, METERS, CHANNELS)
    stores = [InfluxStore(influx.url, influx.token, "-", influx.bucket,
                          spool_path=tmp_path / "influx-spool.sqlite", owner=f"c-{i}")
              for i in range(2)]
    cols = [Collector(s, mosquitto.host, mosquitto.port, client_id=f"c-{i}", protocol="v5",
                      shared_group="cw") for i, s in enumerate(stores)]
    for c in cols:
        c.start()
    pub = Publisher(mosquitto.host, mosquitto.port)
    try:
        pub.publish_all(stream, rate_per_s=1500)
        assert pub.wait_all_acked(20)
        wait_until(lambda: sum(c.metrics.processed for c in cols) >= len(stream), 20,
                   "both collectors to process the stream")
        assert all(s.flush(20) for s in stores)
    finally:
        pub.stop()
        for c in cols:
            c.stop()
        for s in stores:
            s.close()
    got = [c.metrics.readings_stored for c in cols]
    assert sum(got) == len(stream) and min(got) > len(stream) // 10, got  # shared, not copied
    assert [c.metrics.duplicates for c in cols] == [0, 0]
    assert sum(c.metrics.received for c in cols) == len(stream)
    assert_exactly_once_in_influx(influx, stream)
