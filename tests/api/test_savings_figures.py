"""Savings figures carry no float noise: 153.2, never 153.19999999999996 (6 decimals at
most: mWh, micro-euros, so scripts that sum periods keep their precision)."""

from __future__ import annotations

import re


def test_savings_json_figures_are_rounded(world, wclient):
    r = wclient.get(f"/api/v1/households/{world.hh('A')}/savings?start=2026-03-15&end=2026-03-30",
                    headers=world.bearer(world.link("A")))
    assert r.status_code == 200
    s = r.json()
    # 16 days at 400 W, one of them the 23-hour spring DST day: 0.4 x (15 x 24 + 23) kWh.
    assert s["actual_kwh"] == 153.2 and s["expected_kwh"] == 191.5 and s["saved_kwh"] == 38.3
    assert s["saved_eur"] == round(38.3 * 0.1952, 6)
    for key in ("actual_kwh", "expected_kwh", "saved_kwh", "saved_kg_co2", "baseline_kwh_per_day",
                "saved_pct", "saved_eur"):
        assert re.fullmatch(r"-?\d+(\.\d{1,6})?", repr(s[key])), (key, s[key])
