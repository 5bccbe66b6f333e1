# SPDX-FileCopyrightText: Citizen Watt contributors
# SPDX-License-Identifier: CERN-OHL-S-2.0
"""Schematic of one current channel and of the optional voltage channel (schemdraw), and the
board's netlist as data: `netlist()` lists which part pins each net joins, for 1 to 3 channels
with or without the voltage option. The stripboard layout (layout.py) is checked against it, and
so is this drawing (`drawn_nets()`: the connections the schematic draws, read back from it).

The other two current channels are copies of channel 1 (J2/J3, R2/R3, R5/R6, R8/R9, C2/C3).
Values come from the design calculator through ctx.const(), pins from hardware/pinout.csv.
"""

import schemdraw
import schemdraw.elements as elm

from citizenwatt.i18n import _

# The ESP32-DevKitC's two 19-pin rows, pin 1 first (antenna end), as printed beside its pins.
DEVKITC_H1 = (
    "3V3",
    "EN",
    "GPIO36",
    "GPIO39",
    "GPIO34",
    "GPIO35",
    "GPIO32",
    "GPIO33",
    "GPIO25",
    "GPIO26",
    "GPIO27",
    "GPIO14",
    "GPIO12",
    "GND",
    "GPIO13",
    "GPIO9",
    "GPIO10",
    "GPIO11",
    "5V",
)
DEVKITC_H2 = (
    "GND",
    "GPIO23",
    "GPIO22",
    "TX",
    "RX",
    "GPIO21",
    "GND",
    "GPIO19",
    "GPIO18",
    "GPIO5",
    "GPIO17",
    "GPIO16",
    "GPIO4",
    "GPIO0",
    "GPIO2",
    "GPIO15",
    "SD1",
    "SD0",
    "CLK",
)
# A switched 3.5 mm stereo jack: tip, sleeve, ring, and the two break contacts that touch the tip
# (TN) and the ring (RN) while no plug is in.
JACK_PINS = ("T", "TN", "R", "RN", "S")
# The adapter's 2.1 mm socket: centre pin, sleeve, and the sleeve's switch.
DC_JACK_PINS = ("P", "S", "SW")


def header_pin(name: str) -> str:
    return f"H1.{DEVKITC_H1.index(name) + 1}"


def roles(bom, refs) -> dict[str, str]:
    """The parts of one channel (a pinout.csv line) by their role, from the BOM's design keys."""
    by_key = {
        "burden_ohm": "burden",
        "bias_r_top_ohm": "bias_top",
        "bias_r_bottom_ohm": "bias_bottom",
        "bias_c_uf": "bias_c",
        "vdiv_r_top_ohm": "div_top",
        "vdiv_r_bottom_ohm": "div_bottom",
    }
    found = {}
    for ref in refs:
        role = "jack" if ref.startswith("J") else by_key[bom[ref].design_key]
        found[role] = ref
    return found


def netlist(bom, pins, channels: int = 3, voltage: bool = True) -> tuple[dict[str, list[str]], list[str]]:
    """The board's nets (name -> part pins "REF.PIN") and the pins that must touch nothing."""
    nets: dict[str, list[str]] = {"3V3": [header_pin("3V3")], "GND": [header_pin("GND")]}
    used = {header_pin("3V3"), header_pin("GND")}
    nc: list[str] = []
    for k in range(1, channels + 1):
        pin = pins[f"current_{k}"]
        p = roles(bom, pin.parts)
        jack, gpio = p["jack"], header_pin(f"GPIO{pin.gpio}")
        used.add(gpio)
        nets[f"IN{k}"] = [f"{jack}.T", f"{p['burden']}.1", gpio]
        nets[f"MID{k}"] = [
            f"{jack}.S",
            f"{p['burden']}.2",
            f"{p['bias_top']}.2",
            f"{p['bias_bottom']}.1",
            f"{p['bias_c']}.+",
        ]
        nets["3V3"].append(f"{p['bias_top']}.1")
        nets["GND"] += [f"{p['bias_bottom']}.2", f"{p['bias_c']}.-", f"{jack}.TN"]
        nc += [f"{jack}.R", f"{jack}.RN"]
    if voltage:
        pin = pins["voltage"]
        p = roles(bom, pin.parts)
        jack, gpio = p["jack"], header_pin(f"GPIO{pin.gpio}")
        used.add(gpio)
        nets["VIN"] = [f"{jack}.P", f"{p['div_top']}.1"]
        nets["VSIG"] = [f"{p['div_top']}.2", f"{p['div_bottom']}.1", gpio]
        nets["VMID"] = [
            f"{p['div_bottom']}.2",
            f"{p['bias_top']}.2",
            f"{p['bias_bottom']}.1",
            f"{p['bias_c']}.+",
        ]
        nets["3V3"].append(f"{p['bias_top']}.1")
        nets["GND"] += [f"{p['bias_bottom']}.2", f"{p['bias_c']}.-", f"{jack}.S"]
        nc.append(f"{jack}.SW")
    nc += [f"H1.{n}" for n in range(1, 20) if f"H1.{n}" not in used]
    nc += [f"H2.{n}" for n in range(1, 20)]
    return nets, nc


class _Tagged:
    """The drawing's elements with the part pins at their ends, to read its connections back."""

    def __init__(self) -> None:
        self.pins: list[tuple[object, str, str]] = []  # (element, anchor, "REF.PIN")
        self.wires: list[object] = []
        self.nodes: list[tuple[object, str]] = []  # (element, "3V3" | "GND")

    def pin(self, element, start: str | None, end: str | None):
        if start:
            self.pins.append((element, "start", start))
        if end:
            self.pins.append((element, "end", end))
        return element

    def wire(self, element):
        self.wires.append(element)
        return element

    def node(self, element, name: str):
        self.nodes.append((element, name))
        return element


def _key(point) -> tuple[float, float]:
    return round(float(point[0]), 3), round(float(point[1]), 3)


def _on_segment(p, a, b) -> bool:
    (px, py), (ax, ay), (bx, by) = p, a, b
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if abs(cross) > 1e-6:
        return False
    return min(ax, bx) - 1e-6 <= px <= max(ax, bx) + 1e-6 and min(ay, by) - 1e-6 <= py <= max(ay, by) + 1e-6


def connections(tags: _Tagged) -> list[set[str]]:
    """The groups of pins (and the 3V3 and GND symbols) that the drawn wires join."""
    points: set[tuple[float, float]] = set()
    for element, anchor, _pin in tags.pins:
        points.add(_key(element.absanchors[anchor]))
    for element, _name in tags.nodes:
        points.add(_key(element.absanchors["start"]))
    segments = [(_key(w.absanchors["start"]), _key(w.absanchors["end"])) for w in tags.wires]
    for a, b in segments:
        points |= {a, b}
    parent = {p: p for p in points}

    def find(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for a, b in segments:
        for p in points:
            if _on_segment(p, a, b):
                parent[find(p)] = find(a)
    # Every ground symbol is the one GND net, every 3V3 arrow the one supply.
    first: dict[str, tuple[float, float]] = {}
    for element, name in tags.nodes:
        point = _key(element.absanchors["start"])
        parent[find(point)] = find(first.setdefault(name, point))
    groups: dict[tuple[float, float], set[str]] = {}
    for element, anchor, pin in tags.pins:
        groups.setdefault(find(_key(element.absanchors[anchor])), set()).add(pin)
    for element, name in tags.nodes:
        groups.setdefault(find(_key(element.absanchors["start"])), set()).add(name)
    return sorted(groups.values(), key=sorted)


def drawn_nets(ctx) -> list[set[str]]:
    """The connections the schematic draws (channel 1 and the voltage option)."""
    return _draw(ctx)[1]


def draw(ctx):
    return _draw(ctx)[0]


def _draw(ctx):
    schemdraw.use("svg")
    pins = ctx.pins
    t = _Tagged()
    ch = roles(ctx.bom, pins["current_1"].parts)
    vo = roles(ctx.bom, pins["voltage"].parts)
    j1, j4 = ch["jack"], vo["jack"]
    with schemdraw.Drawing(show=False, fontsize=12, font="DejaVu Sans") as d:
        d.config(unit=2.5)

        # Current channel 1: bias divider R4/R7 with C1, burden R1 across the clamp's jack J1.
        t.node(d.add(elm.Vdd().at((0, 0)).label("3V3")), "3V3")
        d += t.pin(
            elm.Resistor().down().label(f"{ch['bias_top']}\n{ctx.const('bias_r_top_ohm')}", loc="bottom"),
            f"{ch['bias_top']}.1",
            f"{ch['bias_top']}.2",
        )
        mid = d.add(elm.Dot())
        d += t.pin(
            elm.Resistor()
            .down()
            .label(f"{ch['bias_bottom']}\n{ctx.const('bias_r_bottom_ohm')}", loc="bottom"),
            f"{ch['bias_bottom']}.1",
            f"{ch['bias_bottom']}.2",
        )
        t.node(d.add(elm.Ground()), "GND")
        d += t.wire(elm.Line().at(mid.center).left(2))
        d += t.pin(
            elm.Capacitor2(polar=True).down().label(f"{ch['bias_c']}\n{ctx.const('bias_c_uf')}", loc="top"),
            f"{ch['bias_c']}.+",
            f"{ch['bias_c']}.-",
        )
        t.node(d.add(elm.Ground()), "GND")

        d += t.wire(elm.Line().at(mid.center).right(3.5))
        burden_bottom = d.add(elm.Dot())
        d += t.pin(
            elm.Resistor().up().label(f"{ch['burden']}\n{ctx.const('burden_ohm')}", loc="bottom"),
            f"{ch['burden']}.2",
            f"{ch['burden']}.1",
        )
        tip = d.add(elm.Dot())
        d += t.wire(elm.Line().right(3))
        clamp_top = d.add(elm.Dot())
        clamp = _("CT1 (clamp)\nthrough J1")
        d += t.pin(elm.SourceI().down().label(clamp, loc="bottom"), f"{j1}.T", f"{j1}.S")
        d += t.wire(elm.Line().to(burden_bottom.center))
        d += t.wire(elm.Line().at(clamp_top.center).right(2.5))
        channel_1 = _("channel 1")
        gpio = d.add(elm.Dot(open=True).label(f"GPIO{pins['current_1'].gpio}\n({channel_1})", loc="right"))
        t.pins.append((gpio, "start", header_pin(f"GPIO{pins['current_1'].gpio}")))

        # J1's switch grounds the input when no clamp is plugged in: the firmware then reads
        # no bias and reports the clamp as unplugged.
        d += t.wire(elm.Line().at(tip.center).up(1.5))
        d += t.pin(
            elm.Switch(action="open").right(3).label(_("J1: contact closed with no plug"), loc="top"),
            None,
            f"{j1}.TN",
        )
        t.node(d.add(elm.Ground()), "GND")

        # Voltage channel (option): TR1 through J4, divider R10/R11 on its own bias R12/R13 + C4.
        x0 = 17
        t.node(d.add(elm.Vdd().at((x0, 0)).label("3V3")), "3V3")
        d += t.pin(
            elm.Resistor().down().label(f"{vo['bias_top']}\n{ctx.const('bias_r_top_ohm')}", loc="bottom"),
            f"{vo['bias_top']}.1",
            f"{vo['bias_top']}.2",
        )
        vmid = d.add(elm.Dot())
        d += t.pin(
            elm.Resistor()
            .down()
            .label(f"{vo['bias_bottom']}\n{ctx.const('bias_r_bottom_ohm')}", loc="bottom"),
            f"{vo['bias_bottom']}.1",
            f"{vo['bias_bottom']}.2",
        )
        t.node(d.add(elm.Ground()), "GND")
        d += t.wire(elm.Line().at(vmid.center).left(2))
        d += t.pin(
            elm.Capacitor2(polar=True).down().label(f"{vo['bias_c']}\n{ctx.const('bias_c_uf')}", loc="top"),
            f"{vo['bias_c']}.+",
            f"{vo['bias_c']}.-",
        )
        t.node(d.add(elm.Ground()), "GND")
        d += t.wire(elm.Line().at(vmid.center).right(3.5))
        d += t.pin(
            elm.Resistor().up().label(f"{vo['div_bottom']}\n{ctx.const('vdiv_r_bottom_ohm')}", loc="bottom"),
            f"{vo['div_bottom']}.2",
            f"{vo['div_bottom']}.1",
        )
        vpin = d.add(elm.Dot())
        d += t.pin(
            elm.Resistor().up().label(f"{vo['div_top']}\n{ctx.const('vdiv_r_top_ohm')}", loc="bottom"),
            f"{vo['div_top']}.2",
            f"{vo['div_top']}.1",
        )
        d += t.wire(elm.Line().right(6))
        through_j4 = _("through J4")
        d += t.pin(
            elm.SourceSin().down().label(f"TR1 ({ctx.const('adapter_v')} AC)\n{through_j4}", loc="bottom"),
            f"{j4}.P",
            f"{j4}.S",
        )
        d += t.wire(elm.Line().down(2.5))
        t.node(d.add(elm.Ground()), "GND")
        d += t.wire(elm.Line().at(vpin.center).right(2))
        voltage = _("voltage")
        vgpio = d.add(elm.Dot(open=True).label(f"GPIO{pins['voltage'].gpio}\n({voltage})", loc="right"))
        t.pins.append((vgpio, "start", header_pin(f"GPIO{pins['voltage'].gpio}")))

        d += elm.Label().at((2.5, -7.2)).label(_("Current channel 1 (channels 2 and 3 alike)"), fontsize=13)
        d += elm.Label().at((x0 + 3.5, -7.2)).label(_("Voltage option"), fontsize=13)
        svg = d.get_imagedata("svg")
    text = svg.decode() if isinstance(svg, bytes) else svg
    return text, connections(t)
