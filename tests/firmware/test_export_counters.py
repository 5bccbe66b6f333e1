"""Both directions in the firmware (solar export), on CPython and on the real MicroPython VM:
the same check code (tests/firmware/fw_export_checks.py) runs on both."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests.firmware import vm
from tests.firmware.test_energy_outbox import cpython_checks

HERE = Path(__file__).parent


def cpython_export_checks():
    cpython_checks()  # installs the `fw` alias
    for name in ("config", "wire", "meter", "measure", "calib", "hass", "energy", "outbox"):
        sys.modules.setdefault("fw." + name, importlib.import_module("citizenwatt.firmware." + name))
    sys.path.insert(0, str(HERE))
    try:
        import fw_export_checks
    finally:
        sys.path.remove(str(HERE))
    return fw_export_checks


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    checks = cpython_export_checks()
    cp = {name: getattr(checks, name)() for name in checks.CHECKS}
    code = f"import fw_export_checks\nfw_export_checks.main({list(checks.CHECKS)!r})\n"
    out = vm.run(tmp_path_factory.mktemp("vm"), code,
                 {"fw_export_checks.py": (HERE / "fw_export_checks.py").read_text(),
                  "vm_meter.py": (HERE / "vm_meter.py").read_text()}, timeout_s=300)
    return {"cpython": cp, "vm": {r.pop("check"): r for r in out}}


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_integrator_counts_both_directions(results, where):
    r = results[where]["integrator_both_ways"]
    # 1 kW out for an hour: exactly 1 kWh exported on the bidirectional channel; nothing
    # at all on the consumption-only one.
    assert r["steady"] == [[0, 0], [1_000_000, 0]]
    assert r["crossing"] == [250_000, 250_000]
    assert r["down"] == 0
    assert r["imported"] > 100_000 and r["exported"] > 100_000
    # import - export equals the trapezoid of the signed power, to the carried mWh
    assert abs(r["net_counted"] - r["net_true"]) <= 2
    assert r["raised"] == [100, 300]


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_meter_publishes_and_keeps_the_export_counter(results, where):
    r = results[where]["meter_exporting"]
    rows = r["rows"]
    assert len(rows) >= 8
    assert all(row[0] == 2 for row in rows)  # wire version 2
    # [v, boot, interval_s, ch0 power, ch0 energy, ch0 export, ch1 has export, ch1 power, ch1 energy]
    exporting = [row for row in rows if row[1] == 1 and row[2] == 10]
    importing = [row for row in rows if row[1] == 2 and row[2] == 10]
    assert exporting and importing
    for row in exporting:
        # 10 A out at 230 V, pf 0.878: -2019 W net
        assert row[3] == pytest.approx(-2300 * 0.8776, rel=0.01)
        assert row[7] == 0.0 and row[8] == 0.0   # the reversed sub clamp counts nothing
        assert row[6] is False                   # and has no export counter on the wire
    for row in importing:
        assert row[3] == pytest.approx(1150 * 0.8776, rel=0.01)
    exports = [row[5] for row in rows]
    imports = [row[4] for row in rows]
    assert exports == sorted(exports) and imports == sorted(imports)  # never decreasing
    # exported over the first run: 2019 W for about a minute; nothing in the second
    assert exports[len([x for x in rows if x[1] == 1]) - 1] == pytest.approx(2019 * 55 / 3600,
                                                                               rel=0.15)
    assert exports[-1] == exports[len([x for x in rows if x[1] == 1]) - 1]
    # no fault on the bidirectional channel; "reversed" on the consumption-only one
    assert r["faults"] == [None, "reversed"]
    # checkpointed at the clean stop and taken up at the next boot
    assert r["state_xmwh"][0] == round(exports[len([x for x in rows if x[1] == 1]) - 1] * 1000)
    assert r["export_mwh"][0] == r["state_xmwh"][0]
    assert r["mwh"][0] > r["state_mwh"][0]


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_old_checkpoints_and_queued_records_still_load(results, where):
    r = results[where]["old_checkpoint_and_records"]
    assert r["boot"] == 7
    assert r["mwh"] == [123456, 789]   # exporting: nothing imported, the counter goes on
    assert r["export_mwh"][0] > 0 and r["export_mwh"][1] == 0
    assert r["old_record"] == [[0, 55, 1.5, pytest.approx(0.1), pytest.approx(230.0), 0.5, None]]
    assert r["new_record"][0][6] == 77 and r["new_record"][1][6] is None
    assert r["sizes"][1] == r["sizes"][0] + 24 + 8  # one more channel, one export counter


def test_same_results_on_cpython_and_vm(results):
    for name in ("integrator_both_ways", "old_checkpoint_and_records"):
        assert results["cpython"][name] == results["vm"][name]
