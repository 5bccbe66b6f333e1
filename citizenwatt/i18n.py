"""Every text a person reads, in French (default) or English, from one gettext catalogue.

The message ids are the English sentences; `locale/fr/LC_MESSAGES/citizenwatt.po` holds the
French, `locale/en/...` the English where it differs (British spelling, plurals). Babel
extracts the ids from the Python code and the Jinja2 templates (`babel.cfg`) and compiles
the .po files to .mo when the package is built; a checkout that has not been built yet
compiles them in memory on first use.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

DOMAIN = "citizenwatt"
LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
# Babel's locales for numbers, dates and units
LOCALES = {"fr": "fr_FR", "en": "en_GB"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: ContextVar[str | None] = ContextVar("citizenwatt_lang", default=None)


def normalise(lang: str | None) -> str | None:
    """"fr", "fr_FR", "fr-CA", "EN" -> "fr" or "en"; anything else -> None."""
    if not lang:
        return None
    head = lang.strip().lower().replace("-", "_").split("_")[0]
    return head if head in LANGS else None


def current_lang() -> str:
    """The language of this context: set_lang()/lang_scope(), else CITIZENWATT_LANG, else fr."""
    return _current.get() or normalise(os.environ.get("CITIZENWATT_LANG")) or DEFAULT_LANG


def set_lang(lang: str | None) -> None:
    """Choose the language for the rest of this context (a command, a thread)."""
    _current.set(normalise(lang))


@contextmanager
def lang_scope(lang: str | None) -> Iterator[str]:
    """Speak `lang` inside the block (a request, a test), then go back."""
    token = _current.set(normalise(lang) or current_lang())
    try:
        yield _current.get() or DEFAULT_LANG
    finally:
        _current.reset(token)


def _compile_in_memory(po_path: Path) -> _gettext.GNUTranslations:
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as f:
        catalog = read_po(f, locale=po_path.parents[1].name, domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalogue of `lang` (fr or en); the .mo when it is up to date, else the .po."""
    lang = normalise(lang) or DEFAULT_LANG
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return _gettext.GNUTranslations(f)
    if po.is_file():
        return _compile_in_memory(po)
    return _gettext.NullTranslations()


def _(msgid: str, /, lang: str | None = None, **kw: object) -> str:
    """`msgid` (English) in `lang` or the current language, formatted with kw."""
    text = translations(lang or current_lang()).gettext(msgid)
    return text.format(**kw) if kw else text


def ngettext(singular: str, plural: str, n: int, /, lang: str | None = None,
             **kw: object) -> str:
    """The singular or plural form for n, in `lang` or the current language; {n} is n."""
    text = translations(lang or current_lang()).ngettext(singular, plural, n)
    return text.format(n=n, **kw)


def N_(msgid: str) -> str:
    """Mark a text for extraction where it is translated later (tables, constants)."""
    return msgid


gettext = _
