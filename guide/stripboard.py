# SPDX-License-Identifier: AGPL-3.0-or-later
"""A stripboard layout as data: holes, copper strips along the rows, cut tracks, wire links and
the part pins soldered in given holes; its connectivity derived from that, checked against a
netlist, and drawn hole by hole (whole, or one assembly step with what the step adds highlighted).

Copper runs along each row; a cut at a hole removes that hole's copper, splitting the strip.
Columns are numbered from 1 (left), rows lettered from A (top), as printed on most stripboards:
the hole "D12" is row D, column 12.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from citizenwatt.guide.svg import Svg

Hole = tuple[int, int]  # (column, row), both from 0

# Assembly steps in the order a builder solders them: cuts first, the highest parts last.
STEPS = ("cuts", "links", "resistors", "capacitors", "headers", "jacks")
KIND_STEP = {"resistor": "resistors", "capacitor": "capacitors", "header": "headers", "jack": "jacks"}


def row_name(row: int) -> str:
    letters = string.ascii_uppercase
    return letters[row] if row < 26 else letters[row // 26 - 1] + letters[row % 26]


def hole_name(hole: Hole) -> str:
    return f"{row_name(hole[1])}{hole[0] + 1}"


@dataclass(frozen=True)
class Part:
    ref: str
    kind: str  # resistor, capacitor, header, jack
    pins: dict[str, Hole]  # pin name -> hole
    label: str = ""  # value shown beside the reference
    option: bool = False  # the voltage option: drawn dashed in the whole-board view

    def pin_ids(self) -> list[str]:
        return [f"{self.ref}.{name}" for name in self.pins]


@dataclass(frozen=True)
class Link:
    a: Hole
    b: Hole
    option: bool = False


@dataclass
class Board:
    cols: int
    rows: int
    parts: list[Part] = field(default_factory=list)
    cuts: set[Hole] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    pin_labels: dict[str, str] = field(default_factory=dict)  # "H1.3" -> "GPIO36", shown beside the pin
    option_cuts: set[Hole] = field(default_factory=set)
    outlines: list[tuple[Hole, Hole, str]] = field(default_factory=list)  # a module over its headers

    def part(self, ref: str) -> Part:
        return next(p for p in self.parts if p.ref == ref)

    # -- connectivity ------------------------------------------------------------------------
    def segments(self) -> dict[Hole, int]:
        """Each uncut hole -> the id of the copper segment it lies on (strips split by cuts, joined
        by wire links)."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        seg: dict[Hole, int] = {}
        next_id = 0
        for row in range(self.rows):
            current = None
            for col in range(self.cols):
                if (col, row) in self.cuts:
                    current = None
                    continue
                if current is None:
                    current = next_id
                    parent[current] = current
                    next_id += 1
                seg[(col, row)] = current
        for link in self.links:
            if link.a in seg and link.b in seg:
                ra, rb = find(seg[link.a]), find(seg[link.b])
                parent[ra] = rb
        return {hole: find(s) for hole, s in seg.items()}

    def placement_problems(self) -> list[str]:
        """Holes used twice, pins or link ends on a cut or off the board."""
        problems = []
        used: dict[Hole, str] = {}

        def take(hole: Hole, what: str) -> None:
            col, row = hole
            if not (0 <= col < self.cols and 0 <= row < self.rows):
                problems.append(f"{what} is off the board ({hole_name(hole)}).")
            elif hole in self.cuts:
                problems.append(f"{what} is in {hole_name(hole)}, a hole whose copper is cut.")
            elif hole in used:
                problems.append(f"{what} and {used[hole]} share the hole {hole_name(hole)}.")
            used[hole] = what

        for part in self.parts:
            for name, hole in part.pins.items():
                take(hole, f"{part.ref}.{name}")
        for link in self.links:
            take(link.a, f"the link {hole_name(link.a)}-{hole_name(link.b)}")
            take(link.b, f"the link {hole_name(link.a)}-{hole_name(link.b)}")
        return problems

    def nets(self) -> list[set[str]]:
        """The connections the board makes: groups of part pins on the same copper."""
        seg = self.segments()
        groups: dict[int, set[str]] = {}
        for part in self.parts:
            for name, hole in part.pins.items():
                if hole in seg:
                    groups.setdefault(seg[hole], set()).add(f"{part.ref}.{name}")
        return sorted(groups.values(), key=lambda g: sorted(g))


def compare(board: Board, nets: dict[str, Iterable[str]], not_connected: Iterable[str] = ()) -> list[str]:
    """Where the board differs from the netlist, as sentences: a net split in two, two nets
    shorted, a pin the netlist does not know or that is not on the board. Empty when they agree."""
    problems = board.placement_problems()
    wanted = {name: set(pins) for name, pins in nets.items()}
    nc = set(not_connected)
    net_of = {pin: name for name, pins in wanted.items() for pin in pins}
    placed = {pin for part in board.parts for pin in part.pin_ids()}
    for pin in sorted(placed - set(net_of) - nc):
        problems.append(f"{pin} is on the board but in no net of the schematic (nor marked not connected).")
    for pin in sorted((set(net_of) | nc) - placed):
        problems.append(f"{pin} is in the schematic but not on the board.")
    derived = board.nets()
    for group in derived:
        names = sorted({net_of[p] for p in group if p in net_of})
        if len(names) > 1:
            problems.append(
                f"short between the nets {', '.join(names)}: {', '.join(sorted(group))} share copper."
            )
        stray = sorted(p for p in group if p in nc)
        if stray and len(group) > 1:
            problems.append(
                f"{', '.join(stray)} must touch nothing, but shares copper with "
                f"{', '.join(sorted(group - set(stray)))}."
            )
    for name, pins in wanted.items():
        present = pins & placed
        groups = [g & present for g in derived if g & present]
        if len(groups) > 1:
            parts = " / ".join(", ".join(sorted(g)) for g in groups)
            problems.append(f"the net {name} is split: {parts} are not connected.")
    return problems


# -- drawing ---------------------------------------------------------------------------------

PITCH = 22
MARGIN_X = 150  # room on the left for the jacks' bodies
MARGIN_Y = 60
COPPER = "#e8c39e"
CUT = "#c62828"
NEW = "#d35400"
PART_COLOURS = {"resistor": "#1f5fa8", "capacitor": "#0b6e4f", "header": "#37474f", "jack": "#5d4037"}


def _xy(hole: Hole) -> tuple[float, float]:
    return MARGIN_X + hole[0] * PITCH, MARGIN_Y + hole[1] * PITCH


def draw(
    board: Board,
    title: str,
    *,
    upto: str | None = None,
    legend: list[str] | None = None,
    show_options: bool = True,
) -> str:
    """The board seen from the component side, copper strips shown through. With `upto`, only
    the steps up to that one are drawn, and that step's items are highlighted."""
    shown_steps = STEPS if upto is None else STEPS[: STEPS.index(upto) + 1]
    legend = legend or []
    svg = Svg(
        MARGIN_X + board.cols * PITCH + 40, MARGIN_Y + board.rows * PITCH + 30 + 24 * len(legend), title
    )
    _draw_copper(svg, board)
    if "cuts" in shown_steps:
        _draw_cuts(svg, board, new=upto == "cuts", show_options=show_options)
    if "links" in shown_steps:
        _draw_links(svg, board, new=upto == "links", dashed_options=upto is None)
    for part in board.parts:
        step = KIND_STEP[part.kind]
        if step in shown_steps:
            _draw_part(svg, board, part, new=upto == step, dashed=part.option and upto is None)
    if "headers" in shown_steps:
        for (c0, r0), (c1, r1), label in board.outlines:
            (x0, y0), (x1, y1) = _xy((c0, r0)), _xy((c1, r1))
            svg.rect(
                x0 - 14,
                y0 - 14,
                x1 - x0 + 28,
                y1 - y0 + 28,
                fill="none",
                stroke="#263238",
                radius=6,
                width=2,
                dash="10 6",
            )
            svg.text((x0 + x1) / 2, y1 - 4, label, size=14, weight="bold", fill="#263238")
    y = MARGIN_Y + board.rows * PITCH + 18
    for line in legend:
        svg.text(MARGIN_X - PITCH / 2, y, line, size=14, anchor="start")
        y += 24
    return svg.to_string()


def _draw_copper(svg: Svg, board: Board) -> None:
    """The board, its strips and holes, with the column numbers and row letters printed on it."""
    svg.rect(
        MARGIN_X - PITCH / 2,
        MARGIN_Y - PITCH / 2,
        board.cols * PITCH,
        board.rows * PITCH,
        fill="#f6efe0",
        stroke="#8c7b4f",
        radius=4,
    )
    for col in range(0, board.cols, 2):
        svg.text(_xy((col, 0))[0], MARGIN_Y - PITCH + 4, str(col + 1), size=11, fill="#5b6770")
    for row in range(board.rows):
        x0, y = _xy((0, row))
        svg.text(
            MARGIN_X + board.cols * PITCH + 4, y + 4, row_name(row), size=11, anchor="start", fill="#5b6770"
        )
        svg.rect(
            x0 - PITCH / 2 + 1,
            y - 7,
            board.cols * PITCH - 2,
            14,
            fill=COPPER,
            stroke=COPPER,
            radius=3,
            width=0.5,
        )
    for row in range(board.rows):
        for col in range(board.cols):
            x, y = _xy((col, row))
            svg.circle(x, y, 2.6, fill="#fff", stroke="#a1887f", width=0.8)


def _draw_cuts(svg: Svg, board: Board, new: bool, show_options: bool) -> None:
    colour = NEW if new else CUT
    for hole in sorted(board.cuts):
        if hole in board.option_cuts and not show_options:
            continue
        x, y = _xy(hole)
        svg.rect(x - 8, y - 9, 16, 18, fill="#fff", stroke=colour, radius=2, width=2)
        svg.line([(x - 6, y - 6), (x + 6, y + 6)], stroke=colour, width=2.5)
        svg.line([(x - 6, y + 6), (x + 6, y - 6)], stroke=colour, width=2.5)


def _draw_links(svg: Svg, board: Board, new: bool, dashed_options: bool) -> None:
    colour = NEW if new else "#455a64"
    for link in board.links:
        (xa, ya), (xb, yb) = _xy(link.a), _xy(link.b)
        svg.line(
            [(xa, ya), (xb, yb)],
            stroke=colour,
            width=5 if new else 3.5,
            dash="7 4" if link.option and dashed_options else "",
        )
        for x, y in ((xa, ya), (xb, yb)):
            svg.circle(x, y, 4, fill=colour, stroke="#263238")


def _draw_part(svg: Svg, board: Board, part: Part, new: bool, dashed: bool) -> None:
    colour = NEW if new else PART_COLOURS[part.kind]
    dash = "6 4" if dashed else ""
    width = 3.5 if new else 2.2
    points = [_xy(h) for h in part.pins.values()]
    for x, y in points:
        svg.circle(x, y, 4.5, fill=colour, stroke="#1d2327")
    if part.kind in ("resistor", "capacitor"):
        (x0, y0), (x1, y1) = points
        svg.line([(x0, y0), (x1, y1)], stroke=colour, width=2)
        mid_y = (y0 + y1) / 2
        if part.kind == "resistor":
            svg.rect(x0 - 7, mid_y - 16, 14, 32, fill="#fff", stroke=colour, radius=5, width=width, dash=dash)
        else:
            svg.circle(x0, mid_y, 10, fill="#fff", stroke=colour, width=width)
            plus = part.pins["+"]
            px, py = _xy(plus)
            svg.text(px + 12, py + 5, "+", size=16, weight="bold", fill=colour, anchor="start")
        svg.text(x0 + 12, mid_y - 2, part.ref, size=14, weight="bold", fill=colour, anchor="start")
        if part.label:
            svg.text(x0 + 12, mid_y + 14, part.label, size=12, fill="#1d2327", anchor="start")
    elif part.kind == "header":
        ys = [y for _, y in points]
        x = points[0][0]
        svg.rect(
            x - 8,
            min(ys) - 10,
            16,
            max(ys) - min(ys) + 20,
            fill="none",
            stroke=colour,
            radius=3,
            width=width,
            dash=dash,
        )
        svg.text(x, max(ys) + 26, part.ref, size=14, weight="bold", fill=colour)
        for name, hole in part.pins.items():
            label = board.pin_labels.get(f"{part.ref}.{name}")
            if label:
                hx, hy = _xy(hole)
                svg.text(hx + 10, hy + 4, label, size=11, weight="bold", fill="#1d2327", anchor="start")
    elif part.kind == "jack":
        ys = [y for _, y in points]
        x = points[0][0]
        top, bottom = min(ys) - 10, max(ys) + 10
        svg.rect(
            x - 118, top, 84, bottom - top, fill="#eceff1", stroke=colour, radius=5, width=width, dash=dash
        )
        svg.text(x - 76, (top + bottom) / 2 + 5, part.ref, size=15, weight="bold", fill=colour)
        for name, hole in part.pins.items():
            hx, hy = _xy(hole)
            svg.line([(x - 34, hy), (hx, hy)], stroke=colour, width=2)
            svg.text(x - 38, hy + 4, name, size=11, weight="bold", fill="#1d2327", anchor="end")
