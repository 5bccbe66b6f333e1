"""The BOM table reads in the page's language: the English guide shows no French value
("jack stéréo", "broches", "électrolytique"), the French one writes decimals with a comma."""

from __future__ import annotations

import html
import re

from citizenwatt.guide.bom import load_bom
from tests.hardware.conftest import ROOT

FRENCH_ONLY = re.compile(r"[éèàçêôû]|\b(?:broches|demi|stéréo|électrolytique|générique)\b", re.I)


def _cells(page: str, column: int) -> list[str]:
    table = re.search(r'<table class="cw-generated cw-bom".*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr(?: class=\"cw-group-\w+\")?>((?:<td[^>]*>[^<]*</td>){9})</tr>", table)
    return [html.unescape(re.findall(r"<td[^>]*>([^<]*)</td>", row)[column]) for row in rows]


def _value_cells(page: str) -> list[str]:
    return _cells(page, 2)


def test_english_bom_table_has_english_values(built):
    bom = load_bom(ROOT / "hardware" / "bom.csv")
    values = _value_cells((built.out_dir / "en" / "materials.html").read_text(encoding="utf-8"))
    assert len(values) == len(bom.lines)
    french = [v for v in values if FRENCH_ONLY.search(v)]
    assert french == [], f"French values in the English guide: {french}"
    assert "10 µF 25 V electrolytic" in values
    suppliers = _cells((built.out_dir / "en" / "materials.html").read_text(encoding="utf-8"), 7)
    assert any(v.startswith("generic ") for v in suppliers)
    assert [v for v in suppliers if FRENCH_ONLY.search(v)] == []


def test_french_bom_table_writes_decimals_with_a_comma(built):
    values = _value_cells((built.out_dir / "fr" / "materials.html").read_text(encoding="utf-8"))
    assert [v for v in values if re.search(r"\d\.\d", v)] == []
    assert "15 Ω 1 % 0,25 W" in values and "jack stéréo 3,5 mm à interrupteur" in values


def test_part_hover_text_is_in_the_page_language(built):
    en = (built.out_dir / "en" / "circuit.html").read_text(encoding="utf-8")
    titles = [html.unescape(t) for t in re.findall(r'class="cw-part" title="([^"]*)"', en)]
    assert titles and [t for t in titles if FRENCH_ONLY.search(t)] == []
