"""The guide's rehearsal chapter quotes what the tool really says, in each language, and
names only options that exist: if a message or an option changes, this test says which
sentence of the chapter to update."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from citizenwatt.cli import app
from citizenwatt.i18n import _, ngettext, set_lang
from tests.workshop.test_docs import _options

GUIDE = Path(__file__).resolve().parents[2] / "hardware" / "guide"

# (what the tool says, as the chapter quotes it) in each language.
QUOTED = [
    lambda: _("Simulated boards plugged in"),
    lambda: _("Connected boards"),
    lambda: _("USB chip"),
    lambda: _("simulated"),
    lambda: _("Simulated board no. {number}, meter {meter_id} (citizenwatt rehearse)",
              number=1, meter_id="cw-5e0001").split(" (")[0],
    lambda: ngettext("{n} board ready, {failed} to redo.", "{n} boards ready, {failed} to redo.", 3,
                     failed=0),
    lambda: _("Board {number}: meter {meter_id} started, it publishes to {broker}.", number=1,
              meter_id="cw-5e0001", broker="127.0.0.1:1883").split(": ", 1)[1].rstrip("."),
    lambda: _("Board self-test"),
    lambda: _("All tests passed."),
]


def _chapter(lang: str) -> str:
    return " ".join((GUIDE / lang / "10-rehearsal.md").read_text(encoding="utf-8").split())


def test_the_chapter_quotes_the_tool_in_each_language():
    try:
        for lang in ("fr", "en"):
            set_lang(lang)
            text = _chapter(lang)
            missing = [q() for q in QUOTED if q() not in text]
            assert missing == [], f"hardware/guide/{lang}/10-rehearsal.md no longer quotes: {missing}"
    finally:
        set_lang(None)


def test_the_chapter_names_only_existing_options_and_the_same_steps():
    known = _options(typer.main.get_command(app))
    anchors = {}
    for lang in ("fr", "en"):
        text = _chapter(lang)
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))
        assert {"--boards", "--count", "--households", "--token"} <= named
        assert named - known == set()
        anchors[lang] = re.findall(r"\{#([a-z-]+)\}", text)
    assert anchors["fr"] == anchors["en"] and len(anchors["fr"]) == 6
