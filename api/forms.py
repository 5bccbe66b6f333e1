"""What the staff pages' forms share: the posted fields, the per-session form token that
refuses a form posted from another site, and a form value checked by the JSON API's own
models (schemas.py), its error said as a sentence naming the field as the form labels it."""

from __future__ import annotations

import hashlib
import hmac
import re
from types import UnionType
from typing import Annotated, TypeVar, Union, get_args, get_origin
from urllib.parse import parse_qs

from fastapi import Request
from pydantic import BaseModel, ValidationError

from citizenwatt.i18n import N_, _, pydantic_problem

from .auth import SESSION_COOKIE
from .errors import ApiError

CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 200_000  # a year of daily temperatures pasted in one box is ~8 kB

# Form fields as their labels say them, for error sentences.
FIELD_LABELS = {
    "name": N_("Name"),
    "profile": N_("Household type"),
    "tariff_option": N_("Tariff option"),
    "offpeak_start_h": N_("Off-peak hours start"),
    "offpeak_end_h": N_("Off-peak hours end"),
    "baseline_start": N_("Reference period: first day"),
    "baseline_end": N_("Reference period: last day"),
    "meter_id": N_("Meter"),
    "valid_from": N_("From"),
    "valid_to": N_("Until"),
    "base_eur_per_kwh": N_("Base price (€/kWh)"),
    "peak_eur_per_kwh": N_("Peak price (€/kWh)"),
    "offpeak_eur_per_kwh": N_("Off-peak price (€/kWh)"),
    "source": N_("Source"),
    "option": N_("Tariff option"),
    "day": N_("Day"),
    "mean_temp_c": N_("Mean temperature (°C)"),
    "household_id": N_("Household"),
}

M = TypeVar("M", bound=BaseModel)


async def form_fields(request: Request) -> dict[str, str]:
    """The url-encoded form, first value of each field."""
    body = (await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def csrf_token(session_token: str) -> str:
    """The form token of a staff session: derived from the session cookie, which a page on
    another site can neither read nor guess, so nothing more is stored; a new session gets
    a new token."""
    return hmac.new(session_token.encode(), b"citizenwatt staff form", hashlib.sha256).hexdigest()


def csrf_for(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return csrf_token(cookie) if cookie else ""


def check_csrf(request: Request, fields: dict[str, str]) -> None:
    """A form posted with the session cookie must carry the session's token (besides the
    Origin check and SameSite=strict): a cross-site page cannot know it. A script with a
    Bearer token sends no ambient credential, so it needs none."""
    if request.headers.get("authorization", "")[:7].lower() == "bearer ":
        return
    expected = csrf_for(request)
    if not expected or not hmac.compare_digest(fields.get(CSRF_FIELD, ""), expected):
        raise ApiError(403, "csrf", N_("This form is out of date or was not sent from this site. Reload "
                                       "the page, then send it again."))


def blank_none(fields: dict[str, str], *names: str) -> dict[str, str | None]:
    """The named fields, stripped; an empty one is None (not given)."""
    out: dict[str, str | None] = {}
    for n in names:
        v = fields.get(n, "").strip()
        out[n] = v or None
    return out


def decimal(value: str | None) -> str | None:
    """"0,2516" as a French keyboard types it -> "0.2516"."""
    return None if value is None else value.replace(",", ".").replace("\u202f", "").replace(" ", "")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _plain_types(annotation: object) -> set:
    """int | None, Annotated[int, ...] | None... -> {int, NoneType}."""
    if get_origin(annotation) is Annotated:
        return _plain_types(get_args(annotation)[0])
    args = get_args(annotation)
    if args and get_origin(annotation) in (Union, UnionType):
        return set().union(*(_plain_types(a) for a in args))
    return {annotation}


def _as_numbers(model: type[BaseModel], data: dict) -> dict:
    """A form posts text: "22" for a whole-number field, "0.2516" for a number, as numbers,
    since the JSON API's models take only JSON numbers there (a typed mistake stays text and
    is refused with its sentence)."""
    out = dict(data)
    for name, value in data.items():
        info = model.model_fields.get(name)
        if info is None or not isinstance(value, str) or not _NUMBER.match(value.strip()):
            continue
        kinds = _plain_types(info.annotation) & {int, float}
        if int in kinds and re.fullmatch(r"[+-]?\d+", value.strip()):
            out[name] = int(value)
        elif kinds:
            out[name] = float(value)
    return out


def validated(model: type[M], data: dict, lang: str) -> M:
    try:
        return model(**_as_numbers(model, data))
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else ""
        raise ApiError(422, "form_field", N_('"{name}": {detail}. Correct it, then send the form again.'),
                       name=_(FIELD_LABELS.get(field, field), lang=lang),
                       detail=pydantic_problem(dict(err), lang=lang)) from None
