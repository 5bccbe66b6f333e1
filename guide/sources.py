# SPDX-License-Identifier: AGPL-3.0-or-later
"""Guide sources (hardware/guide/<lang>/NN-slug.md) rendered to HTML chapters.

Each chapter is a Jinja2 template over Markdown: numbers, tables and part names come from
the design calculator, the firmware defaults and the BOM through the helpers below, so
the text cannot drift from them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import markdown

from citizenwatt.errors import GuideSourceError
from citizenwatt.guide.bom import MAX_CLAMPS, REFERENCE_PATTERN, Bom, Pin
from citizenwatt.guide.design import Constant, DesignSheet, GeneratedTable
from citizenwatt.i18n import LANGS, N_, _, format_number, ngettext

CHAPTER_FILE = re.compile(r"^(\d\d)-([a-z0-9-]+)\.md$")
MARKDOWN_EXTENSIONS = ["tables", "toc", "attr_list", "admonition", "fenced_code", "md_in_html", "sane_lists"]


@dataclass
class Chapter:
    lang: str
    number: int
    slug: str
    title: str
    html: str
    sections: list[tuple[str, str]]  # (id, title) of the h2 headings, for the page's table of contents
    source: Path
    parts_named: set[str] = field(default_factory=set)  # BOM references named in the prose


def source_dir(root: Path) -> Path:
    return root / "hardware" / "guide"


def chapter_files(guide_dir: Path, lang: str) -> list[Path]:
    folder = guide_dir / lang
    files = sorted(path for path in folder.glob("*.md") if CHAPTER_FILE.match(path.name))
    if not files:
        raise GuideSourceError(
            _("No chapter in {folder}: add files named like 01-securite.md.", folder=folder)
        )
    return files


def chapter_slug(path: Path) -> str:
    match = CHAPTER_FILE.match(path.name)
    assert match is not None
    return match.group(2)


class RenderContext:
    """The helpers a chapter template can call, for one language."""

    def __init__(
        self,
        lang: str,
        bom: Bom,
        constants: dict[str, Constant],
        tables: dict[str, GeneratedTable | DesignSheet],
        slugs: list[str],
        figures: set[str],
        pins: dict[str, Pin],
    ) -> None:
        self.pins = pins
        self.lang = lang
        self.bom = bom
        self.constants = constants
        self.tables = tables
        self.slugs = slugs
        self.figures = figures
        self.current: Path | None = None

    def _fail(self, message: str) -> None:
        raise GuideSourceError(_("{path}: {message}", path=self.current, message=message))

    def const(self, key: str, unit: bool = True, percent: bool = False) -> str:
        """A number from the design calculator or the firmware, marked so that tests can check it."""
        if key not in self.constants:
            self._fail(
                _(
                    "unknown constant {key!r}; known: {known}.",
                    key=key,
                    known=", ".join(sorted(self.constants)),
                )
            )
        constant = self.constants[key]
        shown = constant.display(self.lang, with_unit=unit, percent=percent)
        return (
            f'<span class="cw-const" data-key="{html.escape(key)}" '
            f'data-value="{html.escape(str(constant.value))}">{html.escape(shown)}</span>'
        )

    def part(self, reference: str) -> str:
        """A part named by its BOM reference, with its description on hover."""
        try:
            line = self.bom[reference]
        except KeyError:
            self._fail(
                _(
                    "the part {reference!r} is not in hardware/bom.csv: add it or fix the reference.",
                    reference=reference,
                )
            )
        title = f"{line.part(self.lang)} — {line.value_in(self.lang)}"
        return f'<span class="cw-part" title="{html.escape(title)}">{reference}</span>'

    def pin(self, signal: str) -> str:
        """The ESP32 input a channel is wired to, from hardware/pinout.csv."""
        if signal not in self.pins:
            self._fail(
                _(
                    "unknown signal {signal!r}; hardware/pinout.csv has {known}.",
                    signal=signal,
                    known=", ".join(self.pins),
                )
            )
        gpio = self.pins[signal].gpio
        return f'<span class="cw-pin" data-signal="{signal}" data-value="{gpio}">GPIO{gpio}</span>'

    def price(self, *groups: str, clamps: int = 1) -> str:
        """The cost of one meter with this many clamps and these groups of BOM lines."""
        total = self.bom.total_eur(*groups, clamps=clamps)
        price = format_number(total, 2, lang=self.lang)
        return (f'<span class="cw-price" data-groups="{" ".join(groups)}" data-clamps="{clamps}" '
                f'data-value="{total}">{price} €</span>')

    def table(self, name: str) -> str:
        if name == "bom":
            return bom_table(self.bom, self.lang)
        if name == "bom-totals":
            return bom_totals_table(self.bom, self.lang)
        if name == "pinout":
            return pinout_table(self.pins, self.lang)
        if name not in self.tables:
            self._fail(
                _(
                    "unknown table {name!r}; known: bom, {known}.",
                    name=name,
                    known=", ".join(sorted(self.tables)),
                )
            )
        return self.tables[name].to_html(self.lang)

    def figure(self, name: str, caption: str) -> str:
        if name not in self.figures:
            self._fail(
                _(
                    "unknown figure {name!r}: add hardware/diagrams/{name}.py or use one of {known}.",
                    name=name,
                    known=", ".join(sorted(self.figures)),
                )
            )
        # The drawing links to itself: on a phone it opens alone, where it can be zoomed.
        hint = _("Touch the drawing to open it alone, full size.", lang=self.lang)
        return (
            f'<figure class="cw-figure" id="fig-{name}"><div class="cw-scroll cw-figure-box">'
            f'<a class="cw-zoom" href="img/{name}.svg">'
            f'<img src="img/{name}.svg" alt="{html.escape(caption)}">'
            f'</a></div><figcaption>{html.escape(caption)} <span class="cw-hint">{html.escape(hint)}</span>'
            "</figcaption></figure>"
        )

    def link(self, slug: str, anchor: str = "") -> str:
        if slug not in self.slugs:
            self._fail(
                _(
                    "link to an unknown chapter {slug!r}; the chapters are {known}.",
                    slug=slug,
                    known=", ".join(self.slugs),
                )
            )
        return f"{slug}.html" + (f"#{anchor}" if anchor else "")

    def namespace(self) -> dict[str, object]:
        return {
            "lang": self.lang,
            "const": self.const,
            "part": self.part,
            "pin": self.pin,
            "price": self.price,
            "table": self.table,
            "figure": self.figure,
            "link": self.link,
            "bom": self.bom,
        }


def bom_table(bom: Bom, lang: str) -> str:
    """The BOM with its quantities for 1, 2 and 3 clamps; each cell carries its column's name, so
    that on a phone each line stacks into a card instead of scrolling sideways."""
    labels = [_(label, lang=lang) for label in (N_("Ref."), N_("Part"), N_("Value"))]
    labels += [ngettext("Qty, {n} clamp", "Qty, {n} clamps", n, lang=lang) for n in range(1, MAX_CLAMPS + 1)]
    labels += [_(label, lang=lang) for label in (N_("Unit price"), N_("Maker and part number"),
                                                  N_("In Europe, for example"))]
    head = "".join(f'<th scope="col">{html.escape(label)}</th>' for label in labels)
    rows = []
    for line in bom.lines:
        group = "" if line.group == "base" else f' class="cw-group-{line.group}"'
        cells = [
            ("", html.escape(line.reference)),
            ("", html.escape(line.part(lang))),
            ("", html.escape(line.value_in(lang))),
        ]
        cells += [(f' class="num cw-qty" data-clamps="{n}"', str(line.quantity_for(n)))
                  for n in range(1, MAX_CLAMPS + 1)]
        cells += [
            (' class="num cw-unit-price"', f"{format_number(line.unit_price_eur, 2, lang=lang)} €"),
            ("", html.escape(f"{line.supplier_in(lang)} {line.supplier_part_number}")),
            ("", html.escape(line.examples_eu) or "—"),
        ]
        tds = "".join(f'<td{attrs} data-label="{html.escape(label)}">{text}</td>'
                      for label, (attrs, text) in zip(labels, cells, strict=True))
        rows.append(f"<tr{group}>{tds}</tr>")
    return (
        f'<table class="cw-generated cw-bom" data-source="hardware/bom.csv"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def bom_totals_table(bom: Bom, lang: str) -> str:
    """The cost of one meter for each number of clamps, without and with the voltage option."""
    head = [_(h, lang=lang) for h in (N_("Clamps"), N_("Base version"), N_("With the voltage option"))]
    rows = []
    for n in range(1, MAX_CLAMPS + 1):
        base, both = bom.total_eur("base", clamps=n), bom.total_eur("base", "voltage", clamps=n)
        rows.append(
            f'<tr><th scope="row">{n}</th>'
            f'<td class="num" data-total="base" data-clamps="{n}" data-label="{html.escape(head[1])}">'
            f"{format_number(base, 2, lang=lang)} €</td>"
            f'<td class="num" data-total="base voltage" data-clamps="{n}" '
            f'data-label="{html.escape(head[2])}">'
            f"{format_number(both, 2, lang=lang)} €</td></tr>"
        )
    return (
        '<table class="cw-generated cw-totals" data-table="bom-totals" data-source="hardware/bom.csv">'
        "<thead><tr>"
        + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


_TABLE = re.compile(r"<table\b.*?</table>", re.S)


def scroll_regions(body: str, lang: str) -> str:
    """Wide tables scroll inside their own box on a phone; each box is a labelled region that the
    keyboard can reach (tabindex), and code blocks can be focused to scroll them too. The BOM and
    its totals stack on a phone instead, so they stay as they are."""
    count = 0

    def wrap(match: re.Match[str]) -> str:
        nonlocal count
        table = match.group(0)
        if 'class="cw-generated cw-bom"' in table or "cw-totals" in table:
            return table
        count += 1
        label = _("Table {n} (scrolls sideways on a small screen)", lang=lang, n=count)
        attrs = f'class="cw-scroll" tabindex="0" role="region" aria-label="{html.escape(label)}"'
        return f"<div {attrs}>{table}</div>"

    body = _TABLE.sub(wrap, body)
    return body.replace("<pre>", '<pre tabindex="0">')


def pinout_table(pins: dict[str, Pin], lang: str) -> str:
    head = [_(h, lang=lang) for h in (N_("Channel"), N_("ESP32 pin"), N_("ADC input"), N_("Parts"))]
    rows = "".join(
        f'<tr><td>{html.escape(pin.label(lang))}</td><td data-signal="{pin.signal}" '
        f'data-value="{pin.gpio}">GPIO{pin.gpio}</td>'
        f"<td>{pin.adc}</td><td>{' '.join(pin.parts)}</td></tr>"
        for pin in pins.values()
    )
    return (
        '<table class="cw-generated" data-table="pinout" data-source="hardware/pinout.csv"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def render_chapter(path: Path, context: RenderContext, number: int) -> Chapter:
    context.current = path
    # Jinja comments are {## ... ##} so that Markdown's heading ids, {#like-this}, stay Markdown.
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        comment_start_string="{##",
        comment_end_string="##}",
    )
    try:
        template = env.from_string(path.read_text(encoding="utf-8"))
        source = template.render(**context.namespace())
    except jinja2.TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"{path}, line {line}" if line else str(path)
        raise GuideSourceError(
            N_("{where}: template error: {error}."),
            N_("Check the {{{{ ... }}}} expressions."),
            where=where,
            error=error,
        ) from error
    md = markdown.Markdown(extensions=MARKDOWN_EXTENSIONS)
    body = scroll_regions(md.convert(source), context.lang)
    tokens = getattr(md, "toc_tokens", [])
    if not tokens or tokens[0]["level"] != 1:
        raise GuideSourceError(_("{path}: a chapter starts with a '# Title' line.", path=path))
    title = html.unescape(tokens[0]["name"])
    sections = [(child["id"], html.unescape(child["name"])) for child in tokens[0]["children"]]
    chapter = Chapter(
        lang=context.lang,
        number=number,
        slug=chapter_slug(path),
        title=title,
        html=body,
        sections=sections,
        source=path,
    )
    chapter.parts_named = set(REFERENCE_PATTERN.findall(prose_text(body)))
    return chapter


_BLOCKS = {
    "p",
    "li",
    "td",
    "th",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "div",
    "figcaption",
    "pre",
    "table",
    "ol",
    "ul",
}


class _TextCollector(HTMLParser):
    """Visible text of an HTML fragment, skipping the generated BOM table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._skip_depth:
            if tag == "table":
                self._skip_depth += 1
        elif tag == "table" and "cw-bom" in classes:
            self._skip_depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth and tag == "table":
            self._skip_depth -= 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def prose_text(fragment: str) -> str:
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return re.sub(r"\s+", " ", "".join(collector.parts)).strip()


def render_language(root: Path, lang: str, context_factory) -> list[Chapter]:
    assert lang in LANGS
    files = chapter_files(source_dir(root), lang)
    context: RenderContext = context_factory(lang, [chapter_slug(path) for path in files])
    return [render_chapter(path, context, number) for number, path in enumerate(files, start=1)]
