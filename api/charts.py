"""Bar charts as inline SVG, drawn on the server: no JavaScript library, no network.

The SVG scales to the width of the phone (viewBox); each bar carries a <title> so a tap or
a screen reader gives the figure. Buckets without data draw no bar, only a grey tick on the
axis, so a gap never looks like a zero; buckets before the household's first reading (its
installation) and after now draw nothing at all.

The viewBox is about as wide as the chart is on a 360 px phone (300 px inside the card), so
the 14-unit text of the stylesheet is read at 12 px or more there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from citizenwatt.i18n import _, format_quantity

from .energy import Bucket
from .texts import energy_text

WIDTH, HEIGHT = 320, 200
LEFT, RIGHT, TOP, BOTTOM = 24, 8, 22, 26
# The smallest scale (Wh): a first hour of a few Wh draws a small bar, not a full one.
MIN_TOP_WH = 100.0


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** len(str(int(v))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag:
            return step * mag
    return 10 * mag


def _strftime(fmt: str) -> Callable[[datetime], str]:
    return lambda t: t.strftime(fmt)


def bar_chart(buckets: Sequence[Bucket], lang: str, label_every: int = 3,
              label_format: str | Callable[[datetime], str] = "%H",
              title_format: str | Callable[[datetime], str] = "%H:%M", chart_id: str = "chart",
              now_utc: float | None = None, since_utc: float | None = None,
              label: str | None = None, empty_text: str | None = None) -> str:
    """SVG bars for `buckets`; buckets starting after `now_utc` are the future and buckets
    ending before `since_utc` (the first reading; math.inf when there is none yet) come before
    the installation: both blank.
    The formats are strftime patterns or functions of the bucket's local start."""
    label_of = _strftime(label_format) if isinstance(label_format, str) else label_format
    title_of = _strftime(title_format) if isinstance(title_format, str) else title_format
    n = max(1, len(buckets))
    values = [b.energy_wh for b in buckets]
    known = [v for v in values if v is not None]
    top = _nice_max(max([MIN_TOP_WH, *known]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    unit_kwh = top >= 2000
    scale_label = (format_quantity(top / 1000, "kWh", 1, lang=lang)) if unit_kwh else (
        format_quantity(top, "Wh", 0, lang=lang))
    aria = label or _("Energy per hour, in watt-hours", lang=lang)
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(aria)}" '
        f'xmlns="http://www.w3.org/2000/svg" data-bars="{len(known)}" data-buckets="{len(buckets)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
        f'<text class="ylab" x="{LEFT + 2}" y="{TOP - 6}" text-anchor="start">{escape(scale_label)}</text>',
        f'<text class="ylab" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, b in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar_w) / 2
        when = title_of(b.start_local)
        future = now_utc is not None and b.start_utc >= now_utc
        before = since_utc is not None and b.end_utc <= since_utc
        if b.energy_wh is None and (future or before):
            pass
        elif b.energy_wh is None:
            parts.append(f'<rect class="gap" x="{x:.1f}" y="{TOP + plot_h - 2}" width="{bar_w:.1f}" '
                         f'height="2"><title>{escape(when)} : —</title></rect>')
        else:
            h = plot_h * min(1.0, b.energy_wh / top)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" data-energy-wh="{b.energy_wh:.1f}">'
                f'<title>{escape(when)} : {escape(energy_text(b.energy_wh, lang))}</title></rect>')
        if i % label_every == 0:
            text = escape(label_of(b.start_local).lstrip("0") or "0")
            parts.append(
                f'<text class="xlab" x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{text}</text>'
            )
    if not known:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">'
            f'{escape(empty_text or _("No reading yet today.", lang=lang))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
