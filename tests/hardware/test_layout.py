"""The stripboard layout against the schematic's netlist: the connections the board makes (strips
minus cuts, plus wire links, plus part pins) are exactly the netlist's, with no short and no pin
left unconnected, for 1 to 3 clamps with or without the voltage option; the schematic draws the
same netlist; the built guide shows the layout and one drawing per assembly step."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from citizenwatt.guide import stripboard
from citizenwatt.guide.bom import load_bom, load_pinout
from citizenwatt.guide.build import (
    CONFIGURATIONS,
    DiagramContext,
    GuideBuildError,
    build_guide,
    load_diagrams,
)
from citizenwatt.guide.design import design_data
from citizenwatt.i18n import LANGS
from tests.hardware.conftest import ROOT


@pytest.fixture(scope="module")
def ctx():
    return DiagramContext(
        "en",
        design_data().constants,
        load_bom(ROOT / "hardware" / "bom.csv"),
        load_pinout(ROOT / "hardware" / "pinout.csv"),
    )


@pytest.fixture(scope="module")
def diagrams():
    return load_diagrams(ROOT)


def netlist(diagrams, ctx, channels=3, voltage=True):
    return diagrams["schematic"].netlist(ctx.bom, ctx.pins, channels, voltage)


@pytest.mark.parametrize("channels,voltage", CONFIGURATIONS)
def test_the_board_makes_exactly_the_netlists_connections(diagrams, ctx, channels, voltage):
    board = diagrams["layout"].board(ctx, channels, voltage)
    nets, nc = netlist(diagrams, ctx, channels, voltage)
    assert stripboard.compare(board, nets, nc) == []
    # The same thing said directly: the groups of pins on common copper are the nets, and every
    # pin that must touch nothing is alone on its copper.
    derived = {frozenset(group) for group in board.nets()}
    expected = {frozenset(pins) for pins in nets.values()} | {frozenset([pin]) for pin in nc}
    assert derived == expected
    assert len(nets) == 2 + 2 * channels + (3 if voltage else 0)
    # The break contact of each jack goes to ground, its tip to the channel's ESP32 input.
    for k in range(1, channels + 1):
        jack = f"J{k}"
        gnd = next(g for g in derived if "H1.14" in g)
        assert f"{jack}.TN" in gnd and f"{jack}.T" not in gnd
        gpio_pin = "H1.%d" % (
            diagrams["schematic"].DEVKITC_H1.index(f"GPIO{ctx.pins[f'current_{k}'].gpio}") + 1
        )
        assert {f"{jack}.T", gpio_pin} <= next(g for g in derived if f"{jack}.T" in g)


def _without_cut(board, hole):
    return dataclasses.replace(board, cuts=board.cuts - {hole})


def test_the_check_finds_a_missing_cut_a_missing_link_and_a_misplaced_pin(diagrams, ctx):
    layout = diagrams["layout"]
    board = layout.board(ctx)
    nets, nc = netlist(diagrams, ctx)
    # Channel 1's midpoint strip is cut before the header row it shares with GPIO34 (channel 2).
    problems = stripboard.compare(_without_cut(board, (layout.BAND_CUT_COL, 4)), nets, nc)
    assert any("short between the nets IN2, MID1" in p for p in problems), problems
    # Without the link that brings channel 1's ground band to the GND pin, GND is split in two.
    links = [link for link in board.links if link.a != (layout.LINK_GND[1], 6)]
    problems = stripboard.compare(dataclasses.replace(board, links=links), nets, nc)
    assert len(links) == len(board.links) - 1
    assert problems and all("net GND is split" in p for p in problems), problems
    # J1's break contact moved onto the ring's isolated strip: GND loses it.
    parts = [
        dataclasses.replace(p, pins={**p.pins, "TN": (0, 5)}) if p.ref == "J1" else p for p in board.parts
    ]
    problems = stripboard.compare(dataclasses.replace(board, parts=parts), nets, nc)
    assert any("J1.TN" in p and "GND is split" in p for p in problems), problems
    # A ring contact left on a strip that carries a net is a short with a must-touch-nothing pin.
    problems = stripboard.compare(_without_cut(board, (1, 1)), nets, nc)
    assert any("J1.R must touch nothing" in p for p in problems), problems
    # A part the netlist does not know, and a pin in a cut hole.
    extra = stripboard.Part("R99", "resistor", {"1": (30, 25), "2": (1, 3)})
    problems = stripboard.compare(dataclasses.replace(board, parts=[*board.parts, extra]), nets, nc)
    assert "R99.1 is on the board but in no net of the schematic (nor marked not connected)." in problems
    assert any("R99.2 is in D2, a hole whose copper is cut" in p for p in problems), problems


def test_the_schematic_draws_the_netlist(diagrams, ctx):
    """What the schematic's wires join (channel 1 and the voltage option; the 3V3 arrows and
    ground symbols standing for the header's 3V3 and GND pins) is the netlist for those parts."""
    schematic = diagrams["schematic"]
    drawn = {frozenset(g) for g in schematic.drawn_nets(ctx)}
    nets, _nc = netlist(diagrams, ctx, 1, True)
    symbols = {schematic.header_pin("3V3"): "3V3", schematic.header_pin("GND"): "GND"}
    expected = {frozenset(symbols.get(pin, pin) for pin in pins) for pins in nets.values()}
    assert drawn == expected
    assert frozenset({"J1.T", "R1.1", "H1.3"}) in drawn  # the tip, the burden, GPIO36
    # The comparison is not vacuous: one pin moved to another net is seen.
    moved = {frozenset(p.replace("R7.2", "R7.1") for p in group) for group in expected}
    assert drawn != moved


@pytest.mark.parametrize("lang", LANGS)
def test_the_built_guide_has_the_layout_and_one_drawing_per_step(built, lang):
    page = (built.out_dir / lang / "soldering.html").read_text(encoding="utf-8")
    names = ["layout", "layout-1", "layout-2"] + [f"step-{s}" for s in stripboard.STEPS]
    for name in names:
        # Each drawing is a link to itself: on a phone it opens alone and can be zoomed.
        assert re.search(
            rf'<a class="cw-zoom" href="img/{name}\.svg"><img src="img/{name}\.svg" alt="[^"]+">', page
        ), name
        assert (built.out_dir / lang / "img" / f"{name}.svg").is_file()
    steps = [re.search(rf'id="fig-step-{s}"', page).start() for s in stripboard.STEPS]
    assert steps == sorted(steps)  # cuts, links, resistors, capacitors, headers, jacks, in that order
    img = built.out_dir / lang / "img"
    cuts, jacks = (img / "step-cuts.svg").read_text(), (img / "step-jacks.svg").read_text()
    new = stripboard.NEW
    assert cuts.count(new) >= 40 and ">R1<" not in cuts and ">J1<" not in cuts
    assert ">J1<" in jacks and ">TN<" in jacks and ">R1<" in jacks
    resistors = (img / "step-resistors.svg").read_text()
    assert resistors.count(f'stroke="{new}"') >= 13 and ">C1<" not in resistors  # 13 resistors, no capacitor
    legend = (img / "layout.svg").read_text()
    assert ("contact de coupure" if lang == "fr" else "break contact") in legend


def test_the_build_stops_when_the_layout_drifts_from_the_netlist(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "hardware", src / "hardware")
    layout = src / "hardware" / "diagrams" / "layout.py"
    text = layout.read_text(encoding="utf-8")
    assert "        cut_before_header(mid)\n" in text
    layout.write_text(text.replace("        cut_before_header(mid)\n", "", 1), encoding="utf-8")
    with pytest.raises(GuideBuildError, match="short between the nets IN2, MID1") as error:
        build_guide(tmp_path / "site", root=src, pdf=False)
    assert "layout.py" in str(error.value)
