"""The meter's main loop itself (measure, integrate, publish, queue through an outage,
replay, checkpoint, status) runs on the real MicroPython VM, with a fake `hw`, and gives
the same readings as on CPython."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.firmware import vm
from tests.firmware.test_energy_outbox import cpython_checks

HERE = Path(__file__).parent


def cpython_run_setup() -> None:
    cpython_checks()  # installs the `fw` alias
    import importlib

    for name in ("config", "wire", "meter", "measure", "calib", "hass", "energy", "mqtt"):
        sys.modules.setdefault("fw." + name, importlib.import_module("citizenwatt.firmware." + name))
    sys.path.insert(0, str(HERE))
    try:
        import vm_meter  # noqa: F401 - cached in sys.modules for the callers
    finally:
        sys.path.remove(str(HERE))


def cpython_run() -> dict:
    cpython_run_setup()
    import vm_meter

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


def _energy_texts(payload: str) -> list[str]:
    return re.findall(r'"energy_wh": ([0-9.]+)', payload)


def test_meter_sends_its_integer_counter_exactly(tmp_path):
    """Past 100,000 kWh the payload's energy_wh is still the meter's own mWh counter, on the
    MicroPython VM and on CPython alike (the ESP32's 32-bit floats would be 8 Wh off)."""
    start = 123456789012
    code = f"import vm_meter\nr = vm_meter.run_big_counter({start})\nprint(json.dumps(r))\n"
    on_vm = vm.run(tmp_path, code, {"vm_meter.py": (HERE / "vm_meter.py").read_text()},
                   timeout_s=120)[-1]
    assert on_vm["boot"] == 5 and len(on_vm["texts"]) >= 3
    ch0 = [_energy_texts(t)[0] for t in on_vm["texts"]]
    assert all(re.fullmatch(r"123456\d{3}\.\d{3}", e) for e in ch0), ch0
    # 10 A at 230 V, pf 0.878: about 5.6 Wh per 10 s reading, on top of the stored count.
    assert Decimal(ch0[-1]) * 1000 == on_vm["mwh"][0] > start + 10000
    assert _energy_texts(on_vm["texts"][-1])[1] == "0.005"  # channel 1: idle, 5 mWh
    assert [Decimal(e) for e in ch0] == sorted(Decimal(e) for e in ch0)
    assert cpython_big_counter(start) == on_vm


def cpython_big_counter(start: int) -> dict:
    cpython_run_setup()
    import vm_meter

    return vm_meter.run_big_counter(start)


def cpython_full_flash() -> dict:
    cpython_run_setup()
    import vm_meter

    return vm_meter.run_full_flash()


def test_meter_on_a_full_flash_keeps_counting_and_reports_the_loss(tmp_path):
    code = "import vm_meter\nr = vm_meter.run_full_flash()\nprint(json.dumps(r))\n"
    on_vm = vm.run(tmp_path, code, {"vm_meter.py": (HERE / "vm_meter.py").read_text()},
                   timeout_s=240)[-1]
    for r in (on_vm, cpython_full_flash()):
        assert r["errors"] == []                 # no crash, hence no reboot loop
        assert r["saved_mwh"] is not None and r["saved_mwh"][0] > 0
        assert r["dropped"] > 0 and r["status_dropped"] == r["dropped"]
        seqs = r["seqs"]
        assert seqs == sorted(seqs) and seqs[-1] == r["last_seq"]
        # Every reading either arrived or is counted lost.
        assert len(seqs) + r["dropped"] == r["last_seq"] + 1
