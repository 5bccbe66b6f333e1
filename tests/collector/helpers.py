"""Streams of valid readings published through a real broker, and a collector subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from citizenwatt.firmware import wire
from citizenwatt.store.port import readings_from_payload
from citizenwatt.store.rules import energy_delta_wh
from tests.services import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


def make_stream(n: int, meters: int = 4, channels: int = 2, interval_s: float = 10.0,
                boot: int = 1) -> list[tuple[str, bytes]]:
    """n readings (topic, payload), round-robin over the meters, counters increasing."""
    t0 = time.time() - (n // meters + 2) * interval_s
    energy = {}
    out = []
    for k in range(n):
        m, seq = f"m-{k % meters}", k // meters
        chans = []
        for c in range(channels):
            power = 100.0 + 37.0 * ((k * 7 + c * 13) % 50)
            e = energy.get((m, c), 0.0) + power * interval_s / 3600
            energy[(m, c)] = e
            chans.append(wire.channel(c, e, power, power / 230))
        out.append((wire.reading_topic(m), wire.encode_reading(
            m, boot, seq, 1000 * seq, interval_s, chans, ts=t0 + (seq + 1) * interval_s)))
    return out


def expected_energy_wh(stream) -> dict[str, float]:
    """Energy per meter under the counting rules, readings taken in (boot, seq) order."""
    rows: dict[tuple[str, int], list] = {}
    for _topic, payload in stream:
        for r in readings_from_payload(json.loads(payload), 0.0):
            rows.setdefault((r.meter_id, r.channel), []).append(r)
    out: dict[str, float] = {}
    for (m, _), rs in rows.items():
        rs.sort(key=lambda r: r.order_key)
        prev = None
        for r in rs:
            out[m] = out.get(m, 0.0) + energy_delta_wh(prev, r)
            prev = r
    return out


class Publisher:
    """A meter-side paho client (MQTT v5, persistent session, QoS 1) publishing at a pace."""

    def __init__(self, host: str, port: int, client_id: str = "test-meters"):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.1, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(host, port, clean_start=False, properties=props)
        self.client.loop_start()
        self.infos: list = []
        self.published = 0
        self._thread: threading.Thread | None = None

    def publish_all(self, stream, rate_per_s: float) -> None:
        start = time.monotonic()
        for i, (topic, payload) in enumerate(stream):
            ahead = start + i / rate_per_s - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            self.infos.append(self.client.publish(topic, payload, qos=1))
            self.published = i + 1

    def start(self, stream, rate_per_s: float) -> Publisher:
        self._thread = threading.Thread(target=self.publish_all, args=(stream, rate_per_s),
                                        daemon=True)
        self._thread.start()
        return self

    def wait_all_acked(self, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        if self._thread is not None:
            self._thread.join(timeout_s)
        while time.monotonic() < deadline:
            if all(i.is_published() for i in self.infos):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def run_collector_on(broker, store, messages, client_id: str = "test-collector"):
    """Start a Collector on store, publish messages ((topic, payload) or (topic, payload,
    retain)) at QoS 1, wait until it has processed every one, stop it; returns it."""
    from citizenwatt.collector.service import Collector

    collector = Collector(store, broker.host, broker.port, client_id=client_id)
    collector.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id + "-pub")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        infos = [pub.publish(m[0], m[1], qos=1, retain=m[2] if len(m) > 2 else False)
                 for m in messages]
        for info in infos:
            info.wait_for_publish(5)
        wait_until(lambda: collector.metrics.processed >= len(messages), 15,
                   f"the collector to process {len(messages)} messages")
        assert collector.metrics.processed == len(messages)
    finally:
        pub.loop_stop()
        pub.disconnect()
        collector.stop()
    return collector


def scrape(url: str) -> dict[str, float]:
    """Prometheus text -> {name or name{label=value}: value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                            if s.labels else "")
            out[key] = s.value
    return out


class CollectorProcess:
    """`citizenwatt collector` as a child process, configured by environment variables."""

    def __init__(self, workdir: Path, broker, influx=None, client_id: str = "collector-a",
                 **settings):
        self.workdir = Path(workdir)
        self.metrics_port = free_port()
        env = dict(os.environ)
        env.update({
            "CITIZENWATT_MQTT__HOST": broker.host, "CITIZENWATT_MQTT__PORT": str(broker.port),
            "CITIZENWATT_MQTT__PROTOCOL": "v5", "CITIZENWATT_DATA_DIR": str(self.workdir),
            "CITIZENWATT_COLLECTOR__ID": client_id,
            "CITIZENWATT_COLLECTOR__METRICS_PORT": str(self.metrics_port),
            "PYTHONPATH": str(ROOT),
        })
        if influx is not None:
            env.update({"CITIZENWATT_STORE__KIND": "influxdb",
                        "CITIZENWATT_STORE__INFLUX_URL": influx.url,
                        "CITIZENWATT_STORE__INFLUX_TOKEN": influx.token,
                        "CITIZENWATT_STORE__INFLUX_BUCKET": influx.bucket})
        for k, v in settings.items():
            env["CITIZENWATT_" + k.upper()] = str(v)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{client_id}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self, timeout_s: float = 20.0) -> CollectorProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "citizenwatt.cli", "collector"],
                                     env=self.env, stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT, cwd=ROOT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited {self.proc.returncode}: "
                                     + self.log_path.read_text()[-2000:])
            try:
                return urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200
            except OSError:
                return False

        wait_until(ready, timeout_s, "the collector's /healthz")
        return self

    def metrics(self) -> dict[str, float]:
        return scrape(self.url)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        return stop_process(self.proc, 20)
