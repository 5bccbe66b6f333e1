"""Plain-words explanations shown next to the figures, in the reader's language."""

from __future__ import annotations

from datetime import date

from citizenwatt.i18n import N_, _, format_date, format_energy, format_number, ngettext

from .models import Household
from .savings import Savings


def fmt_date(d: date | None, lang: str) -> str:
    return "?" if d is None else format_date(d, lang=lang)


def channel_name(label: str | None, channel: int, sub: bool, lang: str) -> str:
    """A circuit as the family knows it: the workshop's label, else plain words (the first
    main clamp is the whole home), never a clamp number alone."""
    if label:
        return label
    if channel == 0 and not sub:
        return _("Whole home", lang=lang)
    return _("Other circuit {n}", lang=lang, n=channel)


def energy_text(energy_wh: float, lang: str) -> str:
    """An energy as a person reads it: "less than 1 Wh" rather than a "0 Wh" beside a bar."""
    if 0 < energy_wh < 0.5:
        return _("less than 1 Wh", lang=lang)
    return format_energy(energy_wh, lang=lang)


def savings_method_text(s: Savings, hh: Household, start: date, end: date, lang: str) -> str:
    def k(v: float | None, n: int = 1) -> str:  # the figures of an "ok" status are all set
        return "?" if v is None else format_number(v, n, lang=lang)

    if s.status == "no_baseline":
        return _("Your savings are measured against your usual use over a few weeks, called "
                 "the reference period. Yours is not chosen yet: the association chooses it after "
                 "your first weeks of readings, then your savings appear here. Meanwhile, the "
                 "History tab shows your use day by day.", lang=lang)
    if s.status == "baseline_too_short":
        return ngettext("Your reference period has only {n} fully measured day so far; your "
                        "savings appear once it has 7, for a fair average. Meanwhile, the History "
                        "tab shows your use day by day.",
                        "Your reference period has only {n} fully measured days so far; your "
                        "savings appear once it has 7, for a fair average. Meanwhile, the History "
                        "tab shows your use day by day.", s.baseline_days, lang=lang)
    if s.status == "no_period_data":
        return _("No day of this period was fully measured: no savings to show. Try another "
                 "period.", lang=lang)
    b0, b1 = fmt_date(hh.baseline_start, lang), fmt_date(hh.baseline_end, lang)
    parts = []
    if s.method == "degree_days":
        parts.append(_(
            "Baseline: {start} to {end} ({days} fully measured days). As heating use grows when "
            "it is cold, each day's use was related to heating degree-days ({base} minus the "
            "day's mean temperature): {a} kWh a day + {b} kWh per degree-day (R² = {r2}). For "
            "each day of the period this gives what you would have used without changes, at "
            "that day's weather.", lang=lang, start=b0, end=b1, days=s.baseline_days,
            base=format_number(hh.deployment.hdd_base_c, 0 if float(hh.deployment.hdd_base_c)
                               .is_integer() else 1, lang=lang) + "\u00a0°C",
            a=k(s.dd_intercept_kwh), b=k(s.dd_slope_kwh_per_hdd, 2), r2=k(s.dd_r2, 2)))
    else:
        parts.append(_(
            "Baseline: from {start} to {end} you used on average {kwh} kWh a day ({days} fully "
            "measured days).", lang=lang, start=b0, end=b1, kwh=k(s.baseline_kwh_per_day),
            days=s.baseline_days))
    saved_kwh, saved_kg = s.saved_kwh or 0.0, s.saved_kg_co2 or 0.0  # set when "ok"
    if saved_kwh >= 0:
        parts.append(_(
            "From {start} to {end}, over {days} fully measured days, you would have used "
            "{expected} kWh without changes; you used {actual} kWh. Saving: {expected} − {actual} "
            "= {saved} kWh.", lang=lang,
            start=fmt_date(start, lang), end=fmt_date(end, lang), days=s.period_days,
            expected=k(s.expected_kwh), actual=k(s.actual_kwh), saved=k(saved_kwh)))
    else:
        parts.append(_(
            "From {start} to {end}, over {days} fully measured days, you would have used "
            "{expected} kWh without changes; you used {actual} kWh. Increase: {actual} − "
            "{expected} = {more} kWh.", lang=lang,
            start=fmt_date(start, lang), end=fmt_date(end, lang), days=s.period_days,
            expected=k(s.expected_kwh), actual=k(s.actual_kwh), more=k(-saved_kwh)))
    if s.skipped_days:
        parts.append(ngettext("{n} day without complete readings is left out.",
                              "{n} days without complete readings are left out.",
                              s.skipped_days, lang=lang))
    option = _(N_("Peak / off-peak") if hh.tariff_option == "hphc" else N_("Base"), lang=lang)
    if s.saved_eur is not None:
        if hh.tariff_option == "hphc":
            parts.append(ngettext(
                "In euros: each kWh is counted at your tariff's price incl. taxes ({option}) "
                "valid on that day, off-peak hours at their price ({n} day with a known price).",
                "In euros: each kWh is counted at your tariff's price incl. taxes ({option}) "
                "valid on that day, off-peak hours at their price ({n} days with a known price).",
                s.priced_days, lang=lang, option=option))
        else:
            parts.append(ngettext(
                "In euros: each kWh is counted at your tariff's price incl. taxes ({option}) "
                "valid on that day ({n} day with a known price).",
                "In euros: each kWh is counted at your tariff's price incl. taxes ({option}) "
                "valid on that day ({n} days with a known price).",
                s.priced_days, lang=lang, option=option))
    else:
        parts.append(_("No tariff is known for these days: no amount in euros.", lang=lang))
    parts.append(_("In CO2: {kwh} kWh × {factor} g per kWh = {kg} kg.", lang=lang,
                   kwh=k(abs(saved_kwh)), factor=k(s.co2_g_per_kwh, 0),
                   kg=k(abs(saved_kg), 2)))
    return " ".join(parts)
