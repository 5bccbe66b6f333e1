"""The house plan: every module is where its name says.

For a top-level code folder X of the repository, `citizenwatt.X.Y` is the file `X/Y.py`;
the binding modules (`citizenwatt.cli`, `config`, `i18n`, `errors`, `demo`...) are the files
under citizenwatt/, which holds no sub-package of its own.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import citizenwatt

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def installed_modules() -> dict[str, Path]:
    """Every module importable under citizenwatt, walking each installed package's path."""
    found: dict[str, Path] = {}
    infos = list(pkgutil.iter_modules(citizenwatt.__path__, "citizenwatt."))
    for package in PACKAGE_DIR:  # the editable install maps these; iter_modules cannot see them
        if package != "citizenwatt":
            sub = importlib.import_module(package)
            infos.append(pkgutil.ModuleInfo(None, package, True))  # type: ignore[arg-type]
            infos.extend(pkgutil.walk_packages(sub.__path__, package + "."))
    for info in infos:
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin, info.name
        found[info.name] = Path(spec.origin).resolve()
    return found


def expected_file(module: str) -> Path:
    parts = module.split(".")
    if len(parts) == 2:
        top = f"citizenwatt.{parts[1]}"
        if top in PACKAGE_DIR:  # a top-level folder: its __init__.py
            return ROOT / PACKAGE_DIR[top] / "__init__.py"
        return ROOT / "citizenwatt" / f"{parts[1]}.py"
    folder = ROOT / PACKAGE_DIR[".".join(parts[:2])]
    *inner, name = parts[2:]
    target = folder.joinpath(*inner, name)
    return target / "__init__.py" if target.is_dir() else target.with_suffix(".py")


def test_every_module_is_the_file_its_name_says() -> None:
    modules = installed_modules()
    assert len(modules) > 60  # the walk really found the project
    misplaced = {m: str(f.relative_to(ROOT)) for m, f in modules.items() if f != expected_file(m)}
    assert misplaced == {}


def test_each_top_level_code_folder_installs_as_citizenwatt_folder() -> None:
    code_folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "citizenwatt"}
    assert code_folders, "no code folder found at the top of the repository"
    for folder in sorted(code_folders):
        assert PACKAGE_DIR.get(f"citizenwatt.{folder}") == folder, folder
    # and nothing else: each mapping is a top-level folder of the same name
    for package, folder in PACKAGE_DIR.items():
        assert package == "citizenwatt" or package == f"citizenwatt.{folder}", package


def test_citizenwatt_holds_only_the_binding_modules() -> None:
    sub_packages = [p.parent.name for p in (ROOT / "citizenwatt").glob("*/__init__.py")]
    assert sub_packages == []
    assert (ROOT / "citizenwatt" / "cli.py").is_file()
    assert (ROOT / "citizenwatt" / "config.py").is_file()
