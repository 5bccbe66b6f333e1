"""The crash-loop guard: its decisions (firmware/safemode.py) on CPython and on the
MicroPython VM, then device.main() itself on CPython over a run of boots, with stand-ins
for machine/network/ntptime and the real Meter on a fake `hw` that crashes."""

from __future__ import annotations

import importlib
import json
import os
import sys
import types
from pathlib import Path

import pytest

from citizenwatt.firmware import safemode
from tests.firmware import vm
from tests.firmware.test_energy_outbox import cpython_checks

HERE = Path(__file__).parent
MIN = 60000


def cpython_cases():
    cpython_checks()  # the `fw` alias, as on the VM
    sys.modules.setdefault("fw.safemode", safemode)
    sys.path.insert(0, str(HERE))
    try:
        import safemode_cases
    finally:
        sys.path.remove(str(HERE))
    return safemode_cases.run()


def test_decisions_on_cpython_and_the_micropython_vm(tmp_path):
    cp = json.loads(json.dumps(cpython_cases()))
    code = "import safemode_cases\nr = safemode_cases.run()\nprint(json.dumps(r))\n"
    on_vm = vm.run(tmp_path, code, {"safemode_cases.py": (HERE / "safemode_cases.py").read_text()},
                   timeout_s=60)[-1]
    assert on_vm == cp
    run, safe = safemode.RUN, safemode.SAFE
    assert cp["at_boot"] == [[run, None, None]] * 3 + [
        [safe, "3 démarrages interrompus de suite", 2],
        [safe, "4 démarrages interrompus de suite", 2],
        [safe, "9 démarrages interrompus de suite", 2]]
    assert cp["at_boot_config"] == [safe, "config.json invalide", None]
    assert cp["count_boot"] == [1, 3, 8]
    assert cp["is_stable"] == [False, False, True]          # 10 minutes exactly
    assert cp["at_checkpoint"] == [2, 0, 0]
    # Three unfinished boots, safe mode, one more try (count 2 -> 3), safe mode again...
    assert cp["crash_loop"] == [["crash", 1], ["crash", 2], ["crash", 3], ["safe", 2],
                                ["crash", 3], ["safe", 2], ["crash", 3], ["safe", 2],
                                ["crash", 3]]
    # A boot that ran past 10 minutes clears the count: the next crashes start from zero.
    assert cp["stable_then_crash"] == [["crash", 1], ["crash", 2], ["crash", 0], ["crash", 1],
                                       ["crash", 2], ["crash", 3]]
    # Power cuts at 9 minutes count (limit 2); after the retry a clean stop clears it.
    assert cp["power_cuts_then_clean"] == [["crash", 1], ["crash", 2], ["safe", 1],
                                           ["clean", 0], ["crash", 1]]
    assert [e[0] for e in cp["limit_5"]] == ["crash"] * 5 + ["safe", "crash", "safe", "crash"]


# --- device.main() over a run of boots ------------------------------------------------------

class Reset(BaseException):
    """machine.reset(): the board reboots; the test calls device.main() again."""


class Board:
    """What the ESP32 keeps between boots here: the flash folder and the hardware log."""

    def __init__(self, root: Path):
        self.root = root
        self.wdts: list[int] = []
        self.timers: list[tuple[int, object]] = []
        self.resets = 0
        self.crash_at_ms: int | None = None  # the next boot's meter crashes at this uptime

    def modules(self) -> dict[str, types.ModuleType]:
        board = self
        machine = types.ModuleType("machine")

        class WDT:
            def __init__(self, timeout):
                board.wdts.append(timeout)

            def feed(self):
                pass

        class Timer:
            ONE_SHOT = 0

            def __init__(self, n):
                pass

            def init(self, mode, period, callback):
                board.timers.append((period, callback))

        def reset():
            board.resets += 1
            raise Reset()

        machine.WDT, machine.Timer, machine.reset = WDT, Timer, reset
        network = types.ModuleType("network")
        network.STA_IF, network.STAT_CONNECTING = 0, 1
        network.WLAN = lambda *a: None
        ntptime = types.ModuleType("ntptime")
        return {"machine": machine, "network": network, "ntptime": ntptime}


@pytest.fixture
def device(tmp_path, monkeypatch):
    """citizenwatt.firmware.device imported over stand-in ESP32 modules, its flash paths in
    tmp_path, and a Device that is vm_meter's fake hw on that flash, crashing on demand."""
    board = Board(tmp_path)
    for name, mod in board.modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    sys.modules.pop("citizenwatt.firmware.device", None)
    dev = importlib.import_module("citizenwatt.firmware.device")
    from tests.firmware.test_meter_vm import cpython_run_setup
    cpython_run_setup()
    import vm_meter

    data = str(tmp_path / "data")
    monkeypatch.setattr(dev, "DATA", data)
    monkeypatch.setattr(dev, "CRASH_LOG", data + "/crash.txt")
    monkeypatch.setattr(dev, "CONFIG_PATH", str(tmp_path / "config.json"))
    monkeypatch.setattr(dev, "time", types.SimpleNamespace(sleep=lambda s: None,
                                                           time=lambda: 1790000000))

    class CrashingHW(vm_meter.FakeHW):
        def __init__(self, cfg, wdt):
            super().__init__()
            self.root, self.opener, self.fs = data, open, os
            self.stop_at_us = 10 ** 15
            self.crash_at_us = board.crash_at_ms * 1000

        def sleep_ms(self, ms):
            super().sleep_ms(ms)
            if self.now_us >= self.crash_at_us:
                raise RuntimeError(f"panne simulée à {self.now_us // 1000000} s")

    monkeypatch.setattr(dev, "Device", CrashingHW)
    (tmp_path / "config.json").write_text(json.dumps(
        {"meter_id": "boucle", "mqtt_host": "broker", "interval_s": 10, "measure_period_s": 5,
         "cycles": 2, "sample_rate_hz": 1000, "safe_mode_strikes": 3, "wdt_s": 30,
         "channels": [{"id": 0, "pin": 36}, {"id": 1, "pin": 34}], "voltage": {"pin": 39}}))
    yield dev, board
    sys.modules.pop("citizenwatt.firmware.device", None)


def boot(dev, board, crash_at_ms=None):
    """One power-up: device.main() until it resets the board (True) or returns (False)."""
    board.crash_at_ms = crash_at_ms
    try:
        dev.main()
    except Reset:
        return True
    return False


def stored(dev) -> dict:
    return dev._store().load() or {}


def test_device_main_enters_and_leaves_safe_mode(device, capsys):
    dev, board = device
    for n in (1, 2, 3):  # three crashes 30 s after boot: each counted, each logged
        assert boot(dev, board, 30_000)
        assert stored(dev)["strikes"] == n and len(board.wdts) == n
    crashes = (board.root / "data" / "crash.txt").read_text().splitlines()
    assert len(crashes) == 3 and "panne simulée à 30 s" in crashes[0]
    # 30 s of a 2 kW load is under the checkpoint policy's 20 Wh and 2 minutes: not saved.
    assert stored(dev)["mwh"] == [0, 0]

    # Fourth power-up: safe mode; no watchdog, no meter, the REPL free, a retry timer.
    assert not boot(dev, board, 30_000)
    out = capsys.readouterr().out
    assert "mode sans échec (3 démarrages interrompus de suite)" in out
    assert "device.leave_safe_mode()" in out
    assert len(board.wdts) == 3 and len(board.timers) == 1
    period, retry = board.timers[-1]
    assert period == safemode.SAFE_MODE_RETRY_MS == 10 * MIN
    with pytest.raises(Reset):
        retry(None)                             # ten minutes later
    assert stored(dev)["strikes"] == 2          # one more try...
    assert boot(dev, board, 30_000)             # ...which crashes again
    assert stored(dev)["strikes"] == 3
    assert not boot(dev, board)                 # straight back to safe mode
    with pytest.raises(Reset):
        board.timers[-1][1](None)

    # This time the meter runs 11 minutes before crashing: stable at 10, strikes cleared.
    assert boot(dev, board, 11 * MIN)
    st = stored(dev)
    assert st["strikes"] == 0
    # Saved with it: 10 minutes of 10 A at 230 V, pf 0.878 (2,019 W) = 336 Wh.
    assert st["mwh"][0] == pytest.approx(2019 * 600 / 3.6, rel=0.02)
    assert boot(dev, board, 30_000) and stored(dev)["strikes"] == 1  # runs, not safe mode
    assert board.wdts[-1] == 30_000             # wdt_s from config.json, in ms

    # At the REPL the workshop tool clears the count and restarts.
    with pytest.raises(Reset):
        dev.leave_safe_mode()
    assert stored(dev)["strikes"] == 0


def test_bad_config_starts_safe_mode_with_the_sentence_to_fix_it(device, capsys):
    dev, board = device
    (board.root / "config.json").write_text(json.dumps({"meter_id": "Boucle 1",
                                                        "mqtt_host": "broker"}))
    assert not boot(dev, board, 30_000)
    out = capsys.readouterr().out
    assert "mode sans échec (meter_id 'Boucle 1' invalide" in out
    assert board.wdts == [] and len(board.timers) == 1
    with pytest.raises(Reset):
        board.timers[-1][1](None)
    assert stored(dev).get("strikes", 0) == 0   # a bad file is not a crash
