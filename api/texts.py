"""Plain-words explanations shown next to the figures (French and English)."""

from __future__ import annotations

from datetime import date

from .i18n import format_number as fn
from .models import Household
from .savings import Savings

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")


def fmt_date(d: date, lang: str) -> str:
    if lang == "fr":
        return f"{'1er' if d.day == 1 else d.day} {MONTHS_FR[d.month - 1]} {d.year}"
    return d.strftime("%-d %B %Y")


def savings_method_text(s: Savings, hh: Household, start: date, end: date, lang: str) -> str:
    fr = lang == "fr"
    k = lambda v, n=1: fn(v, lang, n)  # noqa: E731
    if s.status == "no_baseline":
        return ("Aucune période de référence n'est choisie pour ce foyer : demandez à l'animateur "
                "de l'atelier de la fixer (par exemple le premier mois de mesure)." if fr else
                "No baseline period is set for this household: ask the workshop leader to set one "
                "(for instance the first month of readings).")
    if s.status == "baseline_too_short":
        return (f"La période de référence n'a que {s.baseline_days} jour(s) mesuré(s) en entier ; "
                "il en faut au moins 7 pour une moyenne fiable. Allongez-la." if fr else
                f"The baseline has only {s.baseline_days} fully measured day(s); at least 7 are "
                "needed for a fair average. Make it longer.")
    if s.status == "no_period_data":
        return ("Aucun jour de cette période n'a été mesuré en entier : pas d'économie calculable."
                if fr else "No day of this period was fully measured: no savings to compute.")
    b0, b1 = fmt_date(hh.baseline_start, lang), fmt_date(hh.baseline_end, lang)
    parts = []
    if s.method == "degree_days":
        parts.append(
            (f"Référence : du {b0} au {b1} ({s.baseline_days} jours mesurés en entier). Comme vous "
             f"chauffez plus quand il fait froid, on a relié chaque jour votre consommation aux "
             f"degrés-jours de chauffage (18 °C moins la température moyenne du jour) : "
             f"{k(s.dd_intercept_kwh)} kWh par jour + {k(s.dd_slope_kwh_per_hdd, 2)} kWh par "
             f"degré-jour (R² = {k(s.dd_r2, 2)}). Pour chaque jour de la période, on en déduit ce "
             f"que vous auriez consommé sans rien changer, à la météo de ce jour.")
            if fr else
            (f"Baseline: {b0} to {b1} ({s.baseline_days} fully measured days). As heating use "
             f"grows when it is cold, each day's use was related to heating degree-days (18 °C "
             f"minus the day's mean temperature): {k(s.dd_intercept_kwh)} kWh a day + "
             f"{k(s.dd_slope_kwh_per_hdd, 2)} kWh per degree-day (R² = {k(s.dd_r2, 2)}). For each "
             f"day of the period this gives what you would have used without changes, at that "
             f"day's weather."))
    else:
        parts.append(
            (f"Référence : du {b0} au {b1}, vous consommiez en moyenne "
             f"{k(s.baseline_kwh_per_day)} kWh par jour ({s.baseline_days} jours mesurés en entier).")
            if fr else
            (f"Baseline: from {b0} to {b1} you used on average {k(s.baseline_kwh_per_day)} kWh a "
             f"day ({s.baseline_days} fully measured days)."))
    parts.append(
        (f"Du {fmt_date(start, lang)} au {fmt_date(end, lang)}, sur {s.period_days} jours mesurés "
         f"en entier, vous auriez consommé {k(s.expected_kwh)} kWh sans rien changer ; vous avez "
         f"consommé {k(s.actual_kwh)} kWh. Économie : {k(s.expected_kwh)} − {k(s.actual_kwh)} = "
         f"{k(s.saved_kwh)} kWh (un chiffre négatif veut dire que vous avez consommé plus).")
        if fr else
        (f"From {fmt_date(start, lang)} to {fmt_date(end, lang)}, over {s.period_days} fully "
         f"measured days, you would have used {k(s.expected_kwh)} kWh without changes; you used "
         f"{k(s.actual_kwh)} kWh. Savings: {k(s.expected_kwh)} − {k(s.actual_kwh)} = "
         f"{k(s.saved_kwh)} kWh (a negative figure means you used more)."))
    if s.skipped_days:
        parts.append(f"{s.skipped_days} jour(s) sans mesure complète sont laissés de côté." if fr
                     else f"{s.skipped_days} day(s) without complete readings are left out.")
    option = ("Heures pleines / heures creuses" if fr else "Peak / off-peak") if hh.tariff_option == "hphc" else "Base"
    if s.saved_eur is not None:
        parts.append(
            (f"En euros : chaque kWh est compté au prix TTC de votre tarif ({option}) valable ce "
             f"jour-là" + (", les heures creuses à leur prix" if hh.tariff_option == "hphc" else "")
             + f" ({s.priced_days} jour(s) avec un prix connu).")
            if fr else
            (f"In euros: each kWh is counted at your tariff's price incl. taxes ({option}) valid "
             f"on that day" + (", off-peak hours at their price" if hh.tariff_option == "hphc" else "")
             + f" ({s.priced_days} day(s) with a known price)."))
    else:
        parts.append("Pas de tarif connu pour ces jours : pas de montant en euros." if fr else
                     "No tariff is known for these days: no amount in euros.")
    parts.append(
        (f"En CO2 : {k(s.saved_kwh)} kWh × {fn(s.co2_g_per_kwh, lang, 0)} g par kWh = "
         f"{k(s.saved_kg_co2, 2)} kg.") if fr else
        (f"In CO2: {k(s.saved_kwh)} kWh × {fn(s.co2_g_per_kwh, lang, 0)} g per kWh = "
         f"{k(s.saved_kg_co2, 2)} kg."))
    return " ".join(parts)
