"""Sustained ingest with zero loss, QoS 1, through Mosquitto on loopback: the collector
against mosquitto_sub, the broker's own client, on the same stream in the same run.

Each consumer (mosquitto_sub, the collector into the embedded SQLite store, the collector
into InfluxDB 1.6.7 behind the test-only /api/v2/write adapter) climbs a ladder of steady
publishing rates, with 1-channel and with 3-channel readings. All are treated alike:

- a fresh broker per ladder, with the shipped queue limits (deploy/mosquitto/citizenwatt.conf);
- each consumer connects with MQTT v5, QoS 1 and the same Receive Maximum (the collector's
  setting; mosquitto_sub through `-D connect receive-maximum`);
- the same payloads (wire-contract readings, one meter per mosquitto_pub publisher);
- the same criterion: a step passes when every message published arrived (mosquitto_sub) or
  was stored (the collector: readings in the SQLite file, points in InfluxDB) within --drain
  seconds of the step's last publish, and the publishers kept to 95 % of the rate (a step
  where only the publishers fell short, the machine being busy, is tried once more).

The collector ships to InfluxDB from a process of its own (store/shipper.py): the collector's
CPU per message counts that process too, and each InfluxDB step also gives the CPU of each
process apart (collector, shipper, influxd, adapter, broker). The adapter, a test artefact
(InfluxDB 1.8+ and 2.x have /api/v2/write themselves), runs as its own process too
(`python -m tests.influx_v2_adapter`), so that its CPU is not taken from the publishing loop
and the counting in this one; its cost is reported, not hidden.

The whole comparison runs --runs times (3 by default); the JSON line printed last gives each
run's figures, their median and range, and the ratios to mosquitto_sub within each run.
Then, once, the writer path's stages in process and the defence figures (junk flood, a
reading after a long gap, valid against junk cost).

    python bench/collector_ingest.py                      # 3 runs, 20 to 40 minutes
    python bench/collector_ingest.py --runs 1 --no-extras # one run, about 8 minutes
    python bench/collector_ingest.py --quick              # one short step per consumer
    python bench/collector_ingest.py --profile 20000      # py-spy on the collector at 20,000/s
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import Influxd, Mosquitto  # noqa: E402  after the sys.path line above (tests.*)

PUBLISHERS = 4  # mosquitto_pub processes, one meter each
INTERVAL_S = 10.0  # a meter's reading interval (the real cadence; the bench's meters run fast)
SHIPPED_CONF = ROOT / "deploy" / "mosquitto" / "citizenwatt.conf"
QUEUE_KEYS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages",
              "max_packet_size")
# The bench's 4 meters each publish thousands of readings a second, far beyond a real
# meter's one per 10 s: their quota burst is raised so that the quota (still checked for
# every message) does not drop them. Everything else is the collector's default.
BENCH_METER_BURST = 10_000_000


class AdapterProcess:
    """The test-only /api/v2/write adapter (tests/influx_v2_adapter.py) as its own process,
    so that its CPU is not taken from the publishing loop and the counting in this one."""

    def __init__(self, upstream_port: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.influx_v2_adapter", str(upstream_port)],
            cwd=ROOT, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            sys.exit("the InfluxDB adapter did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def shipped_queue_conf() -> str:
    """The queue limits of the shipped broker config (the rest is TLS, accounts, files)."""
    keep = [line.strip() for line in SHIPPED_CONF.read_text().splitlines()
            if line.strip().split(" ", 1)[0] in QUEUE_KEYS]
    return "\n".join(keep)


def receive_maximum() -> int:
    from citizenwatt.config import Settings

    return Settings().mqtt.receive_maximum


def payloads(meter: str, n: int, t0: float, channels: int = 1) -> bytes:
    """n readings of one meter, one wire-contract JSON object per line, as a meter with a
    voltage adapter sends them (real power, vrms_v and pf on each channel)."""
    lines = []
    energy = [1000.0 * (c + 1) for c in range(channels)]
    for seq in range(n):
        chans = []
        for c in range(channels):
            p = 100.0 + (seq * 37 + c * 500) % 2900
            energy[c] += p * INTERVAL_S / 3600
            chans.append(f'{{"id": {c}, "energy_wh": {energy[c]:.3f}, "power_w": {p:.2f}, '
                         f'"irms_a": {p / 229.5 / 0.95:.3f}, "apparent": false, '
                         f'"vrms_v": 229.50, "pf": 0.9500}}')
        lines.append(f'{{"v": 1, "meter": "{meter}", "boot": 1, "seq": {seq}, '
                     f'"ts": {t0 + seq * INTERVAL_S:.3f}, "up_ms": {int(seq * INTERVAL_S * 1000)}, '
                     f'"interval_s": {INTERVAL_S}, "ch": [{", ".join(chans)}]}}')
    return ("\n".join(lines) + "\n").encode()


def check_payloads(channels: int) -> int:
    """The payloads are what the wire contract accepts (a bench on rejected messages would
    measure nothing): decode two; return their size in bytes."""
    from citizenwatt.firmware import wire

    data = payloads("check-0", 2, time.time() - 3600, channels).splitlines()
    for p in data:
        obj = wire.decode_reading("cw/check-0/reading", p, now_s=time.time())
        assert len(obj["ch"]) == channels
    return len(data[-1])


def publish_step(broker, prefix: str, rate: float, duration_s: float,
                 channels: int = 1) -> tuple[int, float]:
    """Publish rate x duration readings at a steady pace; return (count, achieved rate)."""
    per_pub = int(rate * duration_s / PUBLISHERS)
    t0 = time.time() - per_pub * INTERVAL_S - 3600
    data = [payloads(f"{prefix}-{k}", per_pub, t0, channels) for k in range(PUBLISHERS)]
    offsets = [[0, *accumulate(len(line) + 1 for line in d.splitlines())] for d in data]
    procs = [subprocess.Popen(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "5",
         "-i", f"bench-pub-{prefix}-{k}", "-t", f"cw/{prefix}-{k}/reading", "-l"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for k in range(PUBLISHERS)]
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


def cpu_s(pid: int) -> float:
    """CPU time (user + system) the process has used so far, threads included."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes this one started (the collector's InfluxDB shipper)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out = []
    for t in tasks:
        try:
            out += [int(c) for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
        except OSError:
            pass
    return out


def cpu_by_part(consumer, broker, others: dict) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process that takes part, by pid: the consumer (for the
    collector: its own process, and its shipper apart), the broker, influxd, the adapter."""
    parts = {"consumer": [consumer.proc.pid], "shipper": children(consumer.proc.pid),
             "broker": [broker.proc.pid], **{k: [pid] for k, pid in others.items()}}
    return {k: {pid: cpu_s(pid) for pid in pids} for k, pids in parts.items()}


def cpu_us_per_message(before: dict, after: dict, n: int) -> dict[str, float]:
    return {k: round(sum(t - before.get(k, {}).get(pid, 0.0) for pid, t in after[k].items())
                     / n * 1e6, 1) for k in after}


def peak_rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class SubConsumer:
    """mosquitto_sub, MQTT v5, QoS 1, the collector's Receive Maximum, writing each topic to
    a file: what the broker delivers and the client acknowledges."""

    name = "mosquitto_sub"

    def __init__(self, broker, workdir: Path, client_id: str):
        self.out_path = workdir / f"{client_id}.topics"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "5",
             "-i", client_id, "-D", "connect", "receive-maximum", str(receive_maximum()),
             "-t", "cw/+/reading", "-F", "%t"],
            stdout=self.out, stderr=subprocess.DEVNULL)
        self._pos = 0
        self._rest = b""
        self.counts: dict[str, int] = {}
        time.sleep(0.5)

    def count(self, prefix: str) -> int:
        with open(self.out_path, "rb") as f:
            f.seek(self._pos)
            data = self._rest + f.read()
        self._pos += len(data) - len(self._rest)
        lines = data.split(b"\n")
        self._rest = lines.pop()  # a line not yet ended
        for line in lines:
            p = line[3:].split(b"-", 1)[0].decode()
            self.counts[p] = self.counts.get(p, 0) + 1
        return self.counts.get(prefix, 0)

    def rss(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()


class CollectorConsumer:
    """`citizenwatt collector` as a child process, counting the readings that reached the
    store (SQLite file, or InfluxDB points of channel 0: one per reading)."""

    def __init__(self, broker, workdir: Path, influx=None, client_id: str = "",
                 meter_burst: int | None = None):
        self.name = "collector_influxdb" if influx else "collector_sqlite"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.influx = influx
        # the processes beside the collector whose CPU the InfluxDB path costs
        self.others = {"influxd": influx[0].proc.pid, "adapter": influx[1].proc.pid} if influx else {}
        env = dict(os.environ, CITIZENWATT_MQTT__HOST=broker.host,
                   CITIZENWATT_MQTT__PORT=str(broker.port), CITIZENWATT_MQTT__PROTOCOL="v5",
                   CITIZENWATT_DATA_DIR=str(workdir), CITIZENWATT_COLLECTOR__METRICS_PORT="0",
                   CITIZENWATT_COLLECTOR__ID=client_id or f"bench-{self.name}",
                   PYTHONPATH=str(ROOT))
        if meter_burst is not None:
            env["CITIZENWATT_COLLECTOR__METER_BURST"] = str(meter_burst)
        if influx:
            env.update(CITIZENWATT_STORE__KIND="influxdb", CITIZENWATT_STORE__INFLUX_URL=influx[1].url,
                       CITIZENWATT_STORE__INFLUX_TOKEN="bench:bench",
                       CITIZENWATT_STORE__INFLUX_BUCKET="citizenwatt/autogen")
        self.log_path = workdir / f"{self.name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "citizenwatt.cli", "collector"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.db = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b"connect" in self.log_path.read_bytes():
                break
            if self.proc.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            time.sleep(0.1)

    def in_ledger(self, prefix: str) -> int | None:
        """Readings of channel 0 in the collector's ledger (stored and acknowledged, maybe
        not yet in InfluxDB): where an InfluxDB step that failed was behind."""
        path = self.workdir / "influx-spool.sqlite"
        if not self.influx or not path.exists():
            return None
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM reading WHERE meter_id >= ? AND "
                              "meter_id < ? AND channel = 0",
                              (prefix + "-", prefix + ".")).fetchone()[0]

    def count(self, prefix: str) -> int:
        if self.influx:
            res = self.influx[0].query(
                f"SELECT count(seq) FROM reading WHERE meter =~ /^{prefix}-/ AND channel = '0'")
            s = res[0].get("series")
            return s[0]["values"][0][1] if s else 0
        if self.db is None:
            path = self.workdir / "readings.sqlite"
            if not path.exists():
                return 0
            self.db = sqlite3.connect(path, timeout=30)
        return self.db.execute("SELECT COUNT(*) FROM reading WHERE meter_id >= ? AND "
                               "meter_id < ? AND channel = 0",
                               (prefix + "-", prefix + ".")).fetchone()[0]

    def rss(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def stop(self):
        if self.db is not None:
            self.db.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def ladder(consumer, broker, tag: str, rates, duration_s, drain_s, channels: int,
           profile_s: float = 0.0) -> tuple[int, list]:
    """Climb the rates until a step fails; return (highest passed, steps)."""
    best, steps = 0, []
    tries = [(i, rate) for i, rate in enumerate(rates)]
    retried: set[int] = set()
    while tries:
        i, rate = tries.pop(0)
        prefix = f"{tag}{i}" + ("r" if i in retried else "")
        spy = None
        if profile_s and hasattr(consumer, "workdir"):
            spy = subprocess.Popen(
                [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record",
                 "-d", str(int(profile_s)), "-r", "200", "-f", "raw", "--threads",
                 "--subprocesses",
                 "-o", str(consumer.workdir / "pyspy.txt"), "-p", str(consumer.proc.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        others = getattr(consumer, "others", {})
        cpu0 = cpu_by_part(consumer, broker, others)
        pub0 = os.times()
        published, achieved = publish_step(broker, prefix, rate, duration_s, channels)
        pub1 = os.times()
        # the mosquitto_pub processes (waited for, so counted as children) and this loop
        publishers_us = round((pub1.children_user + pub1.children_system + pub1.user + pub1.system
                               - pub0.children_user - pub0.children_system - pub0.user
                               - pub0.system) / published * 1e6, 1)
        end = time.monotonic()
        got = consumer.count(prefix)
        while got < published and time.monotonic() - end < drain_s:
            time.sleep(0.1)
            got = consumer.count(prefix)
        caught_up_s = time.monotonic() - end
        in_ledger = consumer.in_ledger(prefix) if hasattr(consumer, "in_ledger") else None
        # CPU per message over the step (µs): the consumer whole (the collector with its
        # shipper process), the broker, and for InfluxDB each process apart
        parts = cpu_us_per_message(cpu0, cpu_by_part(consumer, broker, others), published)
        cpu = [round(parts["consumer"] + parts["shipper"], 1), parts["broker"]]
        ok = got == published and achieved >= 0.95 * rate
        steps.append({"rate": rate, "published": published, "achieved": round(achieved),
                      "received": got, "caught_up_s": round(caught_up_s, 2), "ok": ok,
                      "consumer_cpu_us": cpu[0], "broker_cpu_us": cpu[1],
                      "publishers_cpu_us": publishers_us,
                      "load": round(os.getloadavg()[0], 1)})
        if in_ledger is not None:
            steps[-1]["in_ledger"] = in_ledger  # counted just after the drain bound
        if others:
            steps[-1]["cpu_us_by_process"] = {
                "collector": parts["consumer"], "shipper": parts["shipper"],
                **{k: parts[k] for k in others}, "broker": parts["broker"]}
        print(f"  {consumer.name:20s} {channels} ch {rate:6d}/s: published {published} at "
              f"{achieved:,.0f}/s, got {got} ({caught_up_s:.1f} s after) "
              f"{'OK' if ok else 'FAIL'}; CPU/message {cpu[0]} µs, broker {cpu[1]} µs, "
              f"publishers {publishers_us} µs, "
              f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        if others:
            print(f"  {'':20s} CPU/message by process (µs): {steps[-1]['cpu_us_by_process']}; "
                  f"in the ledger at the bound: {in_ledger}", file=sys.stderr, flush=True)
        if spy is not None:
            spy.wait(profile_s + 30)
        if not ok and got == published and i not in retried:
            # every message arrived in time but the publishers fell short of the rate (the
            # machine was busy): not the consumer's failure; the step is tried once more
            steps[-1]["publishers_short"] = True
            retried.add(i)
            tries.insert(0, (i, rate))
            continue
        if not ok:
            # behind or lost? wait for the backlog to clear, then count again
            deadline = time.monotonic() + 60
            while consumer.count(prefix) < published and time.monotonic() < deadline:
                time.sleep(0.2)
            steps[-1]["received_after_60s"] = consumer.count(prefix)
            print(f"  {'':20s} then {steps[-1]['received_after_60s']} of {published}",
                  file=sys.stderr, flush=True)
            break
        best = rate
    return best, steps


def one_run(work: Path, run: int, engine, adapter, rates, duration_s, drain_s,
            channel_counts, consumers) -> dict:
    """Every consumer's ladder for each payload size, each on a fresh broker with the
    shipped queue limits; returns {"<consumer>_<n>ch": {...}}."""
    out: dict = {}
    for channels in channel_counts:
        for key in consumers:
            tag = f"r{run}{key[0]}{channels}x"
            where = work / f"{tag}"
            where.mkdir(parents=True)
            broker = Mosquitto(where / "mosquitto",
                               extra_conf=shipped_queue_conf() + "\nlog_type notice").start()
            try:
                cid = f"bench-{tag}"
                if key == "mosquitto_sub":
                    consumer = SubConsumer(broker, where, cid)
                else:
                    consumer = CollectorConsumer(
                        broker, where / key, (engine, adapter) if key == "influxdb" else None,
                        client_id=cid, meter_burst=BENCH_METER_BURST)
                try:
                    best, steps = ladder(consumer, broker, tag, rates, duration_s, drain_s,
                                         channels)
                    rss = consumer.rss()
                finally:
                    consumer.stop()
                drops = [line.split(": ", 1)[1] for line in
                         broker.log_path.read_text(errors="replace").splitlines()
                         if "dropped" in line]
            finally:
                broker.stop()
            out[f"{key}_{channels}ch"] = {"best": best, "steps": steps,
                                          "peak_rss_mb": round(rss, 1),
                                          "broker_drop_notices": drops}
    return out


def summary(runs: list[dict], consumers, channel_counts) -> dict:
    """Median and range over the runs of each best rate, and of each ratio to mosquitto_sub
    taken within its run."""
    out: dict = {}
    for channels in channel_counts:
        ref = f"mosquitto_sub_{channels}ch"
        for key in consumers:
            name = f"{key}_{channels}ch"
            values = [r[name]["best"] for r in runs if name in r]
            if not values:
                continue
            # CPU per message (consumer process, all threads) over the steps it passed: the
            # figure that holds when other jobs share the machine and the rates do not
            cpu = [s["consumer_cpu_us"] for r in runs if name in r for s in r[name]["steps"]
                   if s["ok"]]
            out[name] = {"median": statistics.median(values), "min": min(values),
                         "max": max(values), "runs": values,
                         "cpu_us_per_message": statistics.median(cpu) if cpu else None}
            pubs = [s["publishers_cpu_us"] for r in runs if name in r for s in r[name]["steps"]
                    if s["ok"] and "publishers_cpu_us" in s]
            if pubs:
                out[name]["publishers_cpu_us_per_message"] = statistics.median(pubs)
            by_process = [s["cpu_us_by_process"] for r in runs if name in r
                          for s in r[name]["steps"] if s["ok"] and "cpu_us_by_process" in s]
            if by_process:
                out[name]["cpu_us_per_message_by_process"] = {
                    k: statistics.median(p[k] for p in by_process) for k in by_process[0]}
            if key != "mosquitto_sub" and all(ref in r and r[ref]["best"] for r in runs):
                ratios = [round(r[name]["best"] / r[ref]["best"], 2) for r in runs]
                out[f"ratio_{name}"] = {"median": statistics.median(ratios),
                                        "min": min(ratios), "max": max(ratios), "runs": ratios}
    return out


def profile_writer_path(workdir: Path, influx_url: str, n: int = 20000, batch: int = 2000):
    """Time each stage of the writer path in process, µs per reading."""
    from citizenwatt.firmware import wire
    from citizenwatt.store.influx import InfluxStore, reading_line
    from citizenwatt.store.port import readings_from_payload
    from citizenwatt.store.sqlite import SqliteStore

    lines = payloads("prof-0", n, time.time() - n * INTERVAL_S - 3600).splitlines()
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
             for p in payloads("cost-0", n, now - n * INTERVAL_S - 3600).splitlines()]
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


def profile_top(path: Path, n: int = 25) -> dict:
    """py-spy's collapsed stacks -> the functions holding most samples, by thread: own
    (the leaf) and total (anywhere in the stack), as shares of that thread's samples."""
    own: dict = {}
    total: dict = {}
    per_thread: dict = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0].startswith("process ") and len(frames) > 1:  # --subprocesses: the shipper
            frames = [f"{frames[0].split(':')[0]} {frames[1]}", *frames[2:]]
        thread, k = frames[0], int(count)
        per_thread[thread] = per_thread.get(thread, 0) + k
        leaf = (thread, frames[-1])
        own[leaf] = own.get(leaf, 0) + k
        for f in set(frames[1:]):
            total[(thread, f)] = total.get((thread, f), 0) + k

    def top(table):
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:n]
        return [f"{v / per_thread[t]:6.1%}  {t[:30]}  {f}" for (t, f), v in rows]

    return {"samples_by_thread": per_thread, "own": top(own), "total": top(total)}


def profile(work: Path, rate: int, channels: int, duration_s: float, store: str,
            engine=None, adapter=None) -> dict:
    """One step at `rate` into the collector with py-spy recording it (idle time left out)."""
    broker = Mosquitto(work / "mq-prof", extra_conf=shipped_queue_conf()).start()
    consumer = CollectorConsumer(broker, work / "prof",
                                 (engine, adapter) if store == "influxdb" else None,
                                 client_id="bench-prof", meter_burst=BENCH_METER_BURST)
    try:
        best, steps = ladder(consumer, broker, "p", [rate], duration_s, 2.0, channels,
                             profile_s=duration_s + 2)
    finally:
        consumer.stop()
        broker.stop()
    raw = work / "prof" / "pyspy.txt"
    if not raw.exists():
        sys.exit("py-spy wrote nothing: install it (pip install py-spy) and run as root")
    shutil.copy(raw, f"/tmp/pyspy-collector-{store}-{channels}ch-{rate}.txt")
    return {"step": steps[0], **profile_top(raw)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="whole comparisons, for median and range")
    ap.add_argument("--quick", action="store_true", help="one run, one 3 s step at 5000/s each")
    ap.add_argument("--rates", default="5000,7500,10000,12500,15000,17500,20000,22500,25000,"
                                        "27500,30000,35000,40000")
    ap.add_argument("--channels", default="1,3", help="channels per reading, each a ladder")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per step")
    ap.add_argument("--drain", type=float, default=2.0,
                    help="seconds after a step's last publish within which every message of "
                         "the step must have arrived (been stored)")
    ap.add_argument("--only", default="mosquitto_sub,sqlite,influxdb")
    ap.add_argument("--no-extras", action="store_true",
                    help="skip the writer stages, junk flood, gap and cost figures")
    ap.add_argument("--profile", type=int, metavar="RATE",
                    help="only profile the collector (py-spy) for one step at RATE readings/s")
    ap.add_argument("--profile-store", default="sqlite", choices=("sqlite", "influxdb"))
    args = ap.parse_args()
    rates = [5000] if args.quick else [int(r) for r in args.rates.split(",")]
    duration = 3.0 if args.quick else args.duration
    runs = 1 if args.quick else args.runs
    consumers = args.only.split(",")
    channel_counts = [int(c) for c in args.channels.split(",")]

    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "influxd"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is missing: apt-get install mosquitto mosquitto-clients influxdb")
    sizes = {c: check_payloads(c) for c in channel_counts}

    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    engine = Influxd(work / "influxdb").start()
    adapter = AdapterProcess(engine.port)
    results: dict = {"runs": []}
    t_start = time.monotonic()
    try:
        if args.profile:
            prof = profile(work, args.profile, channel_counts[0], duration, args.profile_store,
                           engine, adapter)
            print(json.dumps(prof, indent=1), file=sys.stderr)
            print(json.dumps({"name": "collector_ingest_profile", "value": prof["step"]["ok"],
                              "unit": "step passed", "machine": machine(), "rate": args.profile,
                              "store": args.profile_store, "channels": channel_counts[0],
                              "own": prof["own"][:10]}))
            return
        for run in range(runs):
            print(f"run {run + 1} of {runs}", file=sys.stderr, flush=True)
            results["runs"].append(one_run(work, run, engine, adapter, rates, duration,
                                           args.drain, channel_counts, consumers))
        if not args.no_extras:
            results["stages_us_per_reading"] = profile_writer_path(work, adapter.url)
            results["junk_flood"] = junk_flood(work)
            print(f"  junk flood: {results['junk_flood']}", file=sys.stderr, flush=True)
            results["gap_reading"] = gap_reading_cost(work)
            results["writer_cost"] = writer_cost_per_message(work)
    finally:
        adapter.stop()
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(json.dumps(results), file=sys.stderr)
    figures = summary(results["runs"], consumers, channel_counts)
    head = figures.get("sqlite_1ch", {})
    print(json.dumps({
        "name": "collector_ingest_zero_loss_sqlite_1ch_median", "value": head.get("median"),
        "unit": "readings/s", "machine": machine(),
        "runs": runs, "figures": figures,
        "peak_rss_mb": {k: max(r[k]["peak_rss_mb"] for r in results["runs"])
                        for k in results["runs"][0]},
        "broker_drop_notices": sorted({d for r in results["runs"] for v in r.values()
                                       for d in v["broker_drop_notices"]}),
        "payload_bytes": sizes, "qos": 1, "receive_maximum": receive_maximum(),
        "broker_queue": shipped_queue_conf().replace("\n", "; "),
        "step_s": duration, "drain_s": args.drain, "rates_tried": rates,
        "stages_us_per_reading": results.get("stages_us_per_reading"),
        "junk_flood": results.get("junk_flood"),
        "gap_reading_2020_to_now": results.get("gap_reading"),
        "writer_cost_valid_vs_junk": results.get("writer_cost"),
        "influxdb": "1.6.7 behind the test-only /api/v2/write adapter (a Python proxy in its "
                    "own process)",
        "elapsed_s": round(time.monotonic() - t_start),
    }))


def machine() -> str:
    load = os.getloadavg()[0]
    return f"{platform.node()} {os.cpu_count()} cores {platform.machine()}, load {load:.1f} at the end"


if __name__ == "__main__":
    main()
