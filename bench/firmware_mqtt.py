"""Benchmark: a 24 h replay through the meter's own MQTT client, on loopback.

8,640 readings (24 h at one every 10 s, 3 channels with voltage) sit in the meter's flash
queue after a broker outage; the firmware's own code (Meter.drain: peek, decode, encode the
payload, QoS 1 publish through firmware/mqtt.py, wait for PUBACK, pop) sends them to a real
Mosquitto while a subscriber checks that every one arrives, in order. Three rounds; prints
the median and range of the replay time, then one JSON line last.

    python bench/firmware_mqtt.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from citizenwatt.firmware import wire  # noqa: E402
from citizenwatt.firmware.outbox import pack_reading  # noqa: E402
from citizenwatt.host.simulator import SimulatedMeter  # noqa: E402
from tests.services import Mosquitto  # noqa: E402  after the sys.path line above (tests.*)

READINGS = 8640  # 24 h at 10 s
ROUNDS = 3
START_UTC = 1_790_000_000


class Counter:
    def __init__(self, port: int, meter_id: str):
        self.seqs: list[int] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub-" + meter_id,
                             protocol=paho.MQTTv311)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(wire.reading_topic(meter_id), 1)
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        if not ready.wait(10):
            raise SystemExit("the bench subscriber could not subscribe")

    def on_message(self, client, userdata, msg):
        seq = json.loads(msg.payload)["seq"]
        with self.lock:
            self.seqs.append(seq)

    def wait(self, n: int, timeout_s: float = 60) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.seqs) >= n:
                    return list(self.seqs)
            time.sleep(0.02)
        raise SystemExit(f"the subscriber got {len(self.seqs)} of {n} readings")

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def one_round(work: Path, k: int) -> dict:
    broker = Mosquitto(work / f"mq{k}", extra_conf="max_queued_messages 20000").start()
    meter_id = f"bench-replay-{k}"
    sub = Counter(broker.port, meter_id)
    m = SimulatedMeter(meter_id=meter_id, port=broker.port, state_dir=work / f"flash{k}",
                       seed=k + 1, interval_s=10.0, speed=float("inf"), channels=3,
                       start_utc=START_UTC)
    meter = m.meter
    try:
        meter.start()
        for seq in range(READINGS):
            mwh = 1_000_000 + 2_500 * seq
            chans = [(c, mwh * (c + 1), 900.0 / (c + 1), 3.9 / (c + 1), 231.2, 0.97)
                     for c in range(3)]
            meter.outbox.push(pack_reading((1, seq, START_UTC + 10 * seq, 10_000 * seq, 10.0,
                                            chans)))
        meter.connect(meter.uptime_ms())
        if not meter.connected:
            raise SystemExit(f"the meter could not connect: {m.hw.link_errors}")
        payload_bytes = len(meter.payload((1, 0, START_UTC, 0, 10.0, chans)))
        t0 = time.perf_counter()
        meter.drain(READINGS)
        took = time.perf_counter() - t0
        left = len(meter.outbox)
        got = sub.wait(READINGS)
        # The same payloads through the client alone (no flash queue, no JSON encoding), to
        # a topic nobody reads: the MQTT part of the replay.
        payloads = [meter.payload((1, s, START_UTC + 10 * s, 10_000 * s, 10.0, chans))
                    for s in range(READINGS)]
        t0 = time.perf_counter()
        for p in payloads:
            meter.client.publish("cw/%s/bench" % meter_id, p, False, 1)
        client_s = time.perf_counter() - t0
    finally:
        sub.close()
        if meter.client is not None:
            meter.client.disconnect()
        broker.stop()
    if left or got != list(range(READINGS)):
        raise SystemExit(f"lost or reordered readings: {left} left, {len(got)} received")
    return {"replay_s": took, "client_s": client_s, "payload_bytes": payload_bytes}


def main() -> None:
    runs = []
    client = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-mqtt-") as tmp:
        for k in range(ROUNDS):
            r = one_round(Path(tmp), k)
            runs.append(r["replay_s"])
            client.append(r["client_s"])
            print(f"round {k + 1}: {READINGS} readings replayed in {r['replay_s']:.2f} s "
                  f"({READINGS / r['replay_s']:.0f} readings/s, "
                  f"{1000 * r['replay_s'] / READINGS:.3f} ms per reading); the client alone "
                  f"{r['client_s']:.2f} s ({1000 * r['client_s'] / READINGS:.3f} ms per QoS 1 "
                  f"publish)")
    median = statistics.median(runs)
    print(json.dumps({
        "name": "firmware_mqtt_24h_replay", "value": round(median, 2), "unit": "s",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} "
                   f"(CPython, loopback, not an ESP32)",
        "readings": READINGS, "rounds": ROUNDS,
        "min_s": round(min(runs), 2), "max_s": round(max(runs), 2),
        "ms_per_reading_median": round(1000 * median / READINGS, 3),
        "client_only_s_median": round(statistics.median(client), 2),
        "client_only_ms_per_publish": round(1000 * statistics.median(client) / READINGS, 3),
        "payload_bytes": r["payload_bytes"], "qos": 1, "channels": 3,
        "target_s": 30, "lost": 0,
    }))


if __name__ == "__main__":
    main()
