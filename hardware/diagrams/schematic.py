# SPDX-FileCopyrightText: Citizen Watt contributors
# SPDX-License-Identifier: CERN-OHL-S-2.0
"""Schematic of one current channel and of the optional voltage channel (schemdraw).

The other two current channels are copies of channel 1 (J2/J3, R2/R3, R5/R6, R8/R9, C2/C3).
Values come from the design calculator through ctx.const(), pins from hardware/pinout.csv.
"""

import schemdraw
import schemdraw.elements as elm

from citizenwatt.i18n import _


def draw(ctx):
    schemdraw.use("svg")
    pins = ctx.pins
    with schemdraw.Drawing(show=False, fontsize=12, font="DejaVu Sans") as d:
        d.config(unit=2.5)

        # Current channel 1: bias divider R4/R7 with C1, burden R1 across the clamp's jack J1.
        d += elm.Vdd().at((0, 0)).label("3V3")
        d += elm.Resistor().down().label(f"R4\n{ctx.const('bias_r_top_ohm')}", loc="bottom")
        mid = d.add(elm.Dot())
        d += elm.Resistor().down().label(f"R7\n{ctx.const('bias_r_bottom_ohm')}", loc="bottom")
        d += elm.Ground()
        d += elm.Line().at(mid.center).left(2)
        d += elm.Capacitor2(polar=True).down().label(f"C1\n{ctx.const('bias_c_uf')}", loc="top")
        d += elm.Ground()

        d += elm.Line().at(mid.center).right(3.5)
        burden_bottom = d.add(elm.Dot())
        d += elm.Resistor().up().label(f"R1\n{ctx.const('burden_ohm')}", loc="bottom")
        tip = d.add(elm.Dot())
        d += elm.Line().right(3)
        clamp_top = d.add(elm.Dot())
        d += elm.SourceI().down().label(_('CT1 (clamp)\nthrough J1'), loc="bottom")
        d += elm.Line().to(burden_bottom.center)
        d += elm.Line().at(clamp_top.center).right(2.5)
        channel_1 = _("channel 1")
        d += elm.Dot(open=True).label(f"GPIO{pins['current_1'].gpio}\n({channel_1})", loc="right")

        # J1's switch grounds the input when no clamp is plugged in: the firmware then reads
        # no bias and reports the clamp as unplugged.
        d += elm.Line().at(tip.center).up(1.5)
        d += elm.Switch(action="open").right(3).label(
            _('J1: contact closed with no plug'), loc="top"
        )
        d += elm.Ground()

        # Voltage channel (option): TR1 through J4, divider R10/R11 on its own bias R12/R13 + C4.
        x0 = 17
        d += elm.Vdd().at((x0, 0)).label("3V3")
        d += elm.Resistor().down().label(f"R12\n{ctx.const('bias_r_top_ohm')}", loc="bottom")
        vmid = d.add(elm.Dot())
        d += elm.Resistor().down().label(f"R13\n{ctx.const('bias_r_bottom_ohm')}", loc="bottom")
        d += elm.Ground()
        d += elm.Line().at(vmid.center).left(2)
        d += elm.Capacitor2(polar=True).down().label(f"C4\n{ctx.const('bias_c_uf')}", loc="top")
        d += elm.Ground()
        d += elm.Line().at(vmid.center).right(3.5)
        d += elm.Resistor().up().label(f"R11\n{ctx.const('vdiv_r_bottom_ohm')}", loc="bottom")
        vpin = d.add(elm.Dot())
        d += elm.Resistor().up().label(f"R10\n{ctx.const('vdiv_r_top_ohm')}", loc="bottom")
        d += elm.Line().right(6)
        through_j4 = _("through J4")
        d += elm.SourceSin().down().label(f"TR1 ({ctx.const('adapter_v')} AC)\n{through_j4}", loc="bottom")
        d += elm.Line().down(2.5)
        d += elm.Ground()
        d += elm.Line().at(vpin.center).right(2)
        voltage = _("voltage")
        d += elm.Dot(open=True).label(f"GPIO{pins['voltage'].gpio}\n({voltage})", loc="right")

        d += elm.Label().at((2.5, -7.2)).label(
            _('Current channel 1 (channels 2 and 3 alike)'), fontsize=13
        )
        d += elm.Label().at((x0 + 3.5, -7.2)).label(_('Voltage option'), fontsize=13)
        svg = d.get_imagedata("svg")
    return svg.decode() if isinstance(svg, bytes) else svg
