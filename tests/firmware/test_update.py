"""Updates over Wi-Fi, the pure parts (firmware/update.py): which slot a boot runs, when a
trial version is kept or rolled back, which commands start a download, and the archive
installer on an in-memory flash. The same cases on CPython and on the MicroPython VM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from citizenwatt.firmware import update
from tests.firmware import vm
from tests.firmware.test_energy_outbox import cpython_checks

HERE = Path(__file__).parent


def cpython_cases() -> dict:
    cpython_checks()  # the `fw` alias, as on the VM
    sys.modules.setdefault("fw.update", update)
    sys.modules.setdefault("fw.ed25519", __import__("citizenwatt.firmware.ed25519").firmware.ed25519)
    sys.path.insert(0, str(HERE))
    try:
        import update_cases
    finally:
        sys.path.remove(str(HERE))
    return update_cases.run()


def test_update_decisions_on_cpython_and_the_vm(tmp_path):
    cp = json.loads(json.dumps(cpython_cases()))
    code = "import update_cases\nr = update_cases.run()\nprint(json.dumps(r))\n"
    on_vm = vm.run(tmp_path, code, {"update_cases.py": (HERE / "update_cases.py").read_text()},
                   timeout_s=120)[-1]
    assert on_vm == cp
    assert cp["installed"] == ["b", "2.0", "trial"]
    # Two boots of the trial version that never come on line, then the old one again.
    assert cp["crash_twice"] == [["b", "a", "b", 1, "trial"], ["b", "a", "b", 2, "trial"],
                                 ["a", "a", None, 0, "rolled_back"], ["a", "a", None, 0, "rolled_back"]]
    assert cp["crash_twice_failed"] == "2.0"
    # On line at the first boot: it becomes the active slot, and stays after a crash.
    assert cp["online_at_once"] == [["b", "b", None, 0, "updated"], ["b", "b", None, 0, "updated"]]
    assert cp["online_second"][-1] == ["b", "b", None, 0, "updated"]
    # From the workshop's /lib copy (no slot yet): a rollback returns to it (None).
    assert cp["factory_first"][-1][:3] == [None, None, None]
    # The trial window passed (boot.py's timer): the next boot rolls back.
    assert cp["hung"] == ["a", "rolled_back"]
    assert cp["expire_idle"] is None and cp["confirm_idle"] is None
    assert cp["parse"] == [True] + [False] * 8
    assert cp["parse_junk"] == [None, None]
    # Not the running version, not one already refused or rolled back (a download cut
    # short may be tried again), not during a trial.
    assert cp["wanted"] == [True, False, False, True, False]
    assert cp["status"] == [{"update": "idle"}, {"update": "trial", "update_to": "2.0"},
                            {"update": "refused", "update_to": "2.0", "update_error": "bad_hash"},
                            {"update": "rolled_back", "update_to": "2.0"}]
    files = ["/data/ota/b/citizenwatt/__init__.mpy", "/data/ota/b/citizenwatt/firmware/empty.mpy",
             "/data/ota/b/citizenwatt/firmware/meter.mpy"]
    for whole in cp["whole"]:   # fed 1, 100 and 4096 bytes at a time
        assert whole == [True, None, files, [10, 0, 2304]]
    assert cp["corrupt"][:3] == [True, "bad_hash", []]
    assert cp["short"][:3] == [True, "bad_size", []]
    assert cp["long"][:3] == [False, "bad_size", []]
    for hostile in ("traversal", "absolute", "not_archive"):
        assert cp[hostile][:3] == [False, "bad_archive", []], hostile
