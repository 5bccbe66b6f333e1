# SPDX-License-Identifier: AGPL-3.0-or-later
"""A very small SVG drawing helper for the guide's diagrams (boxes, wires, labels).

The schematic uses schemdraw; the pictorial wiring diagrams are simple enough for this.
"""

from __future__ import annotations

from html import escape

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"


class Svg:
    def __init__(self, width: float, height: float, title: str) -> None:
        self.width = width
        self.height = height
        self.title = title
        self.items: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "#fff", stroke: str = "#1d2327",
             radius: float = 4, width: float = 1.5, dash: str = "") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{radius:g}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width:g}"{extra}/>'
        )

    def line(self, points: list[tuple[float, float]], stroke: str = "#1d2327", width: float = 2,
             dash: str = "") -> None:
        path = " ".join(f"{x:g},{y:g}" for x, y in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(
            f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="{width:g}" '
            f'stroke-linejoin="round" stroke-linecap="round"{extra}/>'
        )

    def circle(self, x: float, y: float, r: float, fill: str = "#fff", stroke: str = "#1d2327",
               width: float = 1.5) -> None:
        self.items.append(
            f'<circle cx="{x:g}" cy="{y:g}" r="{r:g}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{width:g}"/>'
        )

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill: str = "none", stroke: str = "#1d2327",
                width: float = 1.5) -> None:
        self.items.append(
            f'<ellipse cx="{x:g}" cy="{y:g}" rx="{rx:g}" ry="{ry:g}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{width:g}"/>'
        )

    def text(self, x: float, y: float, text: str, size: float = 13, anchor: str = "middle",
             weight: str = "normal", fill: str = "#1d2327") -> None:
        lines = text.split("\n")
        spans = "".join(
            f'<tspan x="{x:g}" dy="{0 if i == 0 else size * 1.25:g}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        self.items.append(
            f'<text x="{x:g}" y="{y:g}" font-family="{FONT}" font-size="{size:g}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{spans}</text>'
        )

    def arrow(self, start: tuple[float, float], end: tuple[float, float], stroke: str = "#1d2327") -> None:
        self.items.append(
            f'<line x1="{start[0]:g}" y1="{start[1]:g}" x2="{end[0]:g}" y2="{end[1]:g}" stroke="{stroke}" '
            f'stroke-width="2" marker-end="url(#arrow)"/>'
        )

    def to_string(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width:g} {self.height:g}" '
            f'width="{self.width:g}" height="{self.height:g}" role="img">'
            f"<title>{escape(self.title)}</title>"
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1d2327"/></marker></defs>'
            + "".join(self.items)
            + "</svg>\n"
        )
