"""Lay out the package as it installs (pyproject's package-dir) with symlinks in a folder.

import-linter and mypy read packages from a folder; the editable install maps each top-level
code folder into `citizenwatt.*` with an import hook they do not run. Usage: pkgtree.py DEST
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(dest: Path) -> None:
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    top = dest / "citizenwatt"
    top.mkdir(parents=True, exist_ok=True)
    for f in (ROOT / mapping["citizenwatt"]).glob("*.py"):
        (top / f.name).symlink_to(f)
    for package, folder in mapping.items():
        if package.count(".") == 1:
            (top / package.split(".")[1]).symlink_to(ROOT / folder, target_is_directory=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
