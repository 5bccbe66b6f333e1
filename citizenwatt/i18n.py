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
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

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


@cache
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


# -- numbers, dates and units, as a reader of the language writes them (Babel, CLDR) ------

def babel_locale(lang: str | None = None) -> str:
    """fr -> fr_FR, en -> en_GB (the current language when lang is None)."""
    return LOCALES[normalise(lang) or current_lang()]


def format_number(value: float | Decimal, decimals: int = 0, *, lang: str | None = None) -> str:
    """1 234,5 in French (narrow no-break space, comma), 1,234.5 in English; rounded half-even."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern, locale=babel_locale(lang))


def format_quantity(value: float | int, unit: str, decimals: int = 0, *,
                    lang: str | None = None) -> str:
    """A number and its unit symbol (kWh, W, kg, %, €), kept together by a no-break space."""
    return format_number(value, decimals, lang=lang) + "\u00a0" + unit


def format_energy(energy_wh: float, *, lang: str | None = None) -> str:
    """Wh under a kWh, kWh with two decimals above."""
    if abs(energy_wh) >= 1000:
        return format_quantity(energy_wh / 1000, "kWh", 2, lang=lang)
    return format_quantity(energy_wh, "Wh", 0, lang=lang)


def format_power(power_w: float, *, lang: str | None = None) -> str:
    """W under 10 kW, kW with one decimal above."""
    if abs(power_w) >= 10000:
        return format_quantity(power_w / 1000, "kW", 1, lang=lang)
    return format_quantity(power_w, "W", 0, lang=lang)


def format_duration(age_s: float, *, lang: str | None = None) -> str:
    """A duration in the largest unit that keeps it readable: 45 s, 12 min, 5 h, 3 j / 3 d."""
    age_s = max(0, int(age_s))
    if age_s < 120:
        return _("{n} s", lang=lang, n=format_number(age_s, lang=lang))
    if age_s < 7200:
        return _("{n} min", lang=lang, n=format_number(age_s // 60, lang=lang))
    if age_s < 172800:
        return _("{n} h", lang=lang, n=format_number(age_s // 3600, lang=lang))
    return _("{n} d", lang=lang, n=format_number(age_s // 86400, lang=lang))


def format_date(day: date, *, lang: str | None = None) -> str:
    """1er janvier 2026 / 1 January 2026."""
    from babel.dates import format_date as babel_date

    text = babel_date(day, "d MMMM y", locale=babel_locale(lang))
    if day.day == 1 and (normalise(lang) or current_lang()) == "fr":
        text = "1er" + text[1:]  # French writes the first of the month as an ordinal
    return text


def format_month(day: date, *, lang: str | None = None) -> str:
    """janvier 2026 / January 2026."""
    from babel.dates import format_date as babel_date

    return babel_date(day, "LLLL y", locale=babel_locale(lang))


# -- Jinja2 ---------------------------------------------------------------------------

def install_jinja(env: Any) -> None:
    """Give a Jinja2 environment `_()` and `ngettext()` (jinja2.ext.i18n): they speak the
    template's `lang` variable when it has one, else the current language."""
    from jinja2 import pass_context

    @pass_context
    def gettext_(context: Any, msgid: str, **kw: object) -> str:
        return _(msgid, lang=context.get("lang"), **kw)

    @pass_context
    def ngettext_(context: Any, singular: str, plural: str, n: int, **kw: object) -> str:
        return ngettext(singular, plural, n, lang=context.get("lang"), **kw)

    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext_, ngettext_, newstyle=False)
    env.globals["_"] = gettext_


# -- pydantic's validation problems, said in the reader's language -----------------------

_PROBLEMS = {
    "missing": N_("required"),
    "int_parsing": N_("a whole number is expected"),
    "int_type": N_("a whole number is expected"),
    "int_from_float": N_("a whole number is expected"),
    "float_parsing": N_("a number is expected"),
    "float_type": N_("a number is expected"),
    "finite_number": N_("a finite number is expected"),
    "bool_parsing": N_("true or false is expected"),
    "date_parsing": N_("a valid date YYYY-MM-DD is expected"),
    "date_from_datetime_parsing": N_("a valid date YYYY-MM-DD is expected"),
    "date_from_datetime_inexact": N_("a date YYYY-MM-DD without a time is expected"),
    "date_type": N_("a date YYYY-MM-DD is expected"),
    "greater_than_equal": N_("at least {ge}"),
    "greater_than": N_("more than {gt}"),
    "less_than_equal": N_("at most {le}"),
    "less_than": N_("less than {lt}"),
    "string_too_long": N_("at most {max_length} characters"),
    "string_type": N_("a text is expected"),
    "string_pattern_mismatch": N_("characters not accepted"),
    "string_unicode": N_("a UTF-8 text is expected"),
    "too_long": N_("at most {max_length} items"),
    "list_type": N_("a list is expected"),
    "dict_type": N_("an object is expected"),
    "model_type": N_("an object is expected"),
    "literal_error": N_("possible values: {expected}"),
    "enum": N_("possible values: {expected}"),
}
def pydantic_problem(err: dict, *, lang: str | None = None) -> str:
    """One pydantic error (an item of ValidationError.errors()) in a few words; pydantic's own
    (English) words for the problem types not listed here."""
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    kind = err.get("type", "")
    if "expected" in ctx:
        ctx["expected"] = ctx["expected"].replace(" or ", " " + _("or", lang=lang) + " ")
    try:
        if kind == "string_too_short":
            return ngettext("at least {n} character", "at least {n} characters",
                            int(ctx["min_length"]), lang=lang)
        if kind == "too_short":
            return ngettext("at least {n} item", "at least {n} items", int(ctx["min_length"]),
                            lang=lang)
        if kind in _PROBLEMS:
            return _(_PROBLEMS[kind], lang=lang, **ctx)
    except (KeyError, IndexError, ValueError):
        pass
    return str(err.get("msg", _("not valid", lang=lang)))


# -- the command line's own words: typer and the click it carries ------------------------
# typer's click prints fixed English sentences (usage line, "Error:", "No such option",
# "Try ... for help.", "Show this message and exit."); typer.core says its headings through
# gettext. Both are routed here once, and every help text of a command tree is said in the
# current language when the tree runs (localise_command).

_CLICK_MESSAGES = (  # English sentences raised by typer's click, as patterns -> our msgids
    (re.compile(r"^Option '(?P<name>.+)' does not take a value\.$"),
     N_("Option '{name}' does not take a value.")),
    (re.compile(r"^Option '(?P<name>.+)' requires an argument\.$"),
     N_("Option '{name}' requires a value.")),
    (re.compile(r"^Option '(?P<name>.+)' requires (?P<n>\d+) arguments\.$"),
     N_("Option '{name}' requires {n} values.")),
    (re.compile(r"^Argument '(?P<name>.+)' takes (?P<n>\d+) values\.$"),
     N_("Argument '{name}' takes {n} values.")),
    (re.compile(r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$", re.S),
     N_("Unexpected extra arguments: {args}")),
    (re.compile(r"^Value (?P<value>.+) is not a valid (?P<kind>\w+)\.$"),
     N_("The value {value} is not a valid {kind}.")),
    (re.compile(r"^Value must be an iterable\.$"), N_("Several values are expected.")),
)
# typer's names of the option types in help texts, in the reader's words
_TYPE_NAMES = {"str": N_("text"), "int": N_("integer"), "float": N_("number"), "path": N_("path"),
               "file": N_("file"), "dir": N_("folder"), "bool": N_("yes or no")}
_SUGGESTION = re.compile(r"^(?P<message>.*)\. Did you mean (?P<names>.+)\?$", re.S)


def _click_message(message: str) -> str:
    """A sentence of typer's click, said in the current language when we know it."""
    m = _SUGGESTION.match(message)
    if m:
        return _("{message}. Did you mean {names}?", message=_click_message(m["message"] + "."
                                                                              ).rstrip("."),
                 names=m["names"])
    for pattern, msgid in _CLICK_MESSAGES:
        m = pattern.match(message)
        if m:
            return _(msgid, **m.groupdict())
    return message


_cli_installed = False


def _install_cli_texts() -> None:  # noqa: C901  (one patch site: small nested functions add up)
    """Patch typer's click and typer.core once so that their own sentences use _()."""
    global _cli_installed
    if _cli_installed:
        return
    _cli_installed = True
    from typer import _coercion
    from typer import core as typer_core
    from typer._click import decorators, formatting
    from typer._click import exceptions as ex
    from typer._click._compat import get_text_stderr
    from typer._click.utils import _escape_control_characters, echo

    typer_core._ = _  # type: ignore[assignment]  # headings, default/required, Missing command

    def show_error(self: Any, file: Any = None) -> None:
        echo(_("Error: {message}", message=self.format_message()),
             file=file or get_text_stderr(), color=self.show_color)

    def show_usage_error(self: Any, file: Any = None) -> None:
        file = file or get_text_stderr()
        color, hint = None, ""
        if self.ctx is not None and self.ctx.command.get_help_option(self.ctx) is not None:
            hint = _("Try '{command} {option}' for help.", command=self.ctx.command_path,
                     option=self.ctx.help_option_names[0]) + "\n"
        if self.ctx is not None:
            color = self.ctx.color
            echo(f"{self.ctx.get_usage()}\n{hint}", file=file, color=color)
        echo(_("Error: {message}", message=self.format_message()), file=file, color=color)

    def usage_message(self: Any) -> str:
        return _click_message(self.message)

    def bad_parameter_message(self: Any) -> str:
        hint = self.param_hint
        if hint is None and self.param is not None:
            hint = self.param.get_error_hint()
        message = _click_message(self.message)
        if hint is None:
            return _("Invalid value: {message}", message=message)
        return _("Invalid value for {name}: {message}", name=ex._join_param_hints(hint),
                 message=message)

    missing_kinds = {"argument": N_("Missing argument {name}."),
                     "option": N_("Missing option {name}.")}

    def missing_parameter_message(self: Any) -> str:
        hint = self.param_hint
        if hint is None and self.param is not None:
            hint = self.param.get_error_hint()
        kind = self.param_type or (self.param.param_type_name if self.param else "parameter")
        text = _(missing_kinds.get(kind, N_("Missing parameter {name}.")),
                 name=ex._join_param_hints(hint) or "").replace(" .", ".")
        extra = self.param.get_missing_message(ctx=self.ctx) if self.param is not None else ""
        return " ".join(x for x in (text, self.message, extra) if x)

    def no_such_option_init(self: Any, option_name: str, message: str | None = None,
                            possibilities: Any = None, ctx: Any = None) -> None:
        if message is None:
            message = _("No such option: {name}", name=_escape_control_characters(option_name))
        ex.UsageError.__init__(self, message, ctx)
        self.option_name = option_name
        self.possibilities = possibilities

    def no_such_option_message(self: Any) -> str:
        if not self.possibilities:
            return self.message
        return self.message + " " + _("(possible options: {options})",
                                      options=", ".join(sorted(self.possibilities)))

    ex.ClickException.show = show_error  # type: ignore[method-assign]
    ex.ClickException.format_message = usage_message  # type: ignore[method-assign]
    ex.UsageError.show = show_usage_error  # type: ignore[method-assign]
    ex.BadParameter.format_message = bad_parameter_message  # type: ignore[method-assign]
    ex.MissingParameter.format_message = missing_parameter_message  # type: ignore[method-assign]
    ex.NoSuchOption.__init__ = no_such_option_init  # type: ignore[method-assign]
    ex.NoSuchOption.format_message = no_such_option_message  # type: ignore[method-assign]

    write_usage = formatting.HelpFormatter.write_usage

    def write_usage_(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        write_usage(self, prog, args, _("Usage: ") if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = write_usage_  # type: ignore[method-assign]

    def write_heading(self: Any, heading: str) -> None:  # "Options :" in French typography
        self.write(f"{'':>{self.current_indent}}" + _("{heading}:", heading=heading) + "\n")

    formatting.HelpFormatter.write_heading = write_heading  # type: ignore[method-assign]

    help_option = decorators.help_option

    def help_option_(param_decls: list[str]) -> Any:
        add = help_option(param_decls)

        def apply(command: Any) -> Any:
            command = add(command)
            command.params[-1].help = _("Show this message and exit.")
            return command
        return apply

    decorators.help_option = help_option_

    display_type = typer_core._TyperParameter.display_type

    def display_type_(self: Any, ctx: Any) -> str:  # "<str>" -> "<texte>", "<list[str]>" -> "<texte>..."
        label = display_type(self, ctx)
        m = re.fullmatch(r"<(list\[)?(\w+)\]?>", label)
        if m is None or m[2].lower() not in _TYPE_NAMES:
            return label
        return "<" + _(_TYPE_NAMES[m[2].lower()]) + ">" + ("..." if m[1] else "")

    typer_core._TyperParameter.display_type = display_type_  # type: ignore[method-assign]

    missing_message = typer_core._TyperParameter.get_missing_message

    def get_missing_message(self: Any, ctx: Any) -> str | None:
        text = missing_message(self, ctx)
        if text and text.startswith("Choose from:"):
            text = _("Choose from:") + text[len("Choose from:"):]
        return text

    typer_core._TyperParameter.get_missing_message = get_missing_message  # type: ignore[method-assign]

    def error_msg(exc: Any) -> str:
        errors = exc.errors()
        if errors:
            return _escape_control_characters(pydantic_problem(errors[0]))
        return _escape_control_characters(str(exc))

    _coercion.get_error_msg = error_msg


def _commands(command: Any) -> Iterator[Any]:
    yield command
    for sub in (getattr(command, "commands", None) or {}).values():
        yield from _commands(sub)


def localise_command(command: Any) -> None:
    """Say the help texts of a click/typer command tree (English msgids in the code, marked
    with N_) in the current language; plain help layout (no rich panels)."""
    _install_cli_texts()
    for cmd in _commands(command):
        cmd.__dict__.setdefault("_msgids", {"help": cmd.help, "short_help": cmd.short_help})
        for attr, msgid in cmd._msgids.items():
            if msgid:
                setattr(cmd, attr, _(msgid))
        cmd.options_metavar = _("[OPTIONS]")
        if hasattr(cmd, "subcommand_metavar") and getattr(cmd, "commands", None):
            # a group that runs by itself too (`citizenwatt workshop`): the command is optional
            optional = getattr(cmd, "invoke_without_command", False)
            cmd.subcommand_metavar = _("[COMMAND [ARGS]...]") if optional else _("COMMAND [ARGS]...")
        if hasattr(cmd, "rich_markup_mode"):
            cmd.rich_markup_mode = None
        for param in cmd.params:
            param.__dict__.setdefault("_help_msgid", getattr(param, "help", None))
            if param._help_msgid:
                param.help = _(param._help_msgid)
