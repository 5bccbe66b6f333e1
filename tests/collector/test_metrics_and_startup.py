"""The metrics endpoint counts what the collector did; start-up errors are one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt

from citizenwatt.collector.metrics import MetricsServer
from citizenwatt.collector.service import Collector
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import ROOT, make_stream, scrape, wait_until
from tests.services import free_port


def test_metrics_count_received_stored_and_rejected_by_reason(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "r.sqlite")
    c = Collector(store, mosquitto.host, mosquitto.port, client_id="metrics-test")
    server = MetricsServer(c, "127.0.0.1", 0).start()
    assert urllib.request.urlopen(server.url + "/metrics").status == 200
    try:
        urllib.request.urlopen(server.url + "/healthz")
        raise AssertionError("healthz must say 503 before the collector runs")
    except urllib.error.HTTPError as e:
        assert e.code == 503
    c.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="metrics-pub")
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    try:
        stream = make_stream(40, meters=2, channels=3)
        infos = [pub.publish(t, p, qos=1) for t, p in stream]
        infos += [pub.publish("cw/m-0/reading", b"{nope", qos=1),
                  pub.publish("cw/m-0/reading", json.dumps({"v": 9}).encode(), qos=1),
                  pub.publish("cw/m-0/reading", b"[]", qos=1)]
        for i in infos:
            i.wait_for_publish(5)
        wait_until(lambda: c.metrics.processed >= len(infos), 10, "all processed")
        m = scrape(server.url)
        assert urllib.request.urlopen(server.url + "/healthz").status == 200
    finally:
        pub.loop_stop()
        pub.disconnect()
        c.stop()
        server.stop()
    p = "citizenwatt_collector_"
    assert m[p + "received_messages_total"] == 43
    assert m[p + "stored_readings_total"] == 40
    assert m[p + "stored_rows_total"] == 120
    assert m[p + "rejected_messages_total{reason=not_json}"] == 1
    assert m[p + "rejected_messages_total{reason=unknown_version}"] == 1
    assert m[p + "rejected_messages_total{reason=not_object}"] == 1
    assert m[p + "rejected_messages_total{reason=bad_type}"] == 0
    assert m[p + "inbox_messages"] == 0 and m[p + "mqtt_connected"] == 1
    assert store.rejections() == {"not_json": 1, "not_object": 1, "unknown_version": 1}


def run_collector(tmp_path, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(ROOT), CITIZENWATT_DATA_DIR=str(tmp_path),
                CITIZENWATT_COLLECTOR__METRICS_PORT="0", COLUMNS="300",
                **{"CITIZENWATT_" + k.upper(): str(v) for k, v in env.items()})
    return subprocess.run([sys.executable, "-m", "citizenwatt.cli", "collector"], env=full,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_unreachable_influxdb_at_start_is_one_line_naming_it(mosquitto, tmp_path):
    port = free_port()
    res = run_collector(tmp_path, mqtt__host=mosquitto.host, mqtt__port=mosquitto.port,
                        store__kind="influxdb", store__influx_url=f"http://127.0.0.1:{port}")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Vérifiez" in lines[0]


def test_unreachable_broker_at_start_is_one_line_naming_it(tmp_path):
    port = free_port()
    res = run_collector(tmp_path, mqtt__host="127.0.0.1", mqtt__port=port)
    assert res.returncode == 1
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, res.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Vérifiez" in lines[0]


def test_acknowledged_messages_are_not_delivered_again(mosquitto, tmp_path):
    """The batched PUBACKs reach the broker: a new session with the same client id gets
    nothing back, while messages published in between are delivered (the session lives)."""
    store = SqliteStore(tmp_path / "r.sqlite")
    stream = make_stream(600, meters=3, channels=1)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ack-pub")
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    try:
        c = Collector(store, mosquitto.host, mosquitto.port, client_id="ack-test", protocol="v5")
        c.start()
        for t, p in stream[:500]:
            pub.publish(t, p, qos=1).wait_for_publish(5)
        wait_until(lambda: c.metrics.processed >= 500, 10, "500 processed")
        c.stop()
        for t, p in stream[500:]:  # queued for the stopped collector's session
            pub.publish(t, p, qos=1).wait_for_publish(5)
        again = Collector(store, mosquitto.host, mosquitto.port, client_id="ack-test",
                          protocol="v5")
        again.start()
        wait_until(lambda: again.metrics.processed >= 100, 10, "the queued 100")
        again.wait_idle(1.0)
        again.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert again.metrics.received == 100 and again.metrics.duplicates == 0
    assert sum(m.readings for m in store.meters()) == 600


def test_broker_refusing_the_collector_at_start_is_one_line_naming_it(tmp_path):
    # A broker that answers but refuses us (credentials): no "reconnexion automatique"
    # warnings before the one line, since the collector gives up and exits.
    from tests.services import Mosquitto

    broker = Mosquitto(tmp_path / "refusing", extra_conf="allow_anonymous false").start()
    try:
        res = run_collector(tmp_path, mqtt__host=broker.host, mqtt__port=broker.port)
    finally:
        broker.stop()
    assert res.returncode == 1
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, res.stderr
    assert f"127.0.0.1:{broker.port}" in lines[0] and "Not authorized" in lines[0]
    assert "identifiants" in lines[0]
    assert res.stdout.strip() == "", res.stdout  # nothing else on the terminal either


def test_a_lost_broker_is_logged_and_so_is_its_return(tmp_path, caplog):
    import logging

    from tests.services import Mosquitto

    broker = Mosquitto(tmp_path / "broker").start()
    store = SqliteStore(tmp_path / "r.sqlite")
    c = Collector(store, broker.host, broker.port, client_id="cw-reconnect")
    try:
        with caplog.at_level(logging.INFO, logger="citizenwatt.collector"):
            c.start()
            broker.restart()
            wait_until(lambda: "perdue" in caplog.text, 10, "the lost connection logged")
            wait_until(lambda: c.healthy()[0], 15, "the collector back on the broker")
            wait_until(lambda: "reconnecté" in caplog.text, 5, "the return logged")
        assert f"{broker.host}:{broker.port}" in caplog.text.split("reconnecté")[1]
    finally:
        c.stop()
        store.close()
        broker.stop()


def test_two_instances_with_one_client_id_are_told_to_change_it(tmp_path, caplog):
    # The broker keeps one session per client id: two collectors with the same id throw
    # each other out every second. The log must say what to change, not only "perdue".
    import logging

    from tests.services import Mosquitto

    broker = Mosquitto(tmp_path / "broker").start()
    store = SqliteStore(tmp_path / "r.sqlite")
    first = Collector(store, broker.host, broker.port, client_id="cw-same")
    second = Collector(store, broker.host, broker.port, client_id="cw-same")
    try:
        with caplog.at_level(logging.INFO, logger="citizenwatt.collector"):
            first.start()
            second.start()
            wait_until(lambda: "CITIZENWATT_COLLECTOR__ID" in caplog.text, 10,
                       "a warning naming the collector id setting")
        assert "cw-same" in caplog.text
    finally:
        first.stop()
        second.stop()
        store.close()
        broker.stop()
