"""Texts a person reads, in French (default) and English, and how a request picks one."""

from __future__ import annotations

from fastapi import Request

LANGS = ("fr", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # -- errors (API and pages): say what went wrong and what to do next
    "err.meter_id": {
        "fr": "L'identifiant de compteur « {value} » n'est pas valide : utilisez 1 à 32 caractères parmi a-z, 0-9, - et _.",
        "en": "The meter id \"{value}\" is not valid: use 1 to 32 characters among a-z, 0-9, - and _.",
    },
    "err.meter_unknown": {
        "fr": "Le compteur « {meter_id} » n'a encore rien envoyé. Vérifiez son identifiant, ou attendez sa première mesure.",
        "en": "Meter \"{meter_id}\" has not sent anything yet. Check its id, or wait for its first reading.",
    },
    "err.range_order": {
        "fr": "La date de fin ({end}) est avant la date de début ({start}) : inversez-les.",
        "en": "The end date ({end}) is before the start date ({start}): swap them.",
    },
    "err.range_too_long": {
        "fr": "La période demandée compte {days} jours ; au pas « {resolution} », {max_days} jours au plus. Raccourcissez la période ou choisissez un pas plus grand (day, week, month).",
        "en": "The range spans {days} days; at resolution \"{resolution}\" at most {max_days} days are allowed. Shorten the range or pick a coarser resolution (day, week, month).",
    },
    "err.date_bounds": {
        "fr": "La date {value} est hors des limites acceptées ({min} à {max}).",
        "en": "The date {value} is outside the accepted bounds ({min} to {max}).",
    },
    "err.timezone": {
        "fr": "Le fuseau horaire « {value} » est inconnu : utilisez un nom comme Europe/Paris.",
        "en": "The time zone \"{value}\" is unknown: use a name such as Europe/Paris.",
    },
    "err.param": {
        "fr": "Le paramètre « {name} » n'est pas valide ({detail}). Corrigez-le et réessayez.",
        "en": "The parameter \"{name}\" is not valid ({detail}). Fix it and try again.",
    },
    "err.not_found": {
        "fr": "Cette page n'existe pas. Vérifiez l'adresse.",
        "en": "This page does not exist. Check the address.",
    },
    "err.method": {
        "fr": "Cette adresse n'accepte pas la méthode {method}.",
        "en": "This address does not accept the {method} method.",
    },
    "err.internal": {
        "fr": "Une erreur interne est survenue. Réessayez dans un instant ; si elle persiste, prévenez l'équipe de l'atelier.",
        "en": "An internal error occurred. Try again in a moment; if it persists, tell the workshop team.",
    },
    # -- pages
    "page.title": {"fr": "Ma consommation d'électricité", "en": "My electricity use"},
    "page.meters": {"fr": "Compteurs", "en": "Meters"},
    "page.no_meters": {
        "fr": "Aucun compteur n'a encore envoyé de mesure. Branchez un compteur ou lancez la démo : citizenwatt demo",
        "en": "No meter has sent a reading yet. Plug in a meter or start the demo: citizenwatt demo",
    },
    "live.title": {"fr": "En ce moment", "en": "Right now"},
    "live.waiting": {"fr": "En attente d'une mesure…", "en": "Waiting for a reading…"},
    "live.updated": {"fr": "Mesuré il y a {age}", "en": "Measured {age} ago"},
    "live.stale": {
        "fr": "Aucune mesure depuis {age} : le compteur est peut-être débranché ou hors Wi-Fi.",
        "en": "No reading for {age}: the meter may be unplugged or out of Wi-Fi range.",
    },
    "live.offline": {
        "fr": "Connexion perdue avec le serveur, nouvel essai dans quelques secondes.",
        "en": "Lost the connection to the server, trying again in a few seconds.",
    },
    "live.channel": {"fr": "Pince {n}", "en": "Clamp {n}"},
    "today.title": {"fr": "Aujourd'hui, heure par heure", "en": "Today, hour by hour"},
    "today.total": {"fr": "Total depuis minuit : {energy}", "en": "Total since midnight: {energy}"},
    "today.gaps": {
        "fr": "{n} heure(s) sans mesure (barres absentes) : ce ne sont pas des zéros.",
        "en": "{n} hour(s) without readings (missing bars): these are not zeros.",
    },
    "chart.empty": {"fr": "Pas encore de mesure aujourd'hui.", "en": "No reading yet today."},
    "chart.label": {
        "fr": "Consommation par heure, en wattheures",
        "en": "Energy per hour, in watt-hours",
    },
    "lang.switch": {"fr": "English", "en": "Français"},
    "unit.s": {"fr": "{n} s", "en": "{n} s"},
    "unit.min": {"fr": "{n} min", "en": "{n} min"},
    "unit.h": {"fr": "{n} h", "en": "{n} h"},
    "unit.d": {"fr": "{n} j", "en": "{n} d"},
}


def t(lang: str, key: str, **params) -> str:
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["fr"]
    return text.format(**params) if params else text


def negotiate(query_lang: str | None, accept_language: str | None, default: str = "fr") -> str:
    """?lang= wins, then the browser's Accept-Language (by q-value), then the default."""
    if query_lang in LANGS:
        return query_lang
    best, best_q = None, 0.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        # Earlier entries win ties, as browsers list them in preference order.
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best or default


def request_lang(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    default = settings.default_lang if settings else "fr"
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"),
                     default)


def format_number(value: float, lang: str, decimals: int = 0) -> str:
    s = f"{value:,.{decimals}f}"
    if lang == "fr":
        # French: narrow no-break space between thousands, comma for decimals.
        s = s.replace(",", "\u202f").replace(".", ",")
    return s


def format_energy(energy_wh: float, lang: str) -> str:
    if abs(energy_wh) >= 1000:
        return format_number(energy_wh / 1000, lang, 2) + "\u00a0kWh"
    return format_number(energy_wh, lang, 0) + "\u00a0Wh"


def format_power(power_w: float, lang: str) -> str:
    if abs(power_w) >= 10000:
        return format_number(power_w / 1000, lang, 1) + "\u00a0kW"
    return format_number(power_w, lang, 0) + "\u00a0W"


def format_age(age_s: float, lang: str) -> str:
    age_s = max(0, int(age_s))
    if age_s < 120:
        return t(lang, "unit.s", n=age_s)
    if age_s < 7200:
        return t(lang, "unit.min", n=age_s // 60)
    if age_s < 172800:
        return t(lang, "unit.h", n=age_s // 3600)
    return t(lang, "unit.d", n=age_s // 86400)
