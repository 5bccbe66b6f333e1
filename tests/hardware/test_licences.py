"""Licences: full texts in hardware/LICENSES, and an SPDX identifier on every hardware source."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.hardware.conftest import ROOT

HARDWARE = ROOT / "hardware"
TEXTS = {
    "CERN-OHL-S-2.0": "CERN Open Hardware Licence Version 2 - Strongly Reciprocal",
    "CC-BY-SA-4.0": "Attribution-ShareAlike 4.0 International",
    "AGPL-3.0-or-later": "GNU AFFERO GENERAL PUBLIC LICENSE",
}


def test_full_licence_texts_are_shipped():
    for spdx, title in TEXTS.items():
        text = (HARDWARE / "LICENSES" / f"{spdx}.txt").read_text(encoding="utf-8")
        assert title in text.splitlines()[0] or title in text[:200]
        assert len(text) > 10_000  # the whole licence, not a summary


def _reuse_licence(relative: str) -> str | None:
    config = tomllib.loads((HARDWARE / "REUSE.toml").read_text(encoding="utf-8"))
    for annotation in config["annotations"]:
        if any(fnmatch.fnmatch(relative, pattern.replace("**", "*")) for pattern in annotation["path"]):
            return annotation["SPDX-License-Identifier"]
    return None


def test_every_hardware_source_declares_its_licence():
    seen = {}
    for path in sorted(HARDWARE.rglob("*")):
        if (
            not path.is_file()
            or "LICENSES" in path.parts
            or path.name == "REUSE.toml"
            or "__pycache__" in path.parts
        ):
            continue
        relative = path.relative_to(HARDWARE).as_posix()
        declared = _reuse_licence(relative)
        inline = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()[:5]
            if "SPDX-License-Identifier:" in line
        ]
        if inline:
            identifier = inline[0].split("SPDX-License-Identifier:")[1].split()[0]
            assert declared in (None, identifier), (
                f"{relative}: header says {identifier}, REUSE.toml says {declared}"
            )
            declared = identifier
        assert declared in TEXTS, f"{relative} has no SPDX licence"
        seen[relative] = declared
    assert seen["bom.csv"] == seen["pinout.csv"] == seen["diagrams/schematic.py"] == "CERN-OHL-S-2.0"
    assert seen["guide/fr/03-circuit.md"] == seen["guide/en/03-circuit.md"] == "CC-BY-SA-4.0"
    assert len(seen) >= 22


def test_the_guide_builder_code_is_agpl():
    for path in sorted((ROOT / "citizenwatt" / "guide").glob("*.py")):
        assert path.read_text(encoding="utf-8").startswith("# SPDX-License-Identifier: AGPL-3.0-or-later"), (
            path.name
        )
