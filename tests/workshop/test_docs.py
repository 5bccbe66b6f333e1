"""docs/workshop.md against the code it describes: the pin map and the options it names."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer

from citizenwatt.cli import app
from citizenwatt.firmware.config import CURRENT_PINS, VOLTAGE_PIN

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workshop.md").read_text()


def test_pins_are_the_firmwares():
    m = re.search(r"Clamps on GPIO ([\d, ]+) \(channels 0-(\d)\), AC-AC adapter on GPIO (\d+)", DOC)
    assert m, "docs/workshop.md lost its Pins sentence"
    assert tuple(int(p) for p in m.group(1).split(",")) == CURRENT_PINS
    assert int(m.group(2)) == len(CURRENT_PINS) - 1 and int(m.group(3)) == VOLTAGE_PIN


def _options(command: click.Command) -> set[str]:
    out = {o for p in command.params for o in getattr(p, "opts", ()) + getattr(p, "secondary_opts", ())}
    for sub in getattr(command, "commands", {}).values():
        out |= _options(sub)
    return out


def test_every_option_the_doc_names_exists():
    known = _options(typer.main.get_command(app))
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", DOC))
    assert {"--bundle", "--channel-role", "--links-csv", "--public-url"} <= named
    assert named - known == set()
    assert re.search(r"`flash \[PORT\] \[--bundle DIR\]`", DOC)  # optional: flash builds it
