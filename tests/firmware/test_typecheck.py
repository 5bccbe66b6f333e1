"""The firmware type-checks against MicroPython's ESP32 stubs (PyPI micropython-esp32-stubs,
with micropython-stdlib-stubs as its standard library), not CPython's: a call to an API the
ESP32 port lacks is an error here. mypy and the stubs come with the `test` extra."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citizenwatt.host.bundle import firmware_modules

STUB_DISTS = ("micropython-esp32-stubs", "micropython-stdlib-stubs")


def stub_tree(dest: Path) -> Path:
    """Copy the installed stub files out of site-packages (mypy refuses site-packages on
    its search path) into dest, keeping their layout (stdlib/ is the typeshed root)."""
    for name in STUB_DISTS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is missing: pip install -e '.[test]' installs it")
        for f in dist.files or []:
            if f.suffix == ".pyi" or f.name == "VERSIONS":
                target = dest / str(f)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(dist.locate_file(f), target)
    return dest


def mypy(tmp_path: Path, modules: list[Path], extra: dict[str, str] | None = None) -> list[str]:
    stubs = stub_tree(tmp_path / "stubs")
    src = tmp_path / "src" / "citizenwatt" / "firmware"
    src.mkdir(parents=True)
    (src.parent / "__init__.py").write_text("")
    for m in modules:
        shutil.copy(m, src / m.name)
    for name, text in (extra or {}).items():
        (src / name).write_text(text)
    env_path = ":".join([str(tmp_path / "src"), str(stubs)])
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--custom-typeshed-dir", str(stubs), "--no-site-packages",
         "--python-version", "3.11", "--check-untyped-defs", "--no-incremental",
         "-p", "citizenwatt.firmware"],
        capture_output=True, text=True, cwd=tmp_path, env={"MYPYPATH": env_path, "PATH": ""})
    assert "error: " in proc.stdout or proc.returncode == 0, proc.stdout + proc.stderr
    # The stubs have a few errors of their own; only the firmware's lines count.
    return [ln for ln in proc.stdout.splitlines() if ln.startswith("src/")]


def test_firmware_typechecks_against_esp32_stubs(tmp_path):
    assert mypy(tmp_path, firmware_modules()) == []


def test_the_check_catches_an_esp32_api_mistake(tmp_path):
    """The same run flags code the ESP32 port would reject (no read_mv on its ADC, no
    time.monotonic in MicroPython): the check is not vacuous."""
    bad = ("import machine\nimport time\n\n\ndef f():\n"
           "    machine.ADC(machine.Pin(32)).read_mv()\n    time.monotonic()\n")
    errors = mypy(tmp_path, firmware_modules(), {"bad.py": bad})
    assert any("bad.py:6" in e and "read_mv" in e for e in errors), errors
    assert any("bad.py:7" in e and "monotonic" in e for e in errors), errors
