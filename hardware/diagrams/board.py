# SPDX-FileCopyrightText: Citizen Watt contributors
# SPDX-License-Identifier: CERN-OHL-S-2.0
"""Wiring of the perforated board: where each part goes and which ESP32 pin each channel uses.

Drawn from hardware/pinout.csv (channels, pins, parts) and the design calculator's values.
"""

from citizenwatt.guide.svg import Svg
from citizenwatt.i18n import _

CHANNEL_COLOURS = ("#0b6e4f", "#1f5fa8", "#8a4baf", "#b5651d")


def draw(ctx):
    pins = list(ctx.pins.values())
    svg = Svg(900, 560, _('Board wiring'))
    # The board and the ESP32 socketed on its two female headers.
    svg.rect(20, 20, 860, 500, fill="#f3efe2", stroke="#8c7b4f", radius=10)
    svg.text(40, 45, _('PCB1 — perforated board (top view)'), anchor="start", size=13, weight="bold")
    ux, uy, uw, uh = 560, 80, 200, 400
    svg.rect(ux, uy, uw, uh, fill="#263238", stroke="#111", radius=6)
    svg.text(ux + uw / 2, uy + 30, "U1 ESP32-DevKitC", fill="#fff", size=14, weight="bold")
    svg.text(ux + uw / 2, uy + 50, _('on H1 and H2'), fill="#cfd8dc", size=12)
    svg.rect(ux + 70, uy + uh - 20, 60, 24, fill="#9e9e9e", stroke="#111", radius=3)
    svg.text(ux + uw / 2, uy + uh + 32, _('USB: CBL1 to PS1'), size=12)

    # Supply rails between the parts and the module: 3V3 and GND feed every bias divider.
    rail_3v3_x, rail_gnd_x = 480, 510
    bottom = 160 + (len(pins) - 1) * 88 + 14
    svg.line([(ux, 95), (rail_3v3_x, 95), (rail_3v3_x, bottom - 28)], stroke="#c62828", width=3)
    svg.line([(ux, 118), (rail_gnd_x, 118), (rail_gnd_x, bottom)], stroke="#212121", width=3)
    svg.text(ux - 8, 89, "3V3", anchor="end", size=12, fill="#c62828", weight="bold")
    svg.text(ux - 8, 134, "GND", anchor="end", size=12, weight="bold")

    top = 160
    step = 88
    for index, pin in enumerate(pins):
        y = top + index * step
        colour = CHANNEL_COLOURS[index % len(CHANNEL_COLOURS)]
        jack = next(ref for ref in pin.parts if ref.startswith("J"))
        others = [ref for ref in pin.parts if ref != jack]
        # Jack on the board edge, reachable through the enclosure wall.
        svg.rect(0, y - 18, 70, 36, fill="#455a64", stroke="#111", radius=4)
        svg.text(35, y + 5, jack, fill="#fff", size=13, weight="bold")
        # The channel's parts, grouped as they sit on the board.
        svg.rect(120, y - 28, 320, 56, fill="#ffffff", stroke=colour, radius=6, width=2)
        svg.text(280, y - 8, " ".join(others), size=13, weight="bold", fill=colour)
        svg.text(280, y + 14, pin.label(ctx.lang), size=11, fill="#37474f")
        svg.line([(70, y), (120, y)], stroke=colour, width=3)
        # Each bias divider takes 3V3 and GND from the rails.
        svg.line([(440, y - 14), (rail_3v3_x, y - 14)], stroke="#c62828", width=2)
        svg.circle(rail_3v3_x, y - 14, 3.5, fill="#c62828", stroke="#c62828")
        svg.line([(440, y + 14), (rail_gnd_x, y + 14)], stroke="#212121", width=2)
        svg.circle(rail_gnd_x, y + 14, 3.5, fill="#212121", stroke="#212121")
        # Signal to the ESP32 input.
        svg.line([(440, y), (ux, y)], stroke=colour, width=3)
        svg.circle(ux, y, 5, fill=colour, stroke=colour)
        svg.text(ux + 12, y + 5, f"GPIO{pin.gpio}", anchor="start", fill="#fff", size=13, weight="bold")
    svg.text(280, 540, _('Each group takes 3V3 (red) and GND (black) for its bias divider.'), size=12)
    return svg.to_string()
