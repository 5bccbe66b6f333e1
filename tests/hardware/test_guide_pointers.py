"""Every guide pointer in a message resolves: the sections the workshop tool's messages and
the firmware's name are collected from their code, and each one must be an anchor of the
built guide in both languages, under the heading the message quotes."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from citizenwatt.i18n import LANGS
from citizenwatt.workshop import diagnose
from citizenwatt.workshop.errors import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
POINTER = re.compile(r"\((?P<page>[a-z0-9-]+\.html)#(?P<anchor>[a-z0-9-]+)\)\.$")
# How code names a section: a keyword argument, a call, a page#anchor in a text, a fault row.
NAMED = (
    re.compile(r"""\bsection\s*=\s*["']([a-z0-9-]+)["']"""),
    re.compile(r"""guide_pointer\(\s*["']([a-z0-9-]+)["']"""),
    re.compile(r"""\b[a-z0-9-]+\.html#([a-z0-9-]+)"""),
    re.compile(r"""Fault\(\s*["'][a-z0-9-]+["']\s*,\s*["']([a-z0-9-]+)["']"""),
    re.compile(r"""[Ss]ection\s+["«]\s?([a-z][a-z0-9]*-[a-z0-9-]+)\s?["»]"""),
)


def named_sections(folder: Path) -> dict[str, set[str]]:
    """section -> the files that name it, for every .py under folder."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in NAMED:
            for m in pattern.finditer(text):
                out.setdefault(m.group(1), set()).add(str(path.relative_to(ROOT)))
    return out


def _heading(page_html: str, anchor: str) -> str | None:
    m = re.search(rf'<h(\d) id="{re.escape(anchor)}">(.*?)</h\1>', page_html, re.S)
    if m is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip()


def test_the_collector_sees_the_workshops_pointers():
    workshop = named_sections(ROOT / "workshop")
    # from keyword arguments, calls and the fault table alike
    assert {"usb-serial", "wifi", "broker", "burden-resistor", "bias-capacitor", "adc2-pin"} <= set(workshop)
    assert "workshop/board.py" in workshop["usb-serial"]
    assert "workshop/check.py" in workshop["wifi"]


def test_every_section_named_by_the_workshop_and_the_firmware_resolves_in_both_languages(built):
    named = named_sections(ROOT / "workshop")
    for section, files in named_sections(ROOT / "firmware").items():
        named.setdefault(section, set()).update(files)
    named.update({s: named.get(s, set()) | {"workshop/errors.py"} for s in SECTIONS})
    named.update({f.section: named.get(f.section, set()) | {"workshop/diagnose.py"}
                  for f in diagnose.FAULTS.values()})
    assert len(named) >= 15
    problems = []
    for section, files in sorted(named.items()):
        if section not in diagnose.SECTION_TITLES:
            problems.append(f"{section} (named in {sorted(files)}) has no title in diagnose.SECTION_TITLES")
            continue
        for lang in LANGS:
            pointer = diagnose.guide_pointer(section, lang=lang)
            m = POINTER.search(pointer)
            assert m, pointer
            page = built.out_dir / lang / m["page"]
            if not page.is_file():
                problems.append(f"{lang}: {pointer}: no page {m['page']}")
                continue
            heading = _heading(page.read_text(encoding="utf-8"), m["anchor"])
            title = diagnose._(diagnose.SECTION_TITLES[section], lang=lang)
            if heading is None:
                problems.append(f"{lang}: {pointer}: no heading with id {m['anchor']}")
            elif heading != title:
                problems.append(f"{lang}: {pointer}: the guide's heading is {heading!r}")
            elif f"« {title} »" not in pointer and f'"{title}"' not in pointer:
                problems.append(f"{lang}: {pointer} does not quote the heading")
    assert problems == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_guide_carries_the_fault_table(built, lang):
    page = (built.out_dir / lang / "troubleshooting.html").read_text(encoding="utf-8")
    table = page.split('id="fault-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    assert len(rows) == len(diagnose.FAULTS)
    linked = {re.search(r'href="troubleshooting\.html#([a-z0-9-]+)"', r).group(1) for r in rows}
    assert linked == {f.section for f in diagnose.FAULTS.values()}


def test_docs_carry_the_fault_table():
    doc = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    table = doc.split("## Fault table", 1)[1].split("\n## ", 1)[0]
    for fault in diagnose.FAULTS.values():
        row = next((ln for ln in table.splitlines() if ln.startswith(f"| `{fault.key}`")), None)
        assert row is not None, fault.key
        assert f"#{fault.section}" in row
