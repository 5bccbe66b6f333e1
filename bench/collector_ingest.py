"""Sustained ingest with zero loss, QoS 1, through Mosquitto on loopback.

For each consumer (mosquitto_sub as the broker's own reference, the collector into the
embedded SQLite store, the collector into InfluxDB 1.6.7 behind the test-only /api/v2/write
adapter) it climbs a ladder of steady publishing rates and keeps the highest step where
every reading published arrived (stored, for the collector) and the consumer kept pace
(caught up within --drain seconds of the end of the step). Publishers are mosquitto_pub
processes in line mode (-l) fed at a steady pace. Then it times the collector's writer path
stage by stage, in process, to show where the time goes.

    python bench/collector_ingest.py            # default ladder, about 3 minutes
    python bench/collector_ingest.py --quick    # one short step per consumer

The JSON line printed last holds the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.influx_v2_adapter import InfluxV2Adapter  # noqa: E402  after the sys.path line above (tests.*)
from tests.services import Influxd, Mosquitto  # noqa: E402  after the sys.path line above (tests.*)

PUBLISHERS = 4  # mosquitto_pub processes, one meter each
INTERVAL_S = 1.0


def payloads(meter: str, n: int, t0: float) -> bytes:
    """n readings of one meter, one JSON object per line (one channel: reading = point)."""
    lines = []
    e = 0.0
    for seq in range(n):
        p = 100.0 + (seq * 37) % 2900
        e += p * INTERVAL_S / 3600
        lines.append(
            f'{{"v": 1, "meter": "{meter}", "boot": 1, "seq": {seq}, "ts": {t0 + seq:.3f}, '
            f'"up_ms": {seq * 1000}, "interval_s": {INTERVAL_S}, "ch": [{{"id": 0, '
            f'"energy_wh": {e:.3f}, "power_w": {p:.2f}, "irms_a": {p / 230:.3f}, '
            f'"apparent": true}}]}}')
    return ("\n".join(lines) + "\n").encode()


def publish_step(broker, prefix: str, rate: float, duration_s: float) -> tuple[int, float]:
    """Publish rate x duration readings at a steady pace; return (count, achieved rate)."""
    per_pub = int(rate * duration_s / PUBLISHERS)
    t0 = time.time() - 86400
    data = [payloads(f"{prefix}-{k}", per_pub, t0) for k in range(PUBLISHERS)]
    procs = [subprocess.Popen(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "5",
         "-i", f"bench-pub-{prefix}-{k}", "-t", f"cw/{prefix}-{k}/reading", "-l"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for k in range(PUBLISHERS)]
    offsets = [[0] + [m.end() for m in re.finditer(b"\n", d)] for d in data]
    tick = 0.01
    start = time.monotonic()
    sent = 0
    while sent < per_pub:
        due = min(per_pub, int((time.monotonic() - start) * rate / PUBLISHERS) + 1)
        if due > sent:
            for k, p in enumerate(procs):
                p.stdin.write(data[k][offsets[k][sent]:offsets[k][due]])
                p.stdin.flush()
            sent = due
        time.sleep(tick)
    for p in procs:
        p.stdin.close()
    for p in procs:
        p.wait(60)
    elapsed = time.monotonic() - start
    return per_pub * PUBLISHERS, per_pub * PUBLISHERS / elapsed


def peak_rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class SubConsumer:
    """mosquitto_sub, QoS 1, counting what the broker delivers."""

    name = "mosquitto_sub"

    def __init__(self, broker, workdir):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "5",
             "-i", "bench-sub", "-t", "cw/+/reading", "-F", "%t"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.counts: dict[str, int] = {}
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.5)

    def _read(self):
        for line in self.proc.stdout:
            prefix = line[3:].split(b"-", 1)[0].decode()
            self.counts[prefix] = self.counts.get(prefix, 0) + 1

    def count(self, prefix: str) -> int:
        return self.counts.get(prefix, 0)

    def rss(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class CollectorConsumer:
    """`citizenwatt collector` as a child process, counting what reached the store."""

    def __init__(self, broker, workdir: Path, influx=None):
        self.name = "collector_influxdb" if influx else "collector_sqlite"
        self.workdir = workdir
        self.influx = influx
        env = dict(os.environ, CITIZENWATT_MQTT__HOST=broker.host,
                   CITIZENWATT_MQTT__PORT=str(broker.port), CITIZENWATT_MQTT__PROTOCOL="v5",
                   CITIZENWATT_DATA_DIR=str(workdir), CITIZENWATT_COLLECTOR__METRICS_PORT="0",
                   CITIZENWATT_COLLECTOR__ID=f"bench-{self.name}", PYTHONPATH=str(ROOT))
        if influx:
            env.update(CITIZENWATT_STORE__KIND="influxdb", CITIZENWATT_STORE__INFLUX_URL=influx[1].url,
                       CITIZENWATT_STORE__INFLUX_TOKEN="bench:bench",
                       CITIZENWATT_STORE__INFLUX_BUCKET="citizenwatt/autogen")
        self.log = open(workdir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "citizenwatt.cli", "collector"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.db = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if b"connect" in (workdir / f"{self.name}.log").read_bytes():
                break
            if self.proc.poll() is not None:
                raise RuntimeError((workdir / f"{self.name}.log").read_text())
            time.sleep(0.1)

    def count(self, prefix: str) -> int:
        if self.influx:
            res = self.influx[0].query(
                f"SELECT count(seq) FROM reading WHERE meter =~ /^{prefix}-/")
            s = res[0].get("series")
            return s[0]["values"][0][1] if s else 0
        if self.db is None:
            path = self.workdir / "readings.sqlite"
            if not path.exists():
                return 0
            self.db = sqlite3.connect(path, timeout=30)
        return self.db.execute("SELECT COUNT(*) FROM reading WHERE meter_id >= ? AND "
                               "meter_id < ?", (prefix + "-", prefix + ".")).fetchone()[0]

    def rss(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def ladder(consumer, broker, tag: str, rates, duration_s, drain_s) -> tuple[int, list]:
    best, steps = 0, []
    for i, rate in enumerate(rates):
        prefix = f"{tag}{i}"
        published, achieved = publish_step(broker, prefix, rate, duration_s)
        end = time.monotonic()
        got = consumer.count(prefix)
        while got < published and time.monotonic() - end < drain_s:
            time.sleep(0.1)
            got = consumer.count(prefix)
        caught_up_s = time.monotonic() - end
        ok = got == published and achieved >= 0.95 * rate
        steps.append({"rate": rate, "published": published, "achieved": round(achieved),
                      "received": got, "caught_up_s": round(caught_up_s, 2), "ok": ok})
        print(f"  {consumer.name:20s} {rate:6d}/s: published {published} at "
              f"{achieved:,.0f}/s, got {got} ({caught_up_s:.1f} s after) "
              f"{'OK' if ok else 'FAIL'}", file=sys.stderr, flush=True)
        if not ok:
            # a backlog or a loss? wait for the backlog to clear, then count again
            deadline = time.monotonic() + 30
            while consumer.count(prefix) < published and time.monotonic() < deadline:
                time.sleep(0.2)
            steps[-1]["received_after_30s"] = consumer.count(prefix)
            print(f"  {'':20s} then {steps[-1]['received_after_30s']} of {published}",
                  file=sys.stderr, flush=True)
            break
        best = rate
    return best, steps


def profile_writer_path(workdir: Path, influx_url: str, n: int = 20000, batch: int = 2000):
    """Time each stage of the writer path in process, µs per reading."""
    from citizenwatt.firmware import wire
    from citizenwatt.store.influx import InfluxStore, reading_line
    from citizenwatt.store.port import readings_from_payload
    from citizenwatt.store.sqlite import SqliteStore

    lines = payloads("prof-0", n, time.time() - 86400).splitlines()
    topic = "cw/prof-0/reading"
    out = {}
    t = time.perf_counter()
    objs = [wire.decode_reading(topic, p, now_s=time.time()) for p in lines]
    out["decode_validate_us"] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    rows = [r for o in objs for r in readings_from_payload(o, 0.0)]
    out["to_rows_us"] = (time.perf_counter() - t) / n * 1e6
    store = SqliteStore(workdir / "prof.sqlite")
    t = time.perf_counter()
    for i in range(0, n, batch):
        store.write(rows[i:i + batch], 0.0)
    out["sqlite_write_us"] = (time.perf_counter() - t) / n * 1e6
    store.close()
    inf = InfluxStore(influx_url, "bench:bench", "-", "citizenwatt/autogen",
                      spool_path=workdir / "prof-spool.sqlite", ship=False)
    t = time.perf_counter()
    for i in range(0, n, batch):
        inf.write(rows[i:i + batch], 0.0)
    out["ledger_and_spool_write_us"] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    chunks = []
    while True:
        c = inf.ledger.take(5000)
        if c is None:
            break
        chunks.append(c)
        inf.ledger.done(c[0])
    out["spool_take_and_line_protocol_us"] = (time.perf_counter() - t) / n * 1e6
    inf._connect_writer()
    from influxdb_client import WritePrecision

    t = time.perf_counter()
    for _, body, _ in chunks:
        inf._write_api.write(inf.bucket, inf.org, record=body, write_precision=WritePrecision.NS)
    out["influx_http_write_us"] = (time.perf_counter() - t) / n * 1e6
    inf.close()
    _ = reading_line
    return {k: round(v, 1) for k, v in out.items()}


def junk_flood(work: Path, rate: int = 2000, duration_s: float = 5.0, junk: int = 40000,
               drain_s: float = 60.0) -> dict:
    """Genuine readings published at `rate` while one meter's topic takes `junk` malformed
    messages as fast as mosquitto_pub sends them, through a broker with the shipped queue
    (max_queued_messages 100000), into the collector (SQLite): genuine readings kept per
    second, and how many were lost."""
    broker = Mosquitto(work / "mq-junk", extra_conf="max_queued_messages 100000").start()
    (work / "junk").mkdir(exist_ok=True)
    consumer = CollectorConsumer(broker, work / "junk")
    try:
        flood = subprocess.Popen(
            ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "5",
             "-i", "bench-junk", "-t", "cw/junk-0/reading", "-l"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        body = b"".join(b"{not json %d\n" % i for i in range(junk))
        feeder = threading.Thread(target=flood.communicate, args=(body,), daemon=True)
        start = time.monotonic()
        feeder.start()
        published, achieved = publish_step(broker, "g", rate, duration_s)
        feeder.join(120)
        deadline = time.monotonic() + drain_s
        got = consumer.count("g")
        while got < published and time.monotonic() < deadline:
            time.sleep(0.1)
            got = consumer.count("g")
        elapsed = time.monotonic() - start
        rss = consumer.rss()
    finally:
        consumer.stop()
        broker.stop()
    return {"genuine_published": published, "genuine_stored": got,
            "genuine_lost": published - got, "junk_messages": junk,
            "genuine_rate": rate, "genuine_per_s_kept": round(got / elapsed),
            "all_stored_after_s": round(elapsed, 2), "peak_rss_mb": round(rss, 1)}


def writer_cost_per_message(workdir: Path, n: int = 20000) -> dict:
    """The collector's writer thread, in process, on n valid readings then n junk messages
    (spread over 100 meters, so no quota drops them: decoding and rejecting each): µs per
    message, each run from its inbox to its last commit."""
    import logging

    from citizenwatt.collector.service import Collector, _Message
    from citizenwatt.store.sqlite import SqliteStore

    logging.getLogger("citizenwatt.collector").setLevel(logging.ERROR)
    store = SqliteStore(workdir / "cost.sqlite")
    now = time.time()

    def run(messages) -> float:
        c = Collector(store, "127.0.0.1", batch_wait_s=0.0)
        c._inbox.extend(messages)
        c._stopping.set()
        t = time.perf_counter()
        c._write_loop()
        assert c.metrics.processed == len(messages)
        return (time.perf_counter() - t) / len(messages) * 1e6

    valid = [_Message("cw/cost-0/reading", p, 0, 1, now, 0)
             for p in payloads("cost-0", n, now - 86400).splitlines()]
    junk = [_Message(f"cw/junk-{k % 100}/reading", b"{not json %d" % k, 0, 1, now, 0)
            for k in range(n)]
    out = {"valid_us_per_message": round(run(valid), 1),
           "junk_us_per_message": round(run(junk), 1),
           "dead_letters_kept": sum(store.rejections().values())}
    store.close()
    return out


def gap_reading_cost(workdir: Path, meters: int = 20) -> dict:
    """Writer time and hourly rows of a 5-channel reading whose predecessor is from 2020,
    against an ordinary next reading 10 s later: medians (and max) over `meters` meters,
    since one commit's fsync varies more than the work itself on a shared machine."""
    import statistics

    from citizenwatt.firmware import wire
    from citizenwatt.store.port import readings_from_payload
    from citizenwatt.store.sqlite import SqliteStore

    store = SqliteStore(workdir / "gap.sqlite")

    def rows(meter, seq, ts, e):
        chans = [wire.channel(c, e, 120.0, 0.6) for c in range(5)]
        payload = wire.encode_reading(meter, 1, seq, 1000 * seq, 10, chans, ts=ts)
        decoded = wire.decode_reading(f"cw/{meter}/reading", payload)
        return readings_from_payload(decoded, ts), payload

    def timed(r) -> float:
        t = time.perf_counter()
        store.write(r, 0.0)
        return (time.perf_counter() - t) * 1000

    def hour_rows() -> int:
        return store.connection().execute("SELECT COUNT(*) FROM energy_hour").fetchone()[0]

    now = time.time()
    gap_ms, ordinary_ms, gap_rows = [], [], []
    for k in range(meters):
        store.write(rows(f"gap-{k}", 0, 1577836800.0 + 3600, 10.0)[0], 0.0)
        new, payload = rows(f"gap-{k}", 1, now - 11, 50000.0)
        before = hour_rows()
        gap_ms.append(timed(new))
        gap_rows.append(hour_rows() - before)
        ordinary_ms.append(timed(rows(f"gap-{k}", 2, now - 1, 50000.5)[0]))
    store.close()
    return {"payload_bytes": len(payload), "write_ms_median": round(statistics.median(gap_ms), 2),
            "write_ms_max": round(max(gap_ms), 2),
            "ordinary_write_ms_median": round(statistics.median(ordinary_ms), 2),
            "hour_rows_per_gap_reading": max(gap_rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one 3 s step at 5000/s each")
    ap.add_argument("--rates", default="5000,10000,12500,15000,17500,20000,25000,30000")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per step")
    ap.add_argument("--drain", type=float, default=2.0,
                    help="seconds after a step within which the consumer must have caught up")
    ap.add_argument("--only", default="mosquitto_sub,sqlite,influxdb,junk")
    args = ap.parse_args()
    rates = [5000] if args.quick else [int(r) for r in args.rates.split(",")]
    duration = 3.0 if args.quick else args.duration
    only = args.only.split(",")

    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "influxd"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is missing: apt-get install mosquitto mosquitto-clients influxdb")

    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    # notice: Mosquitto says "Outgoing messages are being dropped" at that level
    broker = Mosquitto(work / "mosquitto", extra_conf="log_type notice").start()
    engine = Influxd(work / "influxdb").start()
    adapter = InfluxV2Adapter(engine.host, engine.port).start()
    results: dict = {}
    t_start = time.monotonic()
    try:
        for key, tag, make in (
                ("mosquitto_sub", "q", lambda: SubConsumer(broker, work)),
                ("sqlite", "s", lambda: CollectorConsumer(broker, work / "sqlite")),
                ("influxdb", "i", lambda: CollectorConsumer(broker, work / "influx",
                                                            (engine, adapter)))):
            if key not in only:
                continue
            (work / key if key != "influxdb" else work / "influx").mkdir(exist_ok=True)
            consumer = make()
            if os.environ.get("BENCH_PYSPY") and hasattr(consumer, "workdir"):
                subprocess.Popen(["py-spy", "record", "-d", "20", "-f", "raw", "-o",
                                  f"/tmp/pyspy-{key}.txt", "-p", str(consumer.proc.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                best, steps = ladder(consumer, broker, tag, rates, duration, args.drain)
                results[key] = {"best": best, "steps": steps, "peak_rss_mb": round(consumer.rss(), 1)}
            finally:
                consumer.stop()
        if "junk" in only:
            results["junk_flood"] = junk_flood(work)
            print(f"  junk flood: {results['junk_flood']}", file=sys.stderr, flush=True)
        results["gap_reading"] = gap_reading_cost(work)
        results["writer_cost"] = writer_cost_per_message(work)
        prof = profile_writer_path(work, adapter.url)
        drops = [line.split(": ", 1)[1] for line in
                 broker.log_path.read_text(errors="replace").splitlines() if "dropped" in line]
        results["broker_drop_notices"] = drops
        if os.environ.get("BENCH_KEEP"):
            shutil.copy(broker.log_path, "/tmp/bench-mosquitto.log")
    finally:
        adapter.stop()
        engine.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)

    sub = results.get("mosquitto_sub", {}).get("best") or None
    print(json.dumps({"stages_us_per_reading": prof, "ladders": results}), file=sys.stderr)
    s_best = results.get("sqlite", {}).get("best", 0)
    i_best = results.get("influxdb", {}).get("best", 0)
    print(json.dumps({
        "name": "collector_ingest_zero_loss_sqlite", "value": s_best, "unit": "readings/s",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "influxdb_points_per_s": i_best, "mosquitto_sub_per_s": sub,
        "ratio_sqlite_to_mosquitto_sub": round(s_best / sub, 2) if sub else None,
        "ratio_influxdb_to_mosquitto_sub": round(i_best / sub, 2) if sub else None,
        "peak_rss_mb_sqlite": results.get("sqlite", {}).get("peak_rss_mb"),
        "peak_rss_mb_influxdb": results.get("influxdb", {}).get("peak_rss_mb"),
        "peak_rss_mb_mosquitto_sub": results.get("mosquitto_sub", {}).get("peak_rss_mb"),
        "junk_flood_genuine_per_s_kept": results.get("junk_flood", {}).get("genuine_per_s_kept"),
        "junk_flood_genuine_lost": results.get("junk_flood", {}).get("genuine_lost"),
        "junk_flood": results.get("junk_flood"),
        "gap_reading_2020_to_now": results.get("gap_reading"),
        "writer_cost_valid_vs_junk": results.get("writer_cost"),
        "qos": 1, "channels_per_reading": 1, "step_s": duration, "drain_s": args.drain,
        "rates_tried": rates, "stages_us_per_reading": prof,
        "influxdb": "1.6.7 behind the test-only /api/v2/write adapter (Python proxy)",
        "elapsed_s": round(time.monotonic() - t_start),
    }))


if __name__ == "__main__":
    main()
