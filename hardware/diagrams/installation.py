# SPDX-FileCopyrightText: Citizen Watt contributors
# SPDX-License-Identifier: CERN-OHL-S-2.0
"""Installation at home: the clamp closes around ONE conductor where it is reachable without
opening anything; the meter sits outside the panel, powered by a phone charger."""

from citizenwatt.guide.svg import Svg
from citizenwatt.i18n import _


def draw(ctx):
    svg = Svg(900, 470, _('Installing at home'))

    # Utility meter and main breaker, then the household panel (closed: never opened).
    svg.rect(30, 40, 150, 110, fill="#e8f5e9", stroke="#2e7d32")
    svg.text(105, 85, _('Utility\nmeter'), size=13, weight="bold")
    svg.rect(30, 200, 150, 80, fill="#fff8e1", stroke="#f9a825")
    svg.text(105, 235, _('Main\nbreaker'), size=13, weight="bold")
    svg.rect(600, 40, 270, 250, fill="#eceff1", stroke="#455a64", width=2)
    svg.text(735, 70, _('Consumer unit'), size=14, weight="bold")
    svg.text(735, 95, _('cover CLOSED'), size=13, fill="#a4161a", weight="bold")
    for i in range(6):
        svg.rect(625 + i * 40, 130, 28, 70, fill="#fff", stroke="#78909c", radius=2)

    # Phase (brown) and neutral (blue) run separately between breaker and panel: the clamp
    # goes around one of them only, never around the two-wire cable.
    svg.line([(105, 150), (105, 200)], stroke="#6d4c41", width=5)
    svg.line([(180, 230), (600, 230)], stroke="#6d4c41", width=5)
    svg.line([(180, 275), (600, 275)], stroke="#1565c0", width=5)
    svg.text(560, 222, _('live'), anchor="end", size=12, fill="#6d4c41", weight="bold")
    svg.text(560, 295, _('neutral'), anchor="end", size=12, fill="#1565c0", weight="bold")

    # The clamp CT1 around the phase conductor, arrow towards the household.
    svg.ellipse(330, 230, 22, 28, stroke="#263238", width=7)
    svg.arrow((300, 185), (360, 185))
    svg.text(330, 175, _('arrow towards the panel'), size=12)
    svg.text(318, 318, _('CT1 around ONE wire only'), size=13, weight="bold", anchor="end")

    # Clamp cable to the meter, which is plugged into an ordinary socket through PS1.
    svg.line([(330, 258), (330, 380), (420, 380)], stroke="#263238", width=3)
    svg.rect(420, 340, 170, 90, fill="#263238", stroke="#111", radius=8)
    svg.text(505, 375, _('Citizen Watt meter'), size=12, fill="#fff", weight="bold")
    svg.text(505, 395, _('ENC1, socket J1'), size=12, fill="#cfd8dc")
    svg.line([(590, 390), (700, 390)], stroke="#9e9e9e", width=3)
    svg.rect(700, 365, 70, 50, fill="#fafafa", stroke="#616161", radius=6)
    svg.text(735, 395, "PS1", size=13, weight="bold")
    svg.text(735, 440, _('ordinary wall socket'), size=12)

    svg.rect(20, 340, 290, 100, fill="#fde8e8", stroke="#a4161a", radius=6, width=2)
    svg.text(165, 365, _("Nothing to unscrew, nothing to open.\nWire not reachable? Stop and\n"
                         "call a qualified person."), size=12, fill="#a4161a", weight="bold")
    return svg.to_string()
