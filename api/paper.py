"""Paper for the households: the welcome sheet that carries a household's link (QR code,
the link written out, what the page shows, who to call) and the monthly summary, one
household a page, laid out as PDF by WeasyPrint (as the build guide is), in large type.

The HTML comes from templates/paper_*.html through the one catalogue (French by default);
nothing is fetched from the network (images are data: URIs), so it prints offline.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from citizenwatt.config import ApiSettings
from citizenwatt.errors import PdfError
from citizenwatt.i18n import N_, _, format_date, format_month, format_quantity, install_jinja
from citizenwatt.store.port import ReadingStore

from .models import Deployment, Household
from .monthly import MonthSummary, month_summary

HERE = Path(__file__).parent


def base_url(settings: ApiSettings) -> str:
    """Where households open the pages: [api] public_url, else this machine's address."""
    if settings.public_url:
        return settings.public_url
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


# Kept in the data folder while `citizenwatt demo` runs: the demo takes another port when
# the configured one is taken (or is given --port), and the links that `citizenwatt admin
# household` prints for that folder must open the demo's pages.
RUNNING_DEMO_FILE = "demo-url.json"


def record_running_demo(data_dir: Path, url: str) -> Path:
    path = data_dir / RUNNING_DEMO_FILE
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    return path


def running_demo_url(data_dir: Path) -> str | None:
    """The address of the demo running on this data folder; None if none is (no file, or
    the process that wrote it is gone: a demo killed without stopping)."""
    try:
        info = json.loads((data_dir / RUNNING_DEMO_FILE).read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url


def household_url(settings: ApiSettings, token: str) -> str:
    return f"{base_url(settings)}/h/{token}"


def qr_data_uri(text: str) -> str:
    """The QR code of `text` as an SVG data: URI (medium error correction: a creased or
    slightly stained sheet still scans)."""
    import segno

    return segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4)


@cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"]))
    install_jinja(env)
    return env


def _contact(settings: ApiSettings, lang: str) -> str:
    return settings.contact or _("the leader of the workshop that installed your meter", lang=lang)


def render_pdf(html: str) -> bytes:
    """HTML (no outside resources) -> PDF bytes."""
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: Pango is missing from the system
        raise PdfError(
            N_("WeasyPrint does not start, the PDF cannot be made."),
            N_("Install WeasyPrint and the Pango library on the server (Debian: apt-get install "
               "libpango-1.0-0 libpangoft2-1.0-0), then try again. Detail: {error}"),
            error=error) from error
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


# -- the welcome sheet -----------------------------------------------------------------------

def welcome_sheet_html(hh: Household, token: str, settings: ApiSettings, lang: str = "fr") -> str:
    url = household_url(settings, token)
    return _env().get_template("paper_welcome.html").render(
        lang=lang, name=hh.name, url=url, qr=qr_data_uri(url), contact=_contact(settings, lang),
        local=settings.public_url is None)


def welcome_sheet_pdf(hh: Household, token: str, settings: ApiSettings, lang: str = "fr") -> bytes:
    """One A5 page to hand to the household with its link (the token is in it: print it,
    give it, do not keep a copy)."""
    return render_pdf(welcome_sheet_html(hh, token, settings, lang))


# -- the monthly summary ---------------------------------------------------------------------

def _kwh(v: float, lang: str) -> str:
    return format_quantity(v, "kWh", 0 if v >= 100 else 1, lang=lang)


def summary_texts(s: MonthSummary, lang: str) -> dict:
    """What the page says, each figure as the reader writes it."""
    pct = lambda v: format_quantity(abs(v), "%", 0, lang=lang)  # noqa: E731
    out: dict = {
        "name": s.name,
        "month": format_month(s.month, lang=lang),
        "kwh": None if s.kwh is None else _kwh(s.kwh, lang),
        "eur": None if s.eur is None else format_quantity(s.eur, "€", 2, lang=lang),
        "partial": s.measured_days < s.days,
        "measured_days": s.measured_days,
        "days": s.days,
        "unpriced_days": s.unpriced_days,
        "reference": None,
        "peers": None,
        "tip": None,
    }
    if s.reference_pct is not None:
        way = "same" if abs(s.reference_pct) < 1 else ("less" if s.reference_pct < 0 else "more")
        if s.reference == "last_year":
            last = format_month(s.month.replace(year=s.month.year - 1), lang=lang)
            out["reference"] = {
                "same": _("In {month} you used {kwh}: about as much as this month.", lang=lang,
                          month=last, kwh=_kwh(s.reference_kwh or 0.0, lang)),
                "less": _("In {month} you used {kwh}. This month is {pct} less: well done.", lang=lang,
                          month=last, kwh=_kwh(s.reference_kwh or 0.0, lang), pct=pct(s.reference_pct)),
                "more": _("In {month} you used {kwh}. This month is {pct} more.", lang=lang,
                          month=last, kwh=_kwh(s.reference_kwh or 0.0, lang), pct=pct(s.reference_pct)),
            }[way]
        else:
            out["reference"] = {
                "same": _("About as much as in your first weeks with the meter.", lang=lang),
                "less": _("{pct} less than in your first weeks with the meter: well done.", lang=lang,
                          pct=pct(s.reference_pct)),
                "more": _("{pct} more than in your first weeks with the meter.", lang=lang,
                          pct=pct(s.reference_pct)),
            }[way]
    c = s.comparison
    if c.status == "ok" and c.own_kwh_per_day is not None and c.median_kwh_per_day is not None:
        out["peers"] = _("Homes like yours use about {median} a day. You use {own} a day.", lang=lang,
                         median=format_quantity(c.median_kwh_per_day, "kWh", 1, lang=lang),
                         own=format_quantity(c.own_kwh_per_day, "kWh", 1, lang=lang))
    t = s.tip
    if t is not None:
        if t.kind == "standby":
            out["tip"] = _("At night, when everyone sleeps, your home still uses {watts} all the time. "
                           "Over a year that is {kwh}{eur}. Switch off the devices on standby (TV box, "
                           "computer, chargers) with a power strip that has a switch.", lang=lang,
                           watts=format_quantity(t.standby_w, "W", 0, lang=lang),
                           kwh=format_quantity(t.standby_kwh_per_year, "kWh", 0, lang=lang),
                           eur="" if t.standby_eur_per_year is None else _(
                               ", about {eur}", lang=lang,
                               eur=format_quantity(t.standby_eur_per_year, "€", 0, lang=lang)))
        elif t.kind == "offpeak":
            out["tip"] = _("Only {pct} of your electricity is used in off-peak hours, when it is cheaper. "
                           "Start the washing machine and the dishwasher in the evening after off-peak "
                           "hours begin (a delay-start button does it).", lang=lang,
                           pct=format_quantity(t.offpeak_pct, "%", 0, lang=lang))
        else:
            out["tip"] = _("Your home uses the most between {start} and {end}: {kwh} on average each day. "
                           "That is when each device you switch off counts the most.", lang=lang,
                           start=f"{t.peak_hour} h", end=f"{(t.peak_hour + 1) % 24} h",
                           kwh=format_quantity(t.peak_hour_kwh_per_day, "kWh", 1, lang=lang))
    return out


def summaries_html(summaries: Sequence[MonthSummary], settings: ApiSettings, lang: str = "fr",
                   printed: str = "") -> str:
    return _env().get_template("paper_summary.html").render(
        lang=lang, pages=[summary_texts(s, lang) for s in summaries], contact=_contact(settings, lang),
        printed=printed)


def summaries_pdf(summaries: Sequence[MonthSummary], settings: ApiSettings, lang: str = "fr",
                  printed: str = "") -> bytes:
    """One page per household, in one PDF to print and hand out."""
    return render_pdf(summaries_html(summaries, settings, lang, printed))


def deployment_summaries(db: Session, store: ReadingStore, dep: Deployment, month: str,
                         settings: ApiSettings) -> list[MonthSummary]:
    """Every household of `dep` for `month`, by name; peers' means read once."""
    means: dict = {}
    households: Iterable[Household] = sorted(dep.households, key=lambda h: (h.name, h.id))
    return [month_summary(db, store, hh, month, settings, means) for hh in households]


def printed_on(day, lang: str) -> str:
    return _("Printed on {date}", lang=lang, date=format_date(day, lang=lang))

