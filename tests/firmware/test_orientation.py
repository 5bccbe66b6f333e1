"""A clamp on backwards, with and without the config's "reverse": the fault the status
reports and the energy counted (never decreasing), from synthetic windows through the real
measure(), meter.oriented() and the Integrator."""

from __future__ import annotations

import dataclasses

import pytest

from citizenwatt.firmware.energy import Integrator
from citizenwatt.firmware.measure import measure
from citizenwatt.firmware.meter import oriented

from .synth import Case

FWD = Case("forward-10A", 10.0, 20.0, seed=11)
BACK = dataclasses.replace(FWD, name="backward-10A", reversed=True)


def _run(case, reverse, windows=5):
    """Power and fault of each 2 s window, and the counter after each (mWh)."""
    integ = Integrator(1)
    out = []
    for k in range(windows):
        c = dataclasses.replace(case, seed=case.seed + k)
        i, v, n = c.samples()
        p, fault = oriented(measure(i, v, 1e-6, c.cal(), n), reverse)
        integ.add([p], k * 2000)
        out.append((p, fault, integ.mwh[0]))
    counters = [x[2] for x in out]
    assert counters == sorted(counters)      # never decreasing
    return out


@pytest.mark.parametrize("case,reverse,fault,counts", [
    (FWD, False, None, True),
    (BACK, False, "reversed", False),   # reported; exported power counts as 0
    (BACK, True, None, True),            # known and corrected in the config: no fault
    (FWD, True, "reversed", False),      # "reverse" set but the clamp was turned round
])
def test_fault_and_energy_follow_the_configured_orientation(case, reverse, fault, counts):
    out = _run(case, reverse)
    assert {f for _, f, _ in out} == {fault}
    wh = out[-1][2] / 1000
    expected_wh = 2170.7 * 8 / 3600       # 4 intervals of 2 s at the truth's real power
    if counts:
        assert wh == pytest.approx(expected_wh, rel=0.01)
    else:
        assert wh == 0


def test_reverse_without_voltage_still_counts():
    nov = dataclasses.replace(BACK, voltage=False)
    out = _run(nov, True)
    assert {f for _, f, _ in out} == {None}
    assert out[-1][2] / 1000 == pytest.approx(10.0 * 230 * 8 / 3600, rel=0.01)
