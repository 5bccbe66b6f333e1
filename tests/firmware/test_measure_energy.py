"""Energy over an hour of a steady 100 W load (pf 0.95, 0.456 A) counted within 0.5 %:
every 2 s window a fresh stretch of noise and phase (the synthetic ADC of synth.py),
measured, then integrated by the meter's Integrator.
On CPython the whole hour (1,801 windows); on the MicroPython VM every tenth window
(one per 20 s), with the same numbers as CPython for each."""

from __future__ import annotations

import dataclasses
import json
import math
from array import array

import pytest

from citizenwatt.firmware.energy import Integrator
from citizenwatt.firmware.measure import measure
from tests.firmware import vm
from tests.firmware.synth import Case

LOAD_W = 100.0
PF = 0.95
STEADY = Case("steady-100W", LOAD_W / 231.0 / PF, math.degrees(math.acos(PF)), seed=0)


def window(k: int) -> tuple[list[int], list[int], int]:
    i, v, n = dataclasses.replace(STEADY, seed=7000 + k).samples()
    assert v is not None
    return i, v, n


def test_truth_is_100_w():
    assert STEADY.truth()["real_w"] == pytest.approx(LOAD_W, rel=1e-9)


def test_an_hour_of_100_w_counts_within_half_a_percent_on_cpython():
    integ = Integrator(1)
    cal = STEADY.cal()
    powers = []
    for k in range(1801):  # 0 s to 3600 s, every 2 s
        i, v, n = window(k)
        p = measure(i, v, 1e-6, cal, n)["real_w"]
        powers.append(p)
        integ.add([p], k * 2000)
    wh = integ.mwh[0] / 1000
    print(f"hour of {LOAD_W:g} W: {wh:.3f} Wh; windows {min(powers):.2f}..{max(powers):.2f} W")
    assert wh == pytest.approx(LOAD_W, rel=0.005)
    assert all(p > 0 for p in powers)  # never cut to zero, never a fault's sign


def test_an_hour_of_100_w_counts_within_half_a_percent_on_the_vm(tmp_path):
    cal = STEADY.cal()
    files: dict[str, str | bytes] = {}
    expected = []
    for j, k in enumerate(range(0, 1801, 10)):
        i, v, n = window(k)
        files[f"w{j}.bin"] = array("i", i + v).tobytes()
        expected.append(measure(i, v, 1e-6, cal, n)["real_w"])
    files["cal.json"] = json.dumps(cal)
    code = f"""
from array import array
from fw.measure import measure, N_OUT
from fw.energy import Integrator
cal = json.load(open('/input/cal.json'))
bi = array('i', range(1600))
bv = array('i', range(1600))
work = array('i', range(N_OUT))
integ = Integrator(1)
powers = []
for j in range({len(expected)}):
    with open('/input/w%d.bin' % j, 'rb') as f:
        f.readinto(bi)
        f.readinto(bv)
    m = measure(bi, bv, 1e-6, cal, 1600, False, work)
    powers.append(m['real_w'])
    integ.add([m['real_w']], j * 20000)
print(json.dumps({{'mwh': integ.mwh[0], 'powers': powers}}))
"""
    r = vm.run(tmp_path, code, files, timeout_s=300, fuel=50_000_000_000)[-1]
    assert r["powers"] == pytest.approx(expected, rel=1e-9)
    wh = r["mwh"] / 1000
    print(f"hour of {LOAD_W:g} W on the VM (every 20 s): {wh:.3f} Wh")
    assert wh == pytest.approx(LOAD_W, rel=0.005)
