"""The one translation catalogue: every text the code and the templates mark for translation
has its French, with the same placeholders, and the helpers say numbers and dates as a
French or British reader writes them."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from citizenwatt import i18n

ROOT = Path(__file__).resolve().parents[1]
# The folders that install as citizenwatt.*, plus the guide's diagram sources.
CODE_DIRS = ("citizenwatt", "api", "collector", "store", "workshop", "guide", "host", "firmware",
             "hardware/diagrams")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extracted() -> dict[str, tuple[str, str]]:
    """msgid (or singular) -> (plural or "", where) for everything pybabel would extract
    with babel.cfg and the keywords _ N_ ngettext:1,2."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, tuple[str, str]] = {}
    for folder in CODE_DIRS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                ROOT / folder, method_map, options_map, keywords=KEYWORDS):
            singular, plural = (message, "") if isinstance(message, str) else message[:2]
            if singular:
                found.setdefault(singular, (plural or "", f"{folder}/{filename}:{lineno}"))
    return found


@pytest.fixture(scope="module")
def french():
    with open(i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "citizenwatt.po", "rb") as f:
        return read_po(f, locale="fr")


def test_extraction_finds_the_texts_of_code_templates_and_diagrams():
    found = extracted()
    # One from each kind of source, so that a broken babel.cfg cannot make the test vacuous.
    assert "This page does not exist. Check the address." in found  # api/errors.py
    assert "Measured {age} ago" in found  # api/templates (Jinja2)
    assert "Step 1: cut the tracks" in found  # hardware/diagrams
    assert "No such option: {name}" in found  # citizenwatt/i18n.py (the CLI framework)
    assert found["{n} hour without readings (missing bar): it is not a zero."][0].startswith(
        "{n} hours")  # ngettext's plural
    assert len(found) > 300


def test_every_extracted_text_has_a_french_translation_with_its_placeholders(french):
    problems = []
    for msgid, (plural, where) in sorted(extracted().items()):
        message = french.get(msgid)
        if message is None:
            problems.append(f"{where}: no French for {msgid!r}")
            continue
        if message.fuzzy:
            problems.append(f"{where}: fuzzy French for {msgid!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s.strip() for s in strings):
            problems.append(f"{where}: empty French for {msgid!r}")
        if plural and (not isinstance(message.id, tuple) or message.id[1] != plural):
            problems.append(f"{where}: the .po has no plural {plural!r} for {msgid!r}")
        wanted = set(PLACEHOLDER.findall(msgid)) | set(PLACEHOLDER.findall(plural))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != wanted and "n" not in wanted - set(PLACEHOLDER.findall(s)):
                problems.append(f"{where}: French {s!r} does not use the placeholders {wanted}")
    assert not problems, "\n".join(problems)


def test_the_po_files_have_no_duplicate_and_no_fuzzy_entry():
    for lang in i18n.LANGS:
        text = (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "citizenwatt.po").read_text("utf-8")
        # a msgid and its continuation lines ("" then the wrapped text)
        ids = [re.sub(r'"\n"', "", m) for m in
               re.findall(r'^msgid ((?:".*"\n)+)', text, flags=re.M)]
        assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]
        assert "#, fuzzy" not in text


def test_french_and_english_with_plurals():
    one = i18n.ngettext("{n} day without complete readings is left out.",
                        "{n} days without complete readings are left out.", 1, lang="fr")
    two = i18n.ngettext("{n} day without complete readings is left out.",
                        "{n} days without complete readings are left out.", 2, lang="en")
    assert one == "1 jour sans mesure complète est laissé de côté."
    assert two == "2 days without complete readings are left out."
    with i18n.lang_scope("en"):
        assert i18n._("Live") == "Live"
    assert i18n._("Live", lang="fr") == "En direct"


@pytest.mark.parametrize("lang, energy, power, number, day, month, age", [
    ("fr", "10,50\u00a0kWh", "1\u202f500\u00a0W", "1\u202f234,6", "1er mars 2026", "mars 2026",
     "3 j"),
    ("en", "10.50\u00a0kWh", "1,500\u00a0W", "1,234.6", "1 March 2026", "March 2026", "3 d"),
])
def test_numbers_dates_and_units_by_babel(lang, energy, power, number, day, month, age):
    assert i18n.format_energy(10_500, lang=lang) == energy
    assert i18n.format_power(1500, lang=lang) == power
    assert i18n.format_number(1234.55, 1, lang=lang) == number
    assert i18n.format_date(date(2026, 3, 1), lang=lang) == day
    assert i18n.format_month(date(2026, 3, 9), lang=lang) == month
    assert i18n.format_duration(3 * 86400 + 5, lang=lang) == age


def test_a_stale_or_missing_mo_falls_back_to_the_po(tmp_path, monkeypatch):
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "citizenwatt.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Live"\nmsgstr "Direct (.po)"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n._("Live", lang="fr") == "Direct (.po)"
    finally:
        i18n.translations.cache_clear()
