"""Cost of decoding and validating one reading in the collector: the wire contract's decoder
(json module) against the collector's (orjson, then the same contract checks), per message.

    python bench/collector_decode.py [--messages 20000] [--repeat 7]

Payloads as the meters send them (1 and 3 channels, with a voltage sensor); the best of
--repeat passes over all of them is kept, which filters out other jobs on a shared machine.
Prints the details, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import orjson

from citizenwatt.collector import decoding
from citizenwatt.firmware import wire


def payloads(n: int, channels: int, now: float) -> list[bytes]:
    out = []
    for i in range(n):
        chans = [wire.channel(c, 1834.512 + i * 0.1 + c, 412.6 + c, 1.876, 231.4, 0.9505)
                 for c in range(channels)]
        out.append(wire.encode_reading("demo-01", 3, i, 14120350 + 10000 * i, 10, chans,
                                       ts=now - 100 + i * 1e-3))
    return out


def best_us(fn, items, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t)
    return best / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    now = time.time()
    topic = "cw/demo-01/reading"
    result = {}
    for channels in (1, 3):
        items = payloads(args.messages, channels, now)
        objs = [json.loads(p) for p in items]
        r = {
            "bytes": len(items[0]),
            "contract_decode_us": best_us(lambda p: wire.decode_reading(topic, p, now), items,
                                          args.repeat),
            "collector_decode_us": best_us(lambda p: decoding.decode_reading(topic, p, now),
                                           items, args.repeat),
            "json_loads_us": best_us(lambda p: json.loads(p.decode()), items, args.repeat),
            "orjson_loads_us": best_us(orjson.loads, items, args.repeat),
            "validate_us": best_us(lambda o: wire.validate_reading(o, now), objs, args.repeat),
        }
        # a rejected payload goes through both parsers (rare: the contract decides)
        bad = [p.replace(b'"pf": 0.9505', b'"pf": NaN') for p in items[:2000]]
        r["rejected_nan_us"] = best_us(
            lambda p: _rejected(topic, p, now), bad, args.repeat)
        r["contract_rejected_nan_us"] = best_us(
            lambda p: _rejected(topic, p, now, wire.decode_reading), bad, args.repeat)
        result[channels] = {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
        print(f"{channels} channel(s), {r['bytes']} bytes: contract {r['contract_decode_us']:.2f} "
              f"µs, collector {r['collector_decode_us']:.2f} µs (json.loads "
              f"{r['json_loads_us']:.2f}, orjson.loads {r['orjson_loads_us']:.2f}, validate "
              f"{r['validate_us']:.2f}); NaN rejected: {r['rejected_nan_us']:.2f} µs vs "
              f"{r['contract_rejected_nan_us']:.2f} µs")
    three = result[3]
    print(json.dumps({
        "name": "collector_decode_3ch_us", "value": three["collector_decode_us"],
        "unit": "us/message",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "contract_decode_3ch_us": three["contract_decode_us"],
        "saved_3ch_pct": round(100 * (1 - three["collector_decode_us"]
                                      / three["contract_decode_us"]), 1),
        "one_channel": result[1], "three_channels": three,
        "orjson": orjson.__version__, "messages": args.messages, "repeat": args.repeat,
    }))


def _rejected(topic, p, now, decode=decoding.decode_reading):
    try:
        decode(topic, p, now)
    except wire.WireError:
        pass


if __name__ == "__main__":
    main()
