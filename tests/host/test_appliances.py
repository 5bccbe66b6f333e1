"""The appliance library the breakdown is judged on (host/appliances.py)."""

from __future__ import annotations

import datetime as dt

from citizenwatt.host.appliances import INTERVAL_S, JUDGED, simulate


def test_ground_truth_adds_up_to_the_series_and_is_deterministic():
    h = simulate(3, days=5, start=dt.date(2026, 1, 5))
    assert len(h.power_w) == 5 * 8640
    # Every watt in the series belongs to an appliance of the ground truth (noise averages out).
    assert abs(sum(h.energy_wh.values()) - h.total_wh) < 0.002 * h.total_wh
    for name in JUDGED:
        runs = sum(e.energy_wh for e in h.events if e.appliance == name)
        assert abs(runs - h.energy_wh.get(name, 0.0)) < 1e-6 * h.total_wh + 1e-6, name
    again = simulate(3, days=5, start=dt.date(2026, 1, 5))
    assert again.power_w == h.power_w and again.events == h.events


def test_events_overlap_and_powers_vary():
    h = simulate(5, days=7, start=dt.date(2026, 1, 5))
    big = [e for e in h.events if e.appliance in ("kettle", "water_heater", "heating", "oven")]
    overlaps = sum(1 for a, b in zip(big, big[1:], strict=False) if b.start_s < a.end_s)
    assert overlaps >= 5
    kettle_w = [3600 * e.energy_wh / (e.end_s - e.start_s) for e in h.events if e.appliance == "kettle"]
    assert max(kettle_w) - min(kettle_w) > 50


def test_the_voltage_sensor_gives_a_power_factor_and_the_sub_clamp_its_channel():
    h = simulate(4, days=2, start=dt.date(2026, 1, 5), sub_clamp=True, voltage=True)
    assert h.pf is not None and min(h.pf) > 0.4 and max(h.pf) <= 1.0
    assert h.water_heater_w is not None
    wh = sum(h.water_heater_w) * INTERVAL_S / 3600
    assert abs(wh - h.energy_wh["water_heater"]) < 0.001 * wh
    assert simulate(4, days=2, start=dt.date(2026, 1, 5), voltage=False).pf is None
