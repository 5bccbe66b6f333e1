"""Appliance breakdown judged on simulated households that know which appliance ran when.

For each of N households over D winter days (host/appliances.py): the project's method
(api/breakdown.py) and a Hart-style reference (edge detection, clustering of the steps,
on/off matching, each cluster labelled by the nearest prior) run on the same 10 s series.
Per appliance: event precision, recall and F1 (a detected run matches a true run of the
same appliance that it overlaps by at least half of the shorter, one to one), and the
error on its share of the household's energy (percentage points, median over households).
Deterministic: the same seeds give the same figures. Last line: one JSON object.

    python bench/nilm.py [--households 20] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from statistics import median

from citizenwatt.api.breakdown import (
    APPLIANCES,
    Detected,
    Pair,
    analyse,
    check_with_sub,
    edges,
    pairs,
    reactive,
)
from citizenwatt.host.appliances import INTERVAL_S, PARIS, SimulatedHome, simulate

# The reference's priors: each appliance's typical step (W) and reactive part (var).
PRIORS = {
    "kettle": (2000.0, 0.0), "oven": (2250.0, 0.0), "water_heater": (2500.0, 0.0),
    "washing_machine": (2000.0, 0.0), "dishwasher": (2000.0, 0.0), "heating": (1500.0, 0.0),
    "cold": (110.0, 85.0),
}


def hart(h: SimulatedHome) -> list[Detected]:
    """Hart (1992), as usually reimplemented: edges, on/off pairs, clusters of the pairs'
    (P, Q), each cluster named by the nearest prior (or left unnamed if none is near)."""
    q = reactive(h.power_w, h.pf)
    ps = pairs(edges(h.power_w, q), h.start_s, INTERVAL_S, q is not None)
    clusters: list[list[Pair]] = []
    centres: list[tuple[float, float]] = []
    for x in sorted(ps, key=lambda x: x.power_w):
        if centres and abs(x.power_w - centres[-1][0]) <= 0.06 * centres[-1][0] + 20:
            clusters[-1].append(x)
            c = clusters[-1]
            centres[-1] = (sum(y.power_w for y in c) / len(c), sum(y.q_var for y in c) / len(c))
        else:
            clusters.append([x])
            centres.append((x.power_w, x.q_var))
    out = []
    for c, (cp, cq) in zip(clusters, centres, strict=True):
        best, best_d = None, None
        for name, (pp, pq) in PRIORS.items():
            d = abs(cp - pp) + (abs(cq - pq) if q is not None else 0.0)
            if d <= 0.3 * pp + 30 and (best_d is None or d < best_d):
                best, best_d = name, d
        if best is not None:
            out += [Detected(best, x.on_s, x.off_s, x.energy_wh, x.power_w) for x in c]
    return out


def match(truth: list[tuple[float, float]], found: list[tuple[float, float]]) -> int:
    """One-to-one matches: overlap of at least half the shorter run (greedy, by time)."""
    found = sorted(found)
    used = [False] * len(found)
    hits = 0
    j0 = 0
    for s, e in sorted(truth):
        while j0 < len(found) and found[j0][1] < s - 6 * 3600:
            j0 += 1
        for j in range(j0, len(found)):
            fs, fe = found[j]
            if fs > e:
                break
            if used[j]:
                continue
            ov = min(e, fe) - max(s, fs)
            if ov > 0 and ov >= 0.5 * min(e - s, fe - fs):
                used[j] = True
                hits += 1
                break
    return hits


def score(h: SimulatedHome, found: list[Detected], acc: dict) -> None:
    total = h.total_wh
    for name in APPLIANCES:
        truth = [(e.start_s, e.end_s) for e in h.events if e.appliance == name]
        mine = [(d.start_s, d.end_s) for d in found if d.appliance == name]
        a = acc.setdefault(name, {"tp": 0, "truth": 0, "found": 0, "share_err": []})
        hits = match(truth, mine)
        a["tp"] += hits
        a["truth"] += len(truth)
        a["found"] += len(mine)
        true_share = h.energy_wh.get(name, 0.0) / total
        est_share = sum(d.energy_wh for d in found if d.appliance == name) / total
        if truth or mine:
            a["share_err"].append(abs(est_share - true_share) * 100)


def summary(acc: dict) -> dict:
    out = {}
    for name, a in acc.items():
        p = a["tp"] / a["found"] if a["found"] else 0.0
        r = a["tp"] / a["truth"] if a["truth"] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[name] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3),
                     "share_err_pp": round(median(a["share_err"]), 2) if a["share_err"] else None,
                     "events": a["truth"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    ours: dict = {}
    ref: dict = {}
    sub_err = []
    t_ours = t_ref = 0.0
    for seed in range(1, args.households + 1):
        h = simulate(seed, args.days)
        t = time.perf_counter()
        bd = analyse(h.start_s, INTERVAL_S, h.power_w, h.pf, PARIS)
        t_ours += time.perf_counter() - t
        t = time.perf_counter()
        hr = hart(h)
        t_ref += time.perf_counter() - t
        score(h, bd.events, ours)
        score(h, hr, ref)
        if h.water_heater_w is not None and sum(h.water_heater_w) > 0:
            err = check_with_sub(bd, "water_heater", h.water_heater_w, INTERVAL_S)
            if err is not None:
                sub_err.append(round(100 * err, 1))
    so, sr = summary(ours), summary(ref)
    print(f"{'appliance':16} {'events':>6}  {'ours P/R/F1':>18} {'share err':>9}   "
          f"{'Hart P/R/F1':>18} {'share err':>9}")
    for name in APPLIANCES:
        a, b = so[name], sr[name]
        print(f"{name:16} {a['events']:6}  {a['precision']:5.2f} {a['recall']:5.2f} {a['f1']:5.2f} "
              f"{a['share_err_pp'] or 0:8.2f}pp   {b['precision']:5.2f} {b['recall']:5.2f} {b['f1']:5.2f} "
              f"{b['share_err_pp'] or 0:8.2f}pp")
    print(f"water-heater estimate against its sub-clamp (households with one): {sub_err} %")
    print(json.dumps({
        "name": "nilm_breakdown", "value": {k: v["f1"] for k, v in so.items()},
        "unit": "event F1 per appliance (ours)", "reference_f1": {k: v["f1"] for k, v in sr.items()},
        "ours": so, "reference": sr, "households": args.households, "days": args.days,
        "deterministic": True, "sub_clamp_water_heater_error_pct": sub_err,
        "seconds_per_household_month": {"ours": round(t_ours / args.households, 2),
                                         "reference": round(t_ref / args.households, 2)},
        "machine": f"{platform.node()} {platform.machine()} py{platform.python_version()}",
    }))


if __name__ == "__main__":
    main()
