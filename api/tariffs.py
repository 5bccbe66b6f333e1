"""Electricity prices and carbon factor: the defaults a new deployment starts with, and
the price valid on a given day. Figures from shared/REFERENCE.md (EDF Tarif Bleu, incl.
taxes); a deployment edits or adds its own, each with validity dates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from citizenwatt.i18n import N_

from .models import Tariff
from .savings import DayPrice

TARIFF_SOURCE = "EDF Tarif Bleu (prix TTC du kWh)"
# (option, valid_from, valid_to (excluded), base, peak, offpeak)
DEFAULT_TARIFFS = (
    ("base", date(2024, 2, 1), date(2025, 2, 1), 0.2516, None, None),
    ("base", date(2025, 2, 1), date(2025, 8, 1), 0.2016, None, None),
    ("base", date(2025, 8, 1), None, 0.1952, None, None),
    ("hphc", date(2025, 8, 1), None, None, 0.2081, 0.1635),
)

# Consumption-mix footprint factors for France are about 50-80 gCO2eq/kWh; RTE reports
# about 22 g/kWh for the electricity produced in 2024. A deployment sets its own.
DEFAULT_CO2_G_PER_KWH = 60.0
# The default source, stored as its English sentence: the pages say it in the reader's language.
DEFAULT_CO2_SOURCE = N_("Project default: middle of the 50-80 gCO2e/kWh range of the footprint "
                        "factors of the French consumption mix (RTE: about 22 g/kWh for the "
                        "electricity produced in 2024). Replace it with the factor your "
                        "association uses.")


def default_tariffs(deployment_id: int | None = None) -> list[Tariff]:
    return [Tariff(deployment_id=deployment_id, option=o, valid_from=f, valid_to=t,
                   base_eur_per_kwh=b, peak_eur_per_kwh=p, offpeak_eur_per_kwh=op,
                   source=TARIFF_SOURCE)
            for o, f, t, b, p, op in DEFAULT_TARIFFS]


def tariff_on(tariffs: Iterable[Tariff], option: str, day: date) -> Tariff | None:
    """The tariff of `option` valid on `day` (the latest starting one if several)."""
    best = None
    for t in tariffs:
        if t.option == option and t.valid_from <= day and (t.valid_to is None or day < t.valid_to):
            if best is None or t.valid_from > best.valid_from:
                best = t
    return best


def price_on(tariffs: Iterable[Tariff], option: str, day: date) -> DayPrice | None:
    t = tariff_on(tariffs, option, day)
    if t is None:
        return None
    if option == "hphc":
        if t.peak_eur_per_kwh is None or t.offpeak_eur_per_kwh is None:
            return None
        return DayPrice(t.peak_eur_per_kwh, t.offpeak_eur_per_kwh)
    if t.base_eur_per_kwh is None:
        return None
    return DayPrice(t.base_eur_per_kwh, t.base_eur_per_kwh)
