# SPDX-License-Identifier: AGPL-3.0-or-later
"""Interface words of the guide site and PDF, and number formatting, in French and English."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"

_UI = {
    "fr": {
        "site_title": "Citizen Watt — guide de fabrication",
        "short_title": "Guide de fabrication",
        "other_lang": "English",
        "search": "Rechercher dans le guide",
        "search_button": "Chercher",
        "search_none": "Aucun résultat. Essayez un autre mot (par exemple « pince » ou « résistance »).",
        "search_results": "Résultats",
        "search_page_title": "Recherche",
        "contents": "Sommaire",
        "on_this_page": "Sur cette page",
        "previous": "Précédent",
        "next": "Suivant",
        "home": "Accueil",
        "pdf": "Version imprimable (PDF)",
        "bom_csv": "Nomenclature (CSV)",
        "licences": "Licences",
        "licence_note": (
            "Texte du guide sous licence CC BY-SA 4.0 ; matériel (schémas, nomenclature) sous "
            "CERN-OHL-S-2.0 ; code sous AGPL-3.0-or-later."
        ),
        "generated_note": "Tableau calculé à partir du calculateur de conception du micrologiciel.",
        "ref": "Repère",
        "part": "Composant",
        "value": "Valeur",
        "qty": "Qté",
        "supplier": "Fabricant / fournisseur",
        "supplier_pn": "Référence (exemple)",
        "unit_price": "Prix unitaire",
        "total_base": "Total par compteur (version de base)",
        "total_voltage": "Total par compteur avec l'option mesure de tension",
        "print_cover_subtitle": "Fabriquer, étalonner et installer un compteur d'électricité libre",
        "version": "Version",
        "choose_lang": "Choisissez votre langue",
        "skip": "Aller au contenu",
        "downloads": "Téléchargements",
    },
    "en": {
        "site_title": "Citizen Watt — build guide",
        "short_title": "Build guide",
        "other_lang": "Français",
        "search": "Search the guide",
        "search_button": "Search",
        "search_none": "No result. Try another word (for example “clamp” or “resistor”).",
        "search_results": "Results",
        "search_page_title": "Search",
        "contents": "Contents",
        "on_this_page": "On this page",
        "previous": "Previous",
        "next": "Next",
        "home": "Home",
        "pdf": "Printable version (PDF)",
        "bom_csv": "Bill of materials (CSV)",
        "licences": "Licences",
        "licence_note": (
            "Guide text under CC BY-SA 4.0; hardware (diagrams, bill of materials) under "
            "CERN-OHL-S-2.0; code under AGPL-3.0-or-later."
        ),
        "generated_note": "Table computed by the firmware's design calculator.",
        "ref": "Ref.",
        "part": "Part",
        "value": "Value",
        "qty": "Qty",
        "supplier": "Maker / supplier",
        "supplier_pn": "Part number (example)",
        "unit_price": "Unit price",
        "total_base": "Total per meter (base version)",
        "total_voltage": "Total per meter with the voltage option",
        "print_cover_subtitle": "Build, calibrate and install an open-source electricity meter",
        "version": "Version",
        "choose_lang": "Choose your language",
        "skip": "Skip to content",
        "downloads": "Downloads",
    },
}


def ui(lang: str) -> dict[str, str]:
    return _UI[lang]


def fmt_number(value: float | int | Decimal, digits: int, lang: str) -> str:
    """A number as a reader of that language writes it: 1 234,5 in French, 1,234.5 in English."""
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_EVEN)
    text = f"{rounded:,.{digits}f}"
    if lang == "fr":
        # U+202F narrow no-break space is the French thousands separator.
        text = text.replace(",", "\u202f").replace(".", ",")
    return text
