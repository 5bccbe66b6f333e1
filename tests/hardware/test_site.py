"""The built site: internal links and images resolve, languages pair up, search finds things."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from citizenwatt.i18n import LANGS


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.refs.append(attrs[name])


def parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_internal_link_and_image_resolves(built):
    html_files = sorted(built.out_dir.rglob("*.html"))
    assert len(html_files) >= 2 * (9 + 4) + 1
    parsed = {path: parse(path) for path in html_files}
    checked = 0
    broken = []
    for path, page in parsed.items():
        for ref in page.refs:
            parts = urlsplit(ref)
            assert parts.scheme in ("", "file"), (
                f"{path.name} links outside the site: {ref} (the guide must work offline)"
            )
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(built.out_dir)} -> {ref}")
                continue
            if parts.fragment:
                ids = parsed[target].ids if target in parsed else set()
                if parts.fragment not in ids:
                    broken.append(f"{path.relative_to(built.out_dir)} -> {ref} (no such anchor)")
            checked += 1
    assert broken == []
    assert checked > 500


def test_the_link_check_sees_a_broken_link(built, tmp_path):
    page = tmp_path / "p.html"
    page.write_text('<a href="nowhere.html#x">x</a><img src="img/missing.svg">', encoding="utf-8")
    refs = parse(page).refs
    assert [r for r in refs if not (tmp_path / urlsplit(r).path).exists()] == refs


def test_each_page_has_its_counterpart_in_the_other_language(built):
    fr = sorted(p.name for p in (built.out_dir / "fr").glob("*.html"))
    en = sorted(p.name for p in (built.out_dir / "en").glob("*.html"))
    assert fr == en
    for lang, other in (("fr", "en"), ("en", "fr")):
        for name in fr:
            text = (built.out_dir / lang / name).read_text(encoding="utf-8")
            if name == "print.html":
                continue
            assert f'class="lang-switch" href="../{other}/{name}"' in text, (
                f"{lang}/{name} has no switch to {other}"
            )
            assert f'<html lang="{lang}">' in text


def test_chapters_have_navigation_to_every_chapter(built):
    for lang in LANGS:
        slugs = [chapter.slug for chapter in built.chapters[lang]]
        assert len(slugs) == 9
        for slug in slugs:
            text = (built.out_dir / lang / f"{slug}.html").read_text(encoding="utf-8")
            nav = text.split('<nav class="sidebar"', 1)[1].split("</nav>", 1)[0]
            assert re.findall(r'href="([a-z-]+)\.html"', nav)[: len(slugs)] == slugs
            assert 'aria-current="page"' in nav


def test_the_search_index_covers_every_chapter(built):
    for lang in LANGS:
        script = (built.out_dir / lang / "search-index.js").read_text(encoding="utf-8")
        index = json.loads(script.removeprefix("window.CW_SEARCH_INDEX = ").rstrip().rstrip(";"))
        assert index["lang"] == lang
        pages = {entry["u"].split("#")[0] for entry in index["entries"]}
        assert pages == {f"{chapter.slug}.html" for chapter in built.chapters[lang]}
        burden = [e for e in index["entries"] if e["u"] == "circuit.html#burden"]
        assert burden and ("charge" in burden[0]["x"] if lang == "fr" else "burden" in burden[0]["x"])


def test_diagrams_are_well_formed_svg_with_the_design_values(built):
    for lang in LANGS:
        images = sorted((built.out_dir / lang / "img").glob("*.svg"))
        steps = {f"step-{s}" for s in ("cuts", "links", "resistors", "capacitors", "headers", "jacks")}
        figures = {"schematic", "layout", "layout-1", "layout-2", "installation"}
        assert {p.stem for p in images} == figures | steps
        for image in images:
            root = ET.parse(image).getroot()
            assert root.tag.endswith("svg")
        schematic = (
            (built.out_dir / lang / "img" / "schematic.svg")
            .read_text(encoding="utf-8")
            .replace("\u00a0", " ")
        )
        assert "15 Ω" in schematic and "16 kΩ" in schematic and "130 kΩ" in schematic


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_search_page_finds_the_burden_section_in_a_real_browser(built):
    url = (built.out_dir / "en" / "search.html").as_uri() + "?q=burden%20resistor"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        ).stdout
    results = dom.split('id="search-page-results"', 1)[1]
    count = int(re.search(r'data-count="(\d+)"', dom).group(1))
    assert count >= 3
    assert 'href="circuit.html#burden"' in results
    assert "<mark>burden</mark>" in results.lower() or "<mark>Burden</mark>" in results
