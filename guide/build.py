# SPDX-License-Identifier: AGPL-3.0-or-later
"""`citizenwatt guide build`: the static site (both languages, search, language switch) and one
printable PDF per language, from hardware/ (guide sources, BOM, diagram sources)."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType

import jinja2

from citizenwatt import __version__
from citizenwatt.errors import GuideBuildError
from citizenwatt.guide.bom import REFERENCE_PATTERN, Bom, Pin, load_bom, load_pinout
from citizenwatt.guide.design import Constant, DesignData, adc1_channel, bom_mismatches, design_data
from citizenwatt.guide.sources import Chapter, RenderContext, prose_text, render_language, scroll_regions
from citizenwatt.i18n import LANGS, N_, _, install_jinja, lang_scope

LICENCE_FILES = ("CERN-OHL-S-2.0.txt", "CC-BY-SA-4.0.txt", "AGPL-3.0-or-later.txt")


@dataclass(frozen=True)
class DiagramContext:
    """What a diagram source (hardware/diagrams/<name>.py) receives: draw(ctx) returns SVG text."""

    lang: str
    constants: dict[str, Constant]
    bom: Bom
    pins: dict[str, Pin]

    def const(self, key: str, unit: bool = True) -> str:
        return self.constants[key].display(self.lang, with_unit=unit)


@dataclass
class BuildReport:
    out_dir: Path
    chapters: dict[str, list[Chapter]] = field(default_factory=dict)
    pdfs: dict[str, Path] = field(default_factory=dict)
    pdf_pages: dict[str, int] = field(default_factory=dict)
    diagram_parts: dict[str, set[str]] = field(default_factory=dict)  # lang -> references in SVG text
    figures: dict[str, set[str]] = field(default_factory=dict)  # lang -> figure names (img/<name>.svg)
    seconds: dict[str, float] = field(default_factory=dict)


def find_root(start: Path | None = None) -> Path:
    """The checkout that holds hardware/guide: the current folder or a parent, else the package's."""
    candidates = []
    here = (start or Path.cwd()).resolve()
    candidates.extend([here, *here.parents])
    package_root = Path(__file__).resolve().parents[1]
    candidates.append(package_root)
    for candidate in candidates:
        if (candidate / "hardware" / "guide").is_dir() and (candidate / "hardware" / "bom.csv").is_file():
            return candidate
    raise GuideBuildError(_(
        "The guide's sources (hardware/guide and hardware/bom.csv) are not found: run the command "
        "from a copy of Citizen Watt, or give its path with --src."))


def consistency_problems(bom: Bom, pins: dict[str, Pin], data: DesignData) -> list[str]:
    """Where hardware/ (BOM values, pinout) disagrees with the firmware, as sentences to act on."""
    problems = bom_mismatches(bom, data)
    # Every signal of the board against the firmware's one pin map (firmware/config.py).
    firmware = {
        key.removeprefix("config.pin_"): c.value
        for key, c in data.constants.items()
        if key.startswith("config.pin_")
    }
    for required in ("current_1", "voltage"):
        if required not in pins:
            problems.append(
                f"hardware/pinout.csv has no {required} line; the firmware reads it on "
                f"GPIO{firmware.get(required, '?')}."
            )
    for pin in pins.values():
        if pin.signal not in firmware:
            problems.append(
                f"hardware/pinout.csv, {pin.signal}: not a signal the firmware knows ({', '.join(firmware)})."
            )
        elif pin.gpio != firmware[pin.signal]:
            problems.append(
                f"hardware/pinout.csv wires {pin.signal} to GPIO{pin.gpio} but the firmware "
                f"(firmware/config.py CURRENT_PINS, VOLTAGE_PIN) reads GPIO{firmware[pin.signal]}; make "
                "them the same."
            )
        expected_adc = adc1_channel(pin.gpio)
        if expected_adc is None:
            problems.append(
                f"hardware/pinout.csv, {pin.signal}: GPIO{pin.gpio} is not an ADC1 input (ADC2 "
                "cannot be read while Wi-Fi is on)."
            )
        elif pin.adc != expected_adc:
            problems.append(
                f"hardware/pinout.csv, {pin.signal}: GPIO{pin.gpio} is {expected_adc}, not {pin.adc}."
            )
    for pin in pins.values():
        unknown = [ref for ref in pin.parts if ref not in bom.references]
        if unknown:
            problems.append(
                f"hardware/pinout.csv, {pin.signal}: parts {', '.join(unknown)} are not in hardware/bom.csv."
            )
    return problems


def load_diagrams(root: Path) -> dict[str, ModuleType]:
    modules = {}
    for path in sorted((root / "hardware" / "diagrams").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"citizenwatt_diagram_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "draw"):
            raise GuideBuildError(f"{path} has no draw(ctx) function; every diagram source needs one.")
        modules[path.stem] = module
    return modules


# The configurations the stripboard layout is drawn for: 1 to 3 clamps, with or without voltage.
CONFIGURATIONS = tuple((channels, voltage) for channels in (1, 2, 3) for voltage in (False, True))


def board_problems(diagrams: dict[str, ModuleType], ctx: DiagramContext) -> list[str]:
    """The layout checked against the schematic's netlist in every configuration it is drawn for."""
    layout = diagrams.get("layout")
    if layout is None or not hasattr(layout, "check"):
        return []
    problems = []
    for channels, voltage in CONFIGURATIONS:
        for problem in layout.check(ctx, channels, voltage):
            option = " + voltage" if voltage else ""
            problems.append(f"{channels} clamp(s){option}: {problem}")
    return problems


def svg_text(svg: str) -> str:
    return " ".join(html.unescape(t) for t in re.findall(r">([^<>]+)<", svg))


def _page_env() -> jinja2.Environment:
    loader = jinja2.PackageLoader("citizenwatt.guide", "templates")
    env = jinja2.Environment(
        loader=loader, autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined
    )
    install_jinja(env)  # _() in the page's `lang`
    return env


def _search_entries(chapters: list[Chapter]) -> list[dict[str, str]]:
    """One entry per section (the h2 headings split a chapter), so a hit lands near the text."""
    entries = []
    for chapter in chapters:
        parts = re.split(r'(<h2 id="[^"]+">.*?</h2>)', chapter.html)
        current_id, current_title = "", chapter.title
        buffer = parts[0]
        chunks = []
        for piece in parts[1:]:
            match = re.match(r'<h2 id="([^"]+)">(.*?)</h2>', piece)
            if match:
                chunks.append((current_id, current_title, buffer))
                current_id, current_title = (
                    match.group(1),
                    html.unescape(re.sub(r"<[^>]+>", "", match.group(2))),
                )
                buffer = ""
            else:
                buffer += piece
        chunks.append((current_id, current_title, buffer))
        for anchor, title, fragment in chunks:
            text = re.sub(r"\s+", " ", prose_text(fragment)).strip()
            if not text and not anchor:
                continue
            label = chapter.title if not anchor else f"{chapter.title} › {title}"
            entries.append(
                {"u": f"{chapter.slug}.html" + (f"#{anchor}" if anchor else ""), "t": label, "x": text}
            )
    return entries


def _print_html(chapter: Chapter) -> str:
    """A chapter's HTML with ids prefixed by the chapter, and links between chapters made internal."""
    # Paper does not scroll: the tables' scroll boxes lose their keyboard stop and region name.
    body = re.sub(r'<div class="cw-scroll" tabindex="0" role="region" aria-label="[^"]*">',
                  '<div class="cw-scroll">', chapter.html)
    body = body.replace('<pre tabindex="0">', "<pre>")
    body = re.sub(r'id="([^"]+)"', lambda m: f'id="{chapter.slug}--{m.group(1)}"', body)
    body = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{chapter.slug}--{m.group(1)}"', body)
    body = re.sub(r'href="([a-z0-9-]+)\.html#([^"]+)"', lambda m: f'href="#{m.group(1)}--{m.group(2)}"', body)
    body = re.sub(r'href="([a-z0-9-]+)\.html"', lambda m: f'href="#{m.group(1)}"', body)
    return body


MARKER = ".citizenwatt-guide"


def _clear_output(out_dir: Path) -> None:
    """Empty the output folder, but only if it is empty or holds a previous guide build."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise GuideBuildError(_("{path} is a file: give --out a folder.", path=out_dir))
        if any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
            raise GuideBuildError(
                _(
                    "{path} is not empty and was not made by `citizenwatt guide build`: give --out an "
                    "empty or new folder, so that none of your files is erased.",
                    path=out_dir,
                )
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text(
        "Built by `citizenwatt guide build`; emptied on every build.\n", encoding="utf-8"
    )


def build_guide(
    out_dir: Path, root: Path | None = None, pdf: bool = True, data: DesignData | None = None
) -> BuildReport:
    root = root or find_root()
    for required in ("hardware/bom.csv", "hardware/pinout.csv", "hardware/guide", "hardware/diagrams"):
        if not (root / required).exists():
            raise GuideBuildError(
                N_("{path} cannot be found: the guide cannot be built."),
                N_("Give --src the root of a copy of Citizen Watt (the folder that holds hardware/)."),
                path=root / required,
            )
    out_dir = Path(out_dir)
    started = time.perf_counter()
    report = BuildReport(out_dir=out_dir)
    bom = load_bom(root / "hardware" / "bom.csv")
    data = data or design_data()
    pins = load_pinout(root / "hardware" / "pinout.csv")
    problems = consistency_problems(bom, pins, data)
    if problems:
        raise GuideBuildError(
            _("The hardware (hardware/) no longer matches the firmware; fix:")
            + "\n- "
            + "\n- ".join(problems)
        )
    diagrams = load_diagrams(root)
    layout_problems = board_problems(diagrams, DiagramContext("en", data.constants, bom, pins))
    if layout_problems:
        raise GuideBuildError(
            _("The stripboard layout (hardware/diagrams/layout.py) no longer matches the schematic's "
              "netlist; fix:") + "\n- " + "\n- ".join(layout_problems)
        )
    _clear_output(out_dir)
    env = _page_env()

    assets = out_dir / "assets"
    assets.mkdir()
    for name in ("style.css", "print.css", "search.js"):
        (assets / name).write_bytes(
            resources.files("citizenwatt.guide").joinpath("static", name).read_bytes()
        )
    (out_dir / "downloads").mkdir()
    shutil.copy2(root / "hardware" / "bom.csv", out_dir / "downloads" / "bom.csv")
    (out_dir / "licenses").mkdir()
    for name in LICENCE_FILES:
        source = root / "hardware" / "LICENSES" / name
        if not source.is_file():
            raise GuideBuildError(
                N_("Licence text missing: {path}."), N_("Restore it from the repository."), path=source
            )
        shutil.copy2(source, out_dir / "licenses" / name)
    (out_dir / "index.html").write_text(env.get_template("root.html").render(), encoding="utf-8")

    for lang in LANGS:
        lang_dir = out_dir / lang
        (lang_dir / "img").mkdir(parents=True)
        diagram_context = DiagramContext(lang=lang, constants=data.constants, bom=bom, pins=pins)
        refs: set[str] = set()
        figures: set[str] = set()
        for name, module in diagrams.items():
            with lang_scope(lang):  # the diagrams' _() speak the language being built
                drawn = {name: module.draw(diagram_context)}
                if hasattr(module, "figures"):  # a source may draw several figures (layout, steps)
                    drawn.update(module.figures(diagram_context))
            for figure, svg in drawn.items():
                (lang_dir / "img" / f"{figure}.svg").write_text(svg, encoding="utf-8")
                refs |= set(REFERENCE_PATTERN.findall(svg_text(svg)))
                figures.add(figure)
        report.diagram_parts[lang] = refs
        report.figures[lang] = figures

        def context_factory(lang_: str, slugs: list[str], figures: set[str] = figures) -> RenderContext:
            return RenderContext(lang_, bom, data.constants, data.tables, slugs, figures, pins)

        chapters = render_language(root, lang, context_factory)
        report.chapters[lang] = chapters
        _write_language(env, lang_dir, lang, chapters)
    report.seconds["site"] = time.perf_counter() - started

    if pdf:
        from citizenwatt.guide.pdf import write_pdf

        pdf_dir = out_dir / "pdf"
        pdf_dir.mkdir()
        for lang in LANGS:
            t0 = time.perf_counter()
            target = pdf_dir / f"citizenwatt-guide-{lang}.pdf"
            report.pdf_pages[lang] = write_pdf(out_dir / lang / "print.html", target)
            report.pdfs[lang] = target
            report.seconds[f"pdf_{lang}"] = time.perf_counter() - t0
    report.seconds["total"] = time.perf_counter() - started
    return report


def _write_language(env: jinja2.Environment, lang_dir: Path, lang: str, chapters: list[Chapter]) -> None:
    other = next(code for code in LANGS if code != lang)
    page = env.get_template("page.html")
    common = {
        "lang": lang,
        "other_lang": other,
        "chapters": chapters,
        "version": __version__,
        "pdf_name": f"citizenwatt-guide-{lang}.pdf",
    }

    def write(
        filename: str, title: str, body: str, chapter: Chapter | None = None, previous=None, next_=None
    ):
        text = page.render(
            **common,
            filename=filename,
            title=title,
            body=markupsafe_markup(body),
            chapter=chapter,
            previous=previous,
            next=next_,
        )
        (lang_dir / filename).write_text(text, encoding="utf-8")

    for index, chapter in enumerate(chapters):
        previous = chapters[index - 1] if index > 0 else None
        next_ = chapters[index + 1] if index + 1 < len(chapters) else None
        write(f"{chapter.slug}.html", chapter.title, chapter.html, chapter, previous, next_)

    items = "".join(f'<li><a href="{c.slug}.html">{html.escape(c.title)}</a></li>' for c in chapters)
    say = {
        key: html.escape(text)
        for key, text in (
            ("title", _("Citizen Watt — build guide", lang=lang)),
            ("subtitle", _("Build, calibrate and install an open-source electricity meter", lang=lang)),
            ("contents", _("Contents", lang=lang)),
            ("downloads", _("Downloads", lang=lang)),
            ("pdf", _("Printable version (PDF)", lang=lang)),
            ("bom", _("Bill of materials (CSV)", lang=lang)),
            ("search", _("Search the guide", lang=lang)),
            ("schematic", _("The meter's schematic (touch it to open it full size)", lang=lang)),
        )
    }
    home = (
        f"<h1>{say['title']}</h1><p>{say['subtitle']}.</p>"
        f'<figure class="cw-figure"><div class="cw-scroll cw-figure-box"><a class="cw-zoom" '
        f'href="img/schematic.svg"><img src="img/schematic.svg" alt="{say["schematic"]}"></a></div></figure>'
        f'<h2>{say["contents"]}</h2><ol class="home-toc">{items}</ol>'
        f"<h2>{say['downloads']}</h2><ul>"
        f'<li><a href="../pdf/{common["pdf_name"]}">{say["pdf"]}</a></li>'
        f'<li><a href="print.html">{say["pdf"]} — HTML</a></li>'
        f'<li><a href="../downloads/bom.csv">{say["bom"]}</a></li></ul>'
    )
    write("index.html", _("Home", lang=lang), home)

    search_body = f'<h1>{say["search"]}</h1><div id="search-page-results" aria-live="polite"></div>'
    write("search.html", _("Search the guide", lang=lang), search_body)

    licences = _licences_body(lang)
    write("licences.html", _("Licences", lang=lang), licences)

    search_index = {
        "lang": lang,
        "labels": {
            "none": _("No result. Try another word (for example “clamp” or “resistor”).", lang=lang),
            "results": _("Results", lang=lang),
        },
        "entries": _search_entries(chapters),
    }
    (lang_dir / "search-index.js").write_text(
        "window.CW_SEARCH_INDEX = " + json.dumps(search_index, ensure_ascii=False) + ";\n", encoding="utf-8"
    )

    for chapter in chapters:
        chapter.print_html = _print_html(chapter)  # type: ignore[attr-defined]
    (lang_dir / "print.html").write_text(env.get_template("print.html").render(**common), encoding="utf-8")


def _licences_body(lang: str) -> str:
    rows = [
        (N_("Guide text (hardware/guide/)"), "CC-BY-SA-4.0", "CC-BY-SA-4.0.txt"),
        (
            N_("Hardware: schematics, bill of materials, diagram sources (hardware/)"),
            "CERN-OHL-S-2.0",
            "CERN-OHL-S-2.0.txt",
        ),
        (
            N_("Code: firmware, collector, API, workshop tool, guide builder"),
            "AGPL-3.0-or-later",
            "AGPL-3.0-or-later.txt",
        ),
    ]
    intro = _(
        "Citizen Watt is open: you may build, modify and share the meter and this guide, as long "
        "as you share your changes under the same licences.",
        lang=lang,
    )
    head = (_("What it covers", lang=lang), _("SPDX identifier", lang=lang), _("Text", lang=lang))
    body = "".join(
        f"<tr><td>{html.escape(_(what, lang=lang))}</td><td><code>{spdx}</code></td><td><a "
        f'href="../licenses/{name}">{name}</a></td></tr>'
        for what, spdx, name in rows
    )
    title = _("Licences", lang=lang)
    return scroll_regions(
        f"<h1>{title}</h1><p>{html.escape(intro)}</p><table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table>",
        lang,
    )


def markupsafe_markup(text: str):
    from markupsafe import Markup

    return Markup(text)
