"""Energy counters, checkpoints under power cuts and the flash queue, on CPython and on the
real MicroPython VM (the same check code, tests/firmware/fw_checks.py, runs on both)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests.firmware import vm

HERE = Path(__file__).parent


def cpython_checks():
    """Import fw_checks with the firmware package visible as `fw`, as on the VM."""
    import citizenwatt.firmware as fw

    sys.modules.setdefault("fw", fw)
    for name in ("energy", "outbox"):
        sys.modules.setdefault("fw." + name, importlib.import_module("citizenwatt.firmware." + name))
    sys.path.insert(0, str(HERE))
    try:
        import fw_checks
    finally:
        sys.path.remove(str(HERE))
    return fw_checks


def vm_checks(tmp_path, names) -> dict:
    code = f"import fw_checks\nfw_checks.main({list(names)!r})\n"
    out = vm.run(tmp_path, code, {"fw_checks.py": (HERE / "fw_checks.py").read_text()},
                 timeout_s=240)
    return {r["check"]: r for r in out}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    checks = cpython_checks()
    cp = {name: getattr(checks, name)() for name in checks.CHECKS}
    on_vm = vm_checks(tmp_path_factory.mktemp("vm"), checks.CHECKS)
    return {"cpython": cp, "vm": on_vm}


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_power_cut_at_every_step_of_a_checkpoint(results, where):
    r = results[where]["power_cut_checkpoint"]
    assert r["steps"] > 100                 # every byte of three writes was a cut point
    assert r["cuts"] == r["steps"]
    assert r["bad"] == []                   # never backwards, never forwards
    # A write counts once its last byte is on flash: before that, the previous checkpoint.
    assert r["outcomes"]["old"] + r["outcomes"]["new"] == r["steps"] + 1


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_integrator(results, where):
    r = results[where]["integrator"]
    assert r["one_hour"] == [1_000_000, 0]  # mWh: exactly 1 kWh
    assert r["ramp"] == 1_800_000           # trapezoid: exact on a ramp
    assert r["never_down"]
    assert 4999 <= r["tiny"] <= 5000        # 0.5 W x 10 h, carried below 1 mWh
    assert r["policy"] == [False, False, True, True, False]


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_outbox_drops_oldest_and_replays_in_order(results, where):
    r = results[where]["outbox_fifo"]
    assert r["queued"] >= 300 and r["queued"] < 300 + 64
    assert r["dropped"] == 500 - r["queued"]
    assert r["after_boot"] == r["queued"]
    assert r["replayed"] == r["queued"] and r["in_order"]
    assert r["first_seq"] == r["dropped"] and r["last_seq"] == 499
    # Original fields survive the flash round trip (f32 rounding on the means).
    first = r["first"]
    s = r["first_seq"]
    assert first[:5] == [3, s, 1790000000 + s * 10, s * 10000, 10.0]
    ch0, ch1 = first[5]
    assert ch0[0] == 0 and ch0[1] == 1000 + s and ch0[2] == pytest.approx(412.5)
    assert ch0[4] == pytest.approx(231.2, abs=1e-4) and ch0[5] == pytest.approx(0.95)
    assert ch1[4] is None and ch1[5] is None
    assert r["rec_bytes"] == 73            # 25-byte header + 2 channels x 24 bytes
    assert r["left"] == 0


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_outbox_survives_power_cuts(results, where):
    r = results[where]["outbox_power_cut"]
    assert r["n_after_cut"] == 50           # the torn record is dropped, the rest kept
    assert r["in_order"]
    # Replay resumes at the last persisted cursor: at most 16 duplicates, nothing lost.
    assert 23 - 16 <= r["replayed_first"] <= 23
    assert r["replayed_last"] == 59
    assert r["last_seq"] == 59


def test_same_results_on_cpython_and_vm(results):
    for name in ("power_cut_checkpoint", "integrator", "outbox_power_cut"):
        on_vm = dict(results["vm"][name])
        on_vm.pop("check")
        assert results["cpython"][name] == on_vm


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_outbox_on_a_full_flash_drops_oldest_without_an_error(results, where):
    r = results[where]["outbox_flash_full"]
    assert r["errors"] == 0                 # the meter loop never sees ENOSPC
    assert r["queued"] + r["dropped"] == 300  # every reading queued or counted lost
    assert r["queued"] >= 50                # the flash keeps serving as a queue
    assert r["after_boot"] == r["queued"]   # the torn record left behind is not counted
    assert r["seqs"] == list(range(r["dropped"], 300))  # the newest kept, in order
