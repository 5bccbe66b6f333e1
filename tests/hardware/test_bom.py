"""The bill of materials: its totals, and that the guide and the BOM name the same parts."""

from __future__ import annotations

import csv
import re
import shutil
from decimal import Decimal

import pytest

from citizenwatt.guide.bom import REFERENCE_PATTERN, BomError, load_bom
from citizenwatt.guide.design import bom_mismatches, design_data
from citizenwatt.i18n import LANGS
from tests.hardware.conftest import ROOT

BOM_CSV = ROOT / "hardware" / "bom.csv"


def _rows():
    with BOM_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_totals_per_meter_are_the_sum_of_quantity_times_price():
    rows = _rows()
    expected_base = sum(
        Decimal(r["unit_price_eur"]) * int(r["quantity"]) for r in rows if r["group"] == "base"
    )
    expected_all = sum(Decimal(r["unit_price_eur"]) * int(r["quantity"]) for r in rows)
    bom = load_bom(BOM_CSV)
    assert bom.total_eur("base") == expected_base
    assert bom.total_eur() == expected_all
    assert bom.total_eur("base", "voltage") == expected_all
    assert Decimal("20") < expected_base < expected_all < Decimal("150")  # a cheap meter, not a typo


def test_the_built_bom_table_shows_the_computed_totals(built):
    bom = load_bom(BOM_CSV)
    page = (built.out_dir / "fr" / "materials.html").read_text(encoding="utf-8")
    base = re.search(r'data-total="base">([^<]+)<', page).group(1)
    both = re.search(r'data-total="base voltage">([^<]+)<', page).group(1)
    assert base == f"{bom.total_eur('base'):.2f}".replace(".", ",") + " €"
    assert both == f"{bom.total_eur():.2f}".replace(".", ",") + " €"
    prices = re.findall(r'class="cw-price" data-groups="([^"]*)" data-value="([^"]+)"', page)
    assert ("base", str(bom.total_eur("base"))) in prices
    assert ("base voltage", str(bom.total_eur())) in prices


@pytest.mark.parametrize("lang", LANGS)
def test_every_bom_line_is_used_in_the_guide_text(built, lang):
    bom = load_bom(BOM_CSV)
    named = set().union(*(chapter.parts_named for chapter in built.chapters[lang]))
    unused = [line.reference for line in bom.lines if not set(line.references) & named]
    assert unused == [], f"BOM lines never mentioned in the {lang} guide (outside the BOM table): {unused}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_part_the_guide_names_is_in_the_bom(built, lang):
    bom = load_bom(BOM_CSV)
    named = (
        set().union(*(chapter.parts_named for chapter in built.chapters[lang])) | built.diagram_parts[lang]
    )
    assert len(named) >= 20
    assert sorted(named - bom.references) == []


def test_the_scan_catches_a_part_missing_from_the_bom():
    # The check above must be able to fail: a made-up designator in prose is seen.
    assert REFERENCE_PATTERN.findall("Soudez D7 puis R3 et ENC1 sur GPIO36.") == ["D7", "R3", "ENC1"]
    assert "D7" not in load_bom(BOM_CSV).references


def test_bom_values_equal_the_design_calculator():
    bom = load_bom(BOM_CSV)
    data = design_data()
    assert bom_mismatches(bom, data) == []
    checked = {line.design_key for line in bom.lines if line.design_key}
    assert {
        "burden_ohm",
        "bias_r_top_ohm",
        "bias_r_bottom_ohm",
        "bias_c_uf",
        "vdiv_r_top_ohm",
        "clamp",
    } <= checked
    burden = next(line for line in bom.lines if line.design_key == "burden_ohm")
    assert burden.value_si() == (data.design["burden_ohm"], "Ω")


def test_a_burden_that_drifts_from_the_calculator_is_reported(tmp_path):
    drifted = tmp_path / "bom.csv"
    shutil.copy(BOM_CSV, drifted)
    text = drifted.read_text(encoding="utf-8")
    burden = next(line for line in load_bom(BOM_CSV).lines if line.design_key == "burden_ohm")
    drifted.write_text(text.replace(burden.value, "22 Ω 1 % 0.25 W", 1), encoding="utf-8")
    problems = bom_mismatches(load_bom(drifted), design_data())
    assert len(problems) == 1
    assert (
        burden.reference in problems[0] and "22 Ω" in problems[0] and "update hardware/bom.csv" in problems[0]
    )


def test_a_bad_quantity_is_refused_with_a_sentence(tmp_path):
    bad = tmp_path / "bom.csv"
    text = BOM_CSV.read_text(encoding="utf-8")
    bad.write_text(text.replace("R1 R2 R3,", "R1 R2,", 1), encoding="utf-8")
    with pytest.raises(BomError, match="quantity must equal the number of references"):
        load_bom(bad)
