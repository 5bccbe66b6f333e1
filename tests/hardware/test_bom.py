"""The bill of materials: its totals, and that the guide and the BOM name the same parts."""

from __future__ import annotations

import csv
import html
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


def expected_total(rows, clamps: int, groups=("base", "voltage")) -> Decimal:
    """From the CSV's rows: a line per clamp counts once per clamp, a line per meter its quantity."""
    return sum(
        (Decimal(r["unit_price_eur"]) * (clamps if r["per"] == "clamp" else int(r["quantity"]))
         for r in rows if r["group"] in groups),
        Decimal("0"),
    )


def test_lines_per_clamp_count_one_per_clamp():
    rows = _rows()
    per_clamp = {r["reference"] for r in rows if r["per"] == "clamp"}
    # The clamp, its jack, burden, bias divider and capacitor: one of each per clamp.
    assert per_clamp == {"CT1 CT2 CT3", "J1 J2 J3", "R1 R2 R3", "R4 R5 R6", "R7 R8 R9", "C1 C2 C3"}
    bom = load_bom(BOM_CSV)
    for clamps in (1, 2, 3):
        quantities = {line.reference: line.quantity_for(clamps) for line in bom.lines}
        assert {quantities[ref] for ref in per_clamp} == {clamps}
        assert quantities["U1"] == 1 and quantities["H1 H2"] == 2
    assert bom["CT2"].references_for(2) == ("CT1", "CT2")


def test_totals_per_configuration_are_computed_from_the_csv():
    rows = _rows()
    bom = load_bom(BOM_CSV)
    for clamps in (1, 2, 3):
        assert bom.total_eur("base", clamps=clamps) == expected_total(rows, clamps, ("base",))
        assert bom.total_eur(clamps=clamps) == expected_total(rows, clamps)
    clamp_set = sum(Decimal(r["unit_price_eur"]) for r in rows if r["per"] == "clamp")
    assert bom.total_eur("base", clamps=2) - bom.total_eur("base", clamps=1) == clamp_set


def test_the_built_bom_table_shows_the_quantities_and_totals(built):
    rows = _rows()
    bom = load_bom(BOM_CSV)
    page = (built.out_dir / "fr" / "materials.html").read_text(encoding="utf-8")
    for clamps in (1, 2, 3):
        for groups in (("base",), ("base", "voltage")):
            shown = re.search(rf'data-total="{" ".join(groups)}" data-clamps="{clamps}"[^>]*>([^<]+)<',
                              page).group(1)
            assert shown == f"{expected_total(rows, clamps, groups):.2f}".replace(".", ",") + " €"
    table = page.split('class="cw-generated cw-bom"', 1)[1].split("</table>", 1)[0]
    clamp_row = next(tr for tr in table.split("<tr") if "CT1 CT2 CT3" in tr)
    assert re.findall(r'data-clamps="(\d)"[^>]*>(\d+)<', clamp_row) == [("1", "1"), ("2", "2"), ("3", "3")]
    header_row = next(tr for tr in table.split("<tr") if ">H1 H2<" in tr)
    assert re.findall(r'data-clamps="(\d)"[^>]*>(\d+)<', header_row) == [("1", "2"), ("2", "2"), ("3", "2")]
    # Every European example is shown, marked as an example.
    for line in bom.lines:
        if line.examples_eu:
            assert html.escape(line.examples_eu) in table
    assert "En Europe, par exemple" in table
    price = r'class="cw-price" data-groups="([^"]*)" data-clamps="(\d)" data-value="([^"]+)"'
    prices = re.findall(price, page)
    assert ("base", "1", str(bom.total_eur("base", clamps=1))) in prices
    assert ("base voltage", "1", str(bom.total_eur(clamps=1))) in prices


def test_the_boards_parts_are_the_boms_for_each_number_of_clamps():
    """The layout drawn for n clamps holds exactly the BOM's parts for n clamps (and the voltage
    option's when it is on): the BOM cannot list a jack the board has no place for."""
    from citizenwatt.guide.bom import load_pinout
    from citizenwatt.guide.build import CONFIGURATIONS, DiagramContext, load_diagrams

    bom = load_bom(BOM_CSV)
    ctx = DiagramContext("en", design_data().constants, bom, load_pinout(ROOT / "hardware" / "pinout.csv"))
    layout = load_diagrams(ROOT)["layout"]
    on_board = re.compile(r"(J|R|C|H)\d+")  # jacks, resistors, capacitors, headers (not CT, CBL)
    for clamps, voltage in CONFIGURATIONS:
        groups = ("base", "voltage") if voltage else ("base",)
        expected = {ref for line in bom.lines if line.group in groups
                    for ref in line.references_for(clamps) if on_board.fullmatch(ref)}
        placed = {part.ref for part in layout.board(ctx, clamps, voltage).parts}
        assert placed == expected, (clamps, voltage)


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


def test_a_line_per_clamp_needs_one_reference_per_clamp(tmp_path):
    bad = tmp_path / "bom.csv"
    text = BOM_CSV.read_text(encoding="utf-8")
    bad.write_text(text.replace("CT1 CT2 CT3,", "CT1,", 1).replace(",3,YHDC,", ",1,YHDC,", 1),
                   encoding="utf-8")
    with pytest.raises(BomError, match="one reference per clamp, 3 in all"):
        load_bom(bad)


def test_a_bad_quantity_is_refused_with_a_sentence(tmp_path):
    bad = tmp_path / "bom.csv"
    text = BOM_CSV.read_text(encoding="utf-8")
    bad.write_text(text.replace("R1 R2 R3,", "R1 R2,", 1), encoding="utf-8")
    with pytest.raises(BomError, match="quantity must equal the number of references"):
        load_bom(bad)
