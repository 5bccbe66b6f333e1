"""Client of the API's meter registration endpoint (docs/api.md, "Meter registration").

POST {api}/api/v1/meters/register with the API token of a leader of the deployment;
idempotent on (meter_id, household.ref): 201 the first time, then 200 with the same ids
and no link (the household's secret link is shown once, when the household is created).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx

from citizenwatt.config import DEFAULT_TIMEZONE
from citizenwatt.i18n import N_, current_lang
from citizenwatt.workshop.errors import WorkshopError

REGISTER_PATH = "/api/v1/meters/register"
LINK_PATH = "/api/v1/households/{household_id}/link"  # POST: a new link, older ones stop


@dataclass(frozen=True)
class Household:
    ref: str
    name: str
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class Registration:
    meter_id: str
    household_id: int
    household_ref: str
    household_link: str | None  # "/h/<token>" when this call created the household
    created: bool  # False: it was already registered (idempotent repeat)


CHANNEL_ROLES = ("main", "sub")  # sub: a circuit a main clamp of the household already counts


def register_meter(api_url: str, token: str, meter_id: str, household: Household,
                   channel_labels: dict[int, str], from_date: dt.date | None = None,
                   timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None,
                   channel_roles: dict[int, str] | None = None) -> Registration:
    """channel_roles: "main" or "sub" per channel id; a channel left out keeps the role it
    has in the API, so a board redone never undoes the staff's choice; a new one gets the
    role its label tells, or the API refuses (422 channel_roles) and nothing is registered."""
    roles = channel_roles or {}
    channels = []
    for i, label in sorted(channel_labels.items()):
        channels.append({"id": i, "label": label})
        if i in roles:
            channels[-1]["role"] = roles[i]
    body = {"meter_id": meter_id,
            "household": {"ref": household.ref, "name": household.name,
                          "timezone": household.timezone},
            "channels": channels}
    if from_date is not None:
        body["from_date"] = from_date.isoformat()
    if not token:
        raise WorkshopError("api.no_token", N_("No API token to register the meter with. On the API's "
                                               "machine, create the token of a workshop leader's account "
                                               "(role leader or admin) with `citizenwatt admin token NAME`, "
                                               "then pass it with --token or "
                                               "CITIZENWATT_WORKSHOP__API_TOKEN."))
    url = api_url.rstrip("/") + REGISTER_PATH
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            # The API answers its refusals in the workshop's language.
            r = client.post(url, json=body, headers={"Authorization": "Bearer " + token,
                                                     "Accept-Language": current_lang()})
    except httpx.HTTPError as e:
        raise WorkshopError(
            "api.unreachable",
            N_(
                "The Citizen Watt API does not answer at {url} "
                "({detail}). Check the address given to --api and that "
                "the server is running, then try again."
            ),
            url=api_url,
            detail=type(e).__name__,
        ) from None
    if r.status_code == 401:
        raise WorkshopError(
            "api.unauthorized",
            N_(
                "The API refuses the token (401): it is mistyped, "
                "revoked, or from another server than {url}. On the "
                "API's machine, create a new token for your workshop "
                "leader's account (role leader or admin) with "
                "`citizenwatt admin token NAME`, then pass it with "
                "--token or CITIZENWATT_WORKSHOP__API_TOKEN."
            ),
            url=api_url,
        )
    if r.status_code == 403:
        raise WorkshopError(
            "api.forbidden",
            N_(
                "This token may not register meters (403): it belongs to a "
                '"viewer" account (read only) or it is a household\'s '
                'link. You need the token of a "leader" or "admin" '
                "account of the deployment. On the API's machine: "
                "`citizenwatt admin staff NAME --role leader --deployment "
                '"DEPLOYMENT NAME"` (if that account does not exist yet), '
                "then `citizenwatt admin token NAME`, and pass that token "
                "with --token or CITIZENWATT_WORKSHOP__API_TOKEN."
            ),
        )
    if r.status_code == 404 and _code(r) in (None, "not_found"):  # no such route
        raise WorkshopError(
            "api.not_found",
            N_(
                "The API at {url} has no meter registration endpoint (404). "
                "Check the address and the server version."
            ),
            url=api_url,
        )
    if r.status_code == 422 and _code(r) == "channel_roles":
        raise WorkshopError(
            "api.channel_roles",
            N_(
                "The API cannot tell the role of the clamps from their labels: {detail} In the "
                'profile, give channel_role = ["main", "sub"] (one per channel_label, in the same '
                "order), or --channel-role main --channel-role sub, then try again."
            ),
            detail=str(r.json().get("detail") or ""),
        )
    if r.status_code not in (200, 201):
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = None
        if isinstance(detail, list):  # FastAPI's 422: [{"loc": [...], "msg": ...}]
            detail = "; ".join(
                "{}: {}".format(".".join(str(p) for p in d.get("loc", ())[1:]), d.get("msg"))
                for d in detail
                if isinstance(d, dict)
            )
        raise WorkshopError(
            "api.rejected",
            N_("The API rejected the registration ({status}): {detail}. Fix it and try again."),
            status=r.status_code,
            detail=str(detail or r.text[:200] or "?"),
        )
    try:
        data = r.json()
        return Registration(
            meter_id=data["meter_id"],
            household_id=int(data["household_id"]),
            household_ref=data["household_ref"],
            household_link=data.get("household_link"),
            created=r.status_code == 201,
        )
    except (ValueError, KeyError, TypeError):
        raise WorkshopError(
            "api.rejected",
            N_("The API rejected the registration ({status}): {detail}. Fix it and try again."),
            status=r.status_code,
            detail="unexpected answer " + r.text[:120],
        ) from None


def link_url(base_url: str, path: str) -> str:
    """The address a household opens: the pages' base address + "/h/<token>"."""
    return base_url.rstrip("/") + path


def reissue_command(api_url: str, household_id: int | str) -> str:
    """The shell command that issues a new secret link for a household (older links stop
    working); `citizenwatt admin` has no command for it."""
    return (
        'curl -X POST -H "Authorization: Bearer $CITIZENWATT_WORKSHOP__API_TOKEN" '
        + api_url.rstrip("/")
        + LINK_PATH.format(household_id=household_id)
    )


def _code(r: httpx.Response) -> str | None:
    """The API's stable error code ({"detail": ..., "code": ...}), if the answer has one."""
    try:
        body = r.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
