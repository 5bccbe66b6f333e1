"""Bar charts as inline SVG, drawn on the server: no JavaScript library, no network.

The SVG scales to the width of the phone (viewBox); each bar carries a <title> so a tap or
a screen reader gives the figure. Buckets without data draw no bar, only a grey tick on the
axis, so a gap never looks like a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from citizenwatt.i18n import _, format_energy, format_quantity

from .energy import Bucket

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 22, 6, 16, 22


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** len(str(int(v))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag:
            return step * mag
    return 10 * mag


def bar_chart(buckets: Sequence[Bucket], lang: str, label_every: int = 3,
              label_format: str = "%H", title_format: str = "%H:%M", chart_id: str = "chart",
              now_utc: float | None = None) -> str:
    """SVG bars for `buckets`; buckets starting after `now_utc` are the future: left blank."""
    n = max(1, len(buckets))
    values = [b.energy_wh for b in buckets]
    known = [v for v in values if v is not None]
    top = _nice_max(max(known) if known else 0.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    unit_kwh = top >= 2000
    scale_label = (format_quantity(top / 1000, "kWh", 1, lang=lang)) if unit_kwh else (
        format_quantity(top, "Wh", 0, lang=lang))
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(_("Energy per hour, in watt-hours", lang=lang))}" '
        f'xmlns="http://www.w3.org/2000/svg" data-bars="{len(known)}" data-buckets="{len(buckets)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
        f'<text class="ylab" x="{LEFT + 2}" y="{TOP - 4}" text-anchor="start">{escape(scale_label)}</text>',
        f'<text class="ylab" x="{LEFT - 3}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, b in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar_w) / 2
        when = b.start_local.strftime(title_format)
        if b.energy_wh is None and now_utc is not None and b.start_utc >= now_utc:
            pass
        elif b.energy_wh is None:
            parts.append(f'<rect class="gap" x="{x:.1f}" y="{TOP + plot_h - 2}" width="{bar_w:.1f}" '
                         f'height="2"><title>{escape(when)} : —</title></rect>')
        else:
            h = plot_h * min(1.0, b.energy_wh / top)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" data-energy-wh="{b.energy_wh:.1f}">'
                f'<title>{escape(when)} : {escape(format_energy(b.energy_wh, lang=lang))}</title></rect>')
        if i % label_every == 0:
            label = escape(b.start_local.strftime(label_format).lstrip("0") or "0")
            parts.append(
                f'<text class="xlab" x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{label}</text>'
            )
    if not known:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{TOP + plot_h / 2}" '
            f'text-anchor="middle">{escape(_("No reading yet today.", lang=lang))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
