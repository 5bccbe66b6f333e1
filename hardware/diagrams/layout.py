# SPDX-FileCopyrightText: Citizen Watt contributors
# SPDX-License-Identifier: CERN-OHL-S-2.0
"""The stripboard, hole by hole: where each part goes, which tracks to cut, which wire links to
solder, for 1 to 3 clamps with or without the voltage option; and one drawing per assembly step.

Copper strips run along the rows. Each channel is a band of seven rows on the left: its jack on
the board's edge, then its burden, bias divider and capacitor standing across the strips; the
ESP32 sits on the female headers H1 and H2 on the right. `board()` gives the layout as data
(citizenwatt.guide.stripboard), which the tests and the guide build check against the
schematic's netlist (schematic.py).
"""

import importlib.util
from pathlib import Path

from citizenwatt.guide import stripboard
from citizenwatt.guide.stripboard import Board, Link, Part
from citizenwatt.i18n import N_, _, ngettext

COLS, ROWS = 38, 29
H1_COL, H2_COL = 25, 35  # the DevKitC's rows are ten holes apart
SPLIT_COL = 30  # under the module: cuts every header row between H1 and H2
BAND_CUT_COL = 18  # where a band's strips stop before the header's own rows
BAND_ROWS = 7
VOLTAGE_TOP = 21
# Wire links that bring a band's 3V3, GND and input to the header rows (column of each link).
LINK_3V3 = {2: 15, 3: 16}
LINK_GND = {1: 13, 3: 14}
LINK_IN = {2: 19}  # to a header row cut at BAND_CUT_COL: the link lands right of the cut
LINK_IN_LEFT = {3: 17}  # to a header row that is not cut: the link stays in the band's columns


def _schematic():
    spec = importlib.util.spec_from_file_location(
        "citizenwatt_diagram_schematic", Path(__file__).with_name("schematic.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def board(ctx, channels: int = 3, voltage: bool = True) -> Board:
    sch = _schematic()
    row_of = {name: index for index, name in enumerate(sch.DEVKITC_H1)}  # header pin -> row
    b = Board(COLS, ROWS)
    b.parts.append(Part("H1", "header", {str(n + 1): (H1_COL, n) for n in range(19)}))
    b.parts.append(Part("H2", "header", {str(n + 1): (H2_COL, n) for n in range(19)}))
    b.cuts |= {(SPLIT_COL, n) for n in range(19)}
    b.outlines = [((H1_COL, -1), (H2_COL, 21), _("U1 (ESP32), USB down"))]
    b.pin_labels = {f"H1.{n + 1}": name for n, name in enumerate(sch.DEVKITC_H1)}

    def cut_before_header(row: int) -> None:
        if row < 19:
            b.cuts.add((BAND_CUT_COL, row))

    for k in range(1, channels + 1):
        pin = ctx.pins[f"current_{k}"]
        p = sch.roles(ctx.bom, pin.parts)
        t = (k - 1) * BAND_ROWS
        supply, tip, mid, gnd = t, t + 2, t + 4, t + 6
        b.parts.append(
            Part(
                p["jack"],
                "jack",
                {"R": (0, t + 1), "T": (0, tip), "RN": (0, t + 3), "S": (0, mid), "TN": (0, gnd)},
            )
        )
        b.cuts |= {(1, t + 1), (1, t + 3)}  # the ring's contacts touch nothing
        b.parts.append(Part(p["burden"], "resistor", {"1": (2, tip), "2": (2, mid)}, ctx.const("burden_ohm")))
        b.parts.append(
            Part(p["bias_top"], "resistor", {"1": (5, supply), "2": (5, mid)}, ctx.const("bias_r_top_ohm"))
        )
        b.parts.append(
            Part(p["bias_bottom"], "resistor", {"1": (8, mid), "2": (8, gnd)}, ctx.const("bias_r_bottom_ohm"))
        )
        b.parts.append(
            Part(p["bias_c"], "capacitor", {"+": (11, mid), "-": (11, gnd)}, ctx.const("bias_c_uf"))
        )
        cut_before_header(mid)
        if supply != row_of["3V3"]:
            cut_before_header(supply)
            b.links.append(Link((LINK_3V3[k], supply), (LINK_3V3[k], row_of["3V3"])))
        if gnd != row_of["GND"]:
            cut_before_header(gnd)
            b.links.append(Link((LINK_GND[k], gnd), (LINK_GND[k], row_of["GND"])))
        gpio_row = row_of[f"GPIO{pin.gpio}"]
        if tip != gpio_row:
            if k in LINK_IN:
                b.links.append(Link((LINK_IN[k], tip), (LINK_IN[k], gpio_row)))
                b.cuts.add((LINK_IN[k] + 1, tip))
            else:
                b.links.append(Link((LINK_IN_LEFT[k], tip), (LINK_IN_LEFT[k], gpio_row)))
                cut_before_header(tip)
    if voltage:
        pin = ctx.pins["voltage"]
        p = sch.roles(ctx.bom, pin.parts)
        t = VOLTAGE_TOP
        supply, vin, vsig, vmid, gnd = t, t + 1, t + 3, t + 5, t + 7
        b.parts += [
            Part(p["jack"], "jack", {"P": (0, vin), "SW": (0, t + 2), "S": (0, gnd)}, option=True),
            Part(
                p["div_top"], "resistor", {"1": (2, vin), "2": (2, vsig)}, ctx.const("vdiv_r_top_ohm"), True
            ),
            Part(
                p["div_bottom"],
                "resistor",
                {"1": (5, vsig), "2": (5, vmid)},
                ctx.const("vdiv_r_bottom_ohm"),
                True,
            ),
            Part(
                p["bias_top"],
                "resistor",
                {"1": (8, supply), "2": (8, vmid)},
                ctx.const("bias_r_top_ohm"),
                True,
            ),
            Part(
                p["bias_bottom"],
                "resistor",
                {"1": (11, vmid), "2": (11, gnd)},
                ctx.const("bias_r_bottom_ohm"),
                True,
            ),
            Part(p["bias_c"], "capacitor", {"+": (14, vmid), "-": (14, gnd)}, ctx.const("bias_c_uf"), True),
        ]
        b.option_cuts = {(1, t + 2)}
        b.cuts |= b.option_cuts
        b.links += [
            Link((21, supply), (21, row_of["3V3"]), True),
            Link((22, vsig), (22, row_of[f"GPIO{pin.gpio}"]), True),
            Link((19, gnd), (19, row_of["GND"]), True),
        ]
    return b


def check(ctx, channels: int = 3, voltage: bool = True) -> list[str]:
    """Where the layout differs from the schematic's netlist (nothing when they agree)."""
    nets, nc = _schematic().netlist(ctx.bom, ctx.pins, channels, voltage)
    return stripboard.compare(board(ctx, channels, voltage), nets, nc)


def legend() -> list[str]:
    return [
        _(
            "Component side; the copper strips run along the rows, seen through. "
            "Holes: row letter, column number."
        ),
        _("Red cross: cut the strip at that hole (on the copper side). Grey wire: a wire link."),
        _(
            "Jacks: T tip, TN tip break contact (touches T with no plug: to GND), "
            "S sleeve, R/RN ring (unused)."
        ),
        _("Dashed: the voltage option (J4, R10 to R13, C4 and their three links)."),
    ]


STEP_TITLES = {
    "cuts": N_("Step 1: cut the tracks"),
    "links": N_("Step 2: the wire links"),
    "resistors": N_("Step 3: the resistors"),
    "capacitors": N_("Step 4: the capacitors (mind the + side)"),
    "headers": N_("Step 5: the ESP32's female headers"),
    "jacks": N_("Step 6: the jacks"),
}


def draw(ctx):
    return stripboard.draw(
        board(ctx), _("Stripboard layout, hole by hole (3 clamps and the voltage option)"), legend=legend()
    )


def figures(ctx):
    """The other drawings: the layout for 1 and 2 clamps, and one drawing per assembly step."""
    out = {}
    for channels in (1, 2):
        title = ngettext(
            "Stripboard layout for {n} clamp, without the voltage option",
            "Stripboard layout for {n} clamps, without the voltage option",
            channels,
        )
        out[f"layout-{channels}"] = stripboard.draw(board(ctx, channels, False), title, legend=legend()[:3])
    full = board(ctx)
    for step in stripboard.STEPS:
        title = _(STEP_TITLES[step])
        note = _("In orange: what this step adds.")
        out[f"step-{step}"] = stripboard.draw(full, title, upto=step, legend=[title, note])
    return out
