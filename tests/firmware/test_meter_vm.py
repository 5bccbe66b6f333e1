"""The meter's main loop itself (measure, integrate, publish, queue through an outage,
replay, checkpoint, status) runs on the real MicroPython VM, with a fake `hw`, and gives
the same readings as on CPython."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.firmware import vm
from tests.firmware.test_energy_outbox import cpython_checks

HERE = Path(__file__).parent


def cpython_run() -> dict:
    cpython_checks()  # installs the `fw` alias
    import importlib

    for name in ("config", "wire", "meter", "measure", "calib", "hass"):
        sys.modules.setdefault("fw." + name, importlib.import_module("citizenwatt.firmware." + name))
    sys.path.insert(0, str(HERE))
    try:
        import vm_meter
    finally:
        sys.path.remove(str(HERE))
    return vm_meter.run()


def test_meter_loop_on_micropython_vm(tmp_path):
    code = "import vm_meter\nr = vm_meter.run()\nprint(json.dumps(r))\n"
    on_vm = vm.run(tmp_path, code, {"vm_meter.py": (HERE / "vm_meter.py").read_text()},
                   timeout_s=240)[-1]
    readings = on_vm["readings"]
    # 600 s at 10 s: 59 full intervals (the first opens at the first measurement) + the
    # partial one flushed at the stop; none lost in the 300 s outage.
    assert [r["seq"] for r in readings] == list(range(len(readings)))
    assert len(readings) == 60
    assert 28 <= on_vm["queued_in_outage"] <= 31
    assert on_vm["acked"] == len(readings)
    assert on_vm["status"][0] == "online" and on_vm["status"][-1] == "offline"
    ts = [r["ts"] for r in readings]
    assert ts == sorted(ts)                  # replayed with their original timestamps
    prev = None
    for r in readings:
        ch0 = r["ch"][0]
        # 10 A at 230 V, 28.6 degrees lag (0.5 rad): P = 2019 W, pf 0.878.
        if r["interval_s"] == 10:
            assert ch0["power_w"] == pytest.approx(2300 * 0.8776, rel=0.01)
            assert ch0["pf"] == pytest.approx(0.8776, abs=0.01)
            assert ch0["irms_a"] == pytest.approx(10.0, rel=0.01)
        assert r["ch"][1]["power_w"] == 0 and r["ch"][1]["irms_a"] == 0
        if prev is not None:
            step = ch0["energy_wh"] - prev["ch"][0]["energy_wh"]
            assert step == pytest.approx(ch0["power_w"] * r["interval_s"] / 3600, abs=0.002)
        prev = r
    # Flash writes: boot state, checkpoints, one append per queued reading, replay cursor.
    assert on_vm["flash_writes"] < 80
    assert cpython_run() == on_vm
