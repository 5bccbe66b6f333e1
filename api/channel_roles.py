"""Channel roles, decided when a meter joins a household, never by a silent default.

A "main" channel measures the whole home and counts in the household's totals; a "sub"
channel measures a circuit a main clamp already counts (the water heater under the
whole-house clamp) and is shown as a breakdown. Roles come from whoever registers the
meter (workshop profile, `citizenwatt admin household`, the API); when not given they are
derived from the channel labels (the workshop's, or the ones the meter publishes in its
status): a label naming a circuit ("Chauffe-eau", "Ballon", "Chauffage"...) is sub, a label
naming the whole home ("Toute la maison", "Général") and the first clamp are main. A
channel whose role cannot be told is refused with a sentence saying how to give it.
Pure functions, but for published_channels which asks the store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_
from citizenwatt.store.port import ReadingStore

from .errors import ApiError
from .models import CHANNEL_ROLES

# Words of labels, accents and case ignored, matched as whole words or phrases.
SUB_WORDS = (
    "chauffe eau", "ballon", "cumulus", "eau chaude", "chauffage", "radiateur", "radiateurs",
    "convecteur", "convecteurs", "pompe a chaleur", "pac", "clim", "climatisation", "cuisine",
    "four", "plaque", "plaques", "cuisson", "lave linge", "lave vaisselle", "seche linge",
    "frigo", "refrigerateur", "congelateur", "eclairage", "lumiere", "lumieres", "prises",
    "borne", "circuit", "sous circuit",
    "water heater", "boiler", "hot water", "heating", "heater", "heat pump", "kitchen", "oven",
    "hob", "cooker", "washing machine", "dishwasher", "dryer", "fridge", "freezer", "lighting",
    "lights", "sockets", "sub circuit", "ev charger",
)
MAIN_WORDS = (
    "maison", "toute la maison", "logement", "appartement", "general", "generale", "total",
    "arrivee", "compteur", "tableau", "principal", "principale", "disjoncteur", "linky",
    "whole house", "house", "home", "main", "mains", "incomer",
)


def _words(label: str) -> str:
    """ "Chauffe-eau (ballon)" -> " chauffe eau ballon " : no accents, no punctuation."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    kept = "".join(c if c.isalnum() else " " for c in plain)
    return " " + " ".join(kept.split()) + " "


def derive_role(channel: int, label: str | None) -> str | None:
    """The role a label says, or for the first clamp (the whole-house one by the build
    guide's wiring) main unless its label names a circuit; None when it cannot be told."""
    words = _words(label or "")
    if any(f" {w} " in words for w in SUB_WORDS):
        return "sub"
    if any(f" {w} " in words for w in MAIN_WORDS):
        return "main"
    return "main" if channel == 0 else None


def clamp_list(channels: Iterable[int], labels: Mapping[int, str]) -> str:
    """Clamps as people number them (from 1), with their labels: 2 "Chauffe-eau", 3."""
    return ", ".join(f'{c + 1} "{labels[c]}"' if labels.get(c) else str(c + 1) for c in sorted(channels))


def resolve_roles(meter_id: str, channels: Iterable[int], labels: Mapping[int, str],
                  given: Mapping[int, str | None], known: Mapping[int, str]) -> dict[int, str]:
    """The role of every channel of the meter: given, else the one it already has, else
    derived from its label. Refuses (422 "channel_roles") a channel left undecided, and a
    derivation that leaves no main channel (the household's total would be empty)."""
    every = sorted(set(channels) | set(given) | set(known) | set(labels) or {0})
    roles: dict[int, str] = {}
    missing = []
    derived_only = True
    for c in every:
        role = given.get(c) or known.get(c)
        if role is not None:
            derived_only = False
        else:
            role = derive_role(c, labels.get(c))
        if role is None:
            missing.append(c)
        elif role not in CHANNEL_ROLES:
            raise ApiError(422, "param", N_('The parameter "{name}" is not valid ({detail}). Fix it and '
                                            "try again."), name="role", detail="main | sub")
        else:
            roles[c] = role
    if missing:
        raise ApiError(
            422, "channel_roles",
            N_('Meter "{meter_id}" has {count} clamps; the labels do not tell the role of these: '
               '{clamps}. Say for each clamp whether it is "main" (it measures the whole home, '
               'counted in the total) or "sub" (a circuit a main clamp already counts, such as the '
               "water heater, shown as a detail)."),
            meter_id=meter_id, count=len(every), clamps=clamp_list(missing, labels),
            channels=missing)
    if derived_only and "main" not in roles.values():
        raise ApiError(
            422, "channel_roles",
            N_('Meter "{meter_id}": by their labels, none of its clamps measures the whole home '
               '({clamps}). Say which clamp is "main" (counted in the total) and which are "sub".'),
            meter_id=meter_id, count=len(every), clamps=clamp_list(every, labels), channels=every)
    return roles


def published_channels(store: ReadingStore | None, meter_id: str) -> tuple[dict[int, str], set[int]]:
    """What the meter itself told: its channel labels (status "labels", see
    docs/protocol.md) and the channels it sent readings on. Nothing when it never spoke."""
    if store is None:
        return {}, set()
    for m in store.meters():
        if m.meter_id == meter_id:
            raw = (m.status or {}).get("labels")
            labels = {}
            if isinstance(raw, dict):
                for k, v in raw.items():
                    if str(k).isdigit() and int(k) < wire.MAX_CHANNELS and isinstance(v, str) and v.strip():
                        labels[int(k)] = v.strip()[:60]
            return labels, set(m.channels)
    return {}, set()
