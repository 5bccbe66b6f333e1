# SPDX-License-Identifier: AGPL-3.0-or-later
"""The bill of materials: hardware/bom.csv read into typed lines, with the cost per meter."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from citizenwatt.errors import BomError
from citizenwatt.i18n import N_

COLUMNS = (
    "reference",
    "part_fr",
    "part_en",
    "value",
    "value_en",
    "quantity",
    "supplier",
    "supplier_part_number",
    "unit_price_eur",
    "group",
    "design_key",
    "per",
    "examples_eu",
)
GROUPS = ("base", "voltage")
PER = ("meter", "clamp")  # one per meter, or one per clamp (a channel: its clamp, jack, burden, bias)
MAX_CLAMPS = 3  # the board has room for three clamps; a meter is built with 1, 2 or 3

# Value units the consistency check understands, with their SI prefixes.
_PREFIX = {"": 1.0, "p": 1e-12, "n": 1e-9, "µ": 1e-6, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6}
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
GENERIC_SUPPLIER = "générique"
_VALUE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([pnµumkM]?)(Ω|F|V|A)\b")

# What "naming a part" looks like in the guide: a reference designator such as R3, CT1 or
# ENC1. The prefixes are the ones the BOM uses plus common ones, so that a guide naming a
# D1 or an F1 that the BOM lacks is caught too.
REFERENCE_PATTERN = re.compile(r"\b(?:CBL|ENC|PCB|CT|TR|PS|SW|LED|U|R|C|J|H|W|D|F|Q)\d{1,2}\b")


@dataclass(frozen=True)
class BomLine:
    reference: str  # one or more designators separated by spaces: "R1 R2 R3"
    part_fr: str
    part_en: str
    value: str  # French, or the same in both languages ("15 Ω 1 % 0.25 W"); decimal point
    value_en: str  # English when the value has words ("3.5 mm stereo jack, switched"), else ""
    quantity: int
    supplier: str
    supplier_part_number: str
    unit_price_eur: Decimal
    group: str
    design_key: str  # the design calculator's result key this value must equal, or ""
    per: str = "meter"  # "clamp": one per clamp, the references in clamp order
    examples_eu: str = ""  # where to buy it in Europe, as examples: "Reichelt METALL 15,0; Mouser ..."

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(self.reference.split())

    def value_si(self) -> tuple[float, str]:
        """The value as a number in base SI units and its unit: "16 kΩ 1 %" -> (16000.0, "Ω")."""
        match = _VALUE.match(self.value)
        if not match:
            raise BomError(f"BOM line {self.reference}: cannot read a value with a unit from {self.value!r}.")
        number, prefix, unit = match.groups()
        return float(number.replace(",", ".")) * _PREFIX[prefix], unit

    def part(self, lang: str) -> str:
        return self.part_fr if lang == "fr" else self.part_en

    def value_in(self, lang: str) -> str:
        """The value as a reader of `lang` writes it: English words, or French decimal commas."""
        if lang == "fr":
            return _DECIMAL_POINT.sub(",", self.value)
        return self.value_en or self.value

    def supplier_in(self, lang: str) -> str:
        return "generic" if lang != "fr" and self.supplier == GENERIC_SUPPLIER else self.supplier

    @property
    def line_price_eur(self) -> Decimal:
        return self.unit_price_eur * self.quantity

    def quantity_for(self, clamps: int) -> int:
        """How many a meter with this many clamps needs."""
        return clamps if self.per == "clamp" else self.quantity

    def references_for(self, clamps: int) -> tuple[str, ...]:
        return self.references[:clamps] if self.per == "clamp" else self.references


@dataclass(frozen=True)
class Bom:
    lines: tuple[BomLine, ...]

    def __getitem__(self, reference: str) -> BomLine:
        """The line that holds this single designator (R2 finds the line "R1 R2 R3")."""
        for line in self.lines:
            if reference in line.references:
                return line
        raise KeyError(reference)

    @property
    def references(self) -> set[str]:
        return {ref for line in self.lines for ref in line.references}

    def group(self, group: str) -> tuple[BomLine, ...]:
        return tuple(line for line in self.lines if line.group == group)

    def total_eur(self, *groups: str, clamps: int = MAX_CLAMPS) -> Decimal:
        """Cost of one meter with this many clamps, built with the given groups of lines (all
        groups if none given)."""
        wanted = groups or GROUPS
        return sum(
            (line.unit_price_eur * line.quantity_for(clamps) for line in self.lines if line.group in wanted),
            Decimal("0"),
        )


def load_bom(path: Path) -> Bom:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise BomError(
                N_("{path}: the header must be exactly {expected}; it is {found}."),
                N_("Fix the first line of the file."),
                path=path, expected=",".join(COLUMNS), found=",".join(reader.fieldnames or ()))
        lines = []
        for number, row in enumerate(reader, start=2):
            lines.append(_parse_row(path, number, row))
    references = [ref for line in lines for ref in line.references]
    duplicates = sorted({ref for ref in references if references.count(ref) > 1})
    if duplicates:
        raise BomError(N_("{path}: references used twice: {references}."),
                       N_("Give each line its own reference."),
                       path=path, references=", ".join(duplicates))
    return Bom(tuple(lines))


def _parse_row(path: Path, number: int, row: dict[str, str]) -> BomLine:
    where = f"{path}, line {number}"
    required = [column for column in COLUMNS if column not in ("design_key", "value_en", "examples_eu")]
    if any(not (row.get(column) or "").strip() for column in required):
        empty = [column for column in required if not (row.get(column) or "").strip()]
        raise BomError(N_("{where}: empty column(s) {columns}."),
                       N_("Fill them in (use 'générique' for a generic part)."),
                       where=where, columns=", ".join(empty))
    designators = row["reference"].split()
    if not all(REFERENCE_PATTERN.fullmatch(ref) for ref in designators):
        raise BomError(f"{where}: reference {row['reference']!r} must be designators like R1, CT1 or ENC1, "
                       "separated by spaces.")
    try:
        quantity = int(row["quantity"])
        price = Decimal(row["unit_price_eur"])
    except (ValueError, InvalidOperation):
        raise BomError(f"{where}: quantity must be a whole number and unit_price_eur a number "
                       "like 0.10.") from None
    if quantity != len(designators) or price < 0:
        raise BomError(
            f"{where}: quantity must equal the number of references ({len(designators)}) "
            "and the price must not be negative."
        )
    if row["group"] not in GROUPS:
        raise BomError(f"{where}: group must be one of {', '.join(GROUPS)}, not {row['group']!r}.")
    if row["per"] not in PER:
        raise BomError(f"{where}: per must be one of {', '.join(PER)}, not {row['per']!r}.")
    if row["per"] == "clamp" and len(designators) != MAX_CLAMPS:
        raise BomError(f"{where}: a line per clamp lists one reference per clamp, {MAX_CLAMPS} in all "
                       f"(clamp 1 first), not {len(designators)}.")
    return BomLine(
        reference=row["reference"],
        part_fr=row["part_fr"],
        part_en=row["part_en"],
        value=row["value"],
        value_en=(row.get("value_en") or "").strip(),
        quantity=quantity,
        supplier=row["supplier"],
        supplier_part_number=row["supplier_part_number"],
        unit_price_eur=price,
        group=row["group"],
        design_key=(row.get("design_key") or "").strip(),
        per=row["per"],
        examples_eu=(row.get("examples_eu") or "").strip(),
    )


@dataclass(frozen=True)
class Pin:
    signal: str
    gpio: int
    adc: str
    label_fr: str
    label_en: str
    parts: tuple[str, ...]

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


def load_pinout(path: Path) -> dict[str, Pin]:
    """hardware/pinout.csv: which ESP32 input each channel of the board is wired to."""
    with path.open(newline="", encoding="utf-8") as handle:
        pins = {}
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                pins[row["signal"]] = Pin(
                    signal=row["signal"],
                    gpio=int(row["gpio"]),
                    adc=row["adc"],
                    label_fr=row["label_fr"],
                    label_en=row["label_en"],
                    parts=tuple(row["parts"].split()),
                )
            except (KeyError, ValueError):
                raise BomError(
                    f"{path}, line {number}: expected signal,gpio,adc,label_fr,label_en,parts "
                    "with a whole gpio number."
                ) from None
    return pins
