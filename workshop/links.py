"""`citizenwatt workshop links`: a household's link again, whole, and its sheet to print
with the QR code.

The API keeps only a hash of each link, so a link is found again in the room's links
sheets (liens-foyers-*.csv, readable by the leader only), and checked against the API when
one is given; a lost or dead link is replaced by a new one, which only a leader (or admin)
of the deployment may ask for (the older link stops working).
"""

from __future__ import annotations

import csv
import html
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from citizenwatt.i18n import N_, _, current_lang
from citizenwatt.workshop.errors import WorkshopError
from citizenwatt.workshop.registration import LINK_PATH, link_url


@dataclass
class HouseholdLink:
    household_ref: str
    household_name: str
    household_id: int | None
    link: str  # the whole address, "" when no sheet holds it
    meter_id: str = ""
    new: bool = False  # issued by this command


def from_sheets(paths: list[Path]) -> dict[str, HouseholdLink]:
    """household_ref -> its latest link in the sheets (a later row replaces an earlier one)."""
    out: dict[str, HouseholdLink] = {}
    for path in paths:
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        for r in rows:
            ref = r.get("household_ref")
            if not ref:
                continue
            old = out.get(ref)
            hid = r.get("household_id") or ""
            out[ref] = HouseholdLink(
                ref, r.get("household_name") or (old.household_name if old else ref),
                int(hid) if hid.isdigit() else (old.household_id if old else None),
                r.get("household_link") or (old.link if old else ""), r.get("meter_id") or "")
    return out


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token, "Accept-Language": current_lang()}


def _refused(r: httpx.Response, api_url: str) -> WorkshopError | None:
    if r.status_code == 401:
        return WorkshopError("links.unauthorized", N_(
            "The API refuses the token (401): it is mistyped, revoked, or from another server than {url}. "
            "Use the API token of a leader's account (`citizenwatt admin token NAME` on the API's "
            "machine), with --token or CITIZENWATT_WORKSHOP__API_TOKEN."), url=api_url)
    if r.status_code in (403, 404) and "/link" in str(r.request.url):
        return WorkshopError("links.forbidden", N_(
            "This account may not issue a household's link ({status}): it takes the token of a "
            '"leader" or "admin" account of the household\'s deployment (a "viewer" may not).'),
            status=r.status_code)
    return None


def find_household_id(api_url: str, token: str, ref: str, transport=None) -> int:
    """The id of the household named `ref` in the token's deployments."""
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            deps = client.get(api_url.rstrip("/") + "/api/v1/deployments", headers=_headers(token))
            if (err := _refused(deps, api_url)) is not None:
                raise err
            for dep in deps.json() if deps.status_code == 200 else []:
                rows = client.get(api_url.rstrip("/") + "/api/v1/deployments/%d/households" % dep["id"],
                                  headers=_headers(token))
                for h in rows.json() if rows.status_code == 200 else []:
                    if h.get("name") == ref:
                        return int(h["id"])
    except httpx.HTTPError as e:
        raise _unreachable(api_url, e) from None
    raise WorkshopError("links.unknown", N_(
        "No household {ref} in the deployments of this account. Check the reference (as in the "
        "households list, e.g. HH-12) and the token."), ref=ref)


def _unreachable(api_url: str, e: Exception) -> WorkshopError:
    return WorkshopError("api.unreachable", N_(
        "The Citizen Watt API does not answer at {url} ({detail}). Check the address given to --api and "
        "that the server is running, then try again."), url=api_url, detail=type(e).__name__)


def still_works(api_url: str, household_id: int, link: str, transport=None) -> bool:
    """Does this link still open its household (a newer one makes it stop)?"""
    token = link.rsplit("/h/", 1)[-1]
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            r = client.get(api_url.rstrip("/") + "/api/v1/households/%d" % household_id,
                           headers=_headers(token))
    except httpx.HTTPError as e:
        raise _unreachable(api_url, e) from None
    return r.status_code == 200


def issue(api_url: str, token: str, household_id: int, public_url: str | None, transport=None) -> str:
    """A new link for the household (its older ones stop working): the whole address."""
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            r = client.post(api_url.rstrip("/") + LINK_PATH.format(household_id=household_id),
                            headers=_headers(token))
    except httpx.HTTPError as e:
        raise _unreachable(api_url, e) from None
    if (err := _refused(r, api_url)) is not None:
        raise err
    if r.status_code != 201:
        raise WorkshopError("api.rejected", N_(
            "The API rejected the registration ({status}): {detail}. Fix it and try again."),
            status=r.status_code, detail=r.text[:200])
    return link_url(public_url or api_url, r.json()["path"])


def write_sheet(folder: Path, hh: HouseholdLink, lang: str | None = None) -> Path:
    """A page to print and hand over: the household, its QR code and its link, whole.
    Readable by the leader only (0600): it is the household's key."""
    import segno

    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in hh.household_ref)
    path = folder / f"fiche-foyer-{safe}.html"
    qr = segno.make(hh.link, error="m").svg_inline(scale=6, border=4)
    title = _("Your Citizen Watt meter", lang=lang)
    body = _("Scan this code with your phone's camera, or type this address, to see your household's "
             "electricity use. Keep it to yourself: anyone with this link sees your consumption.", lang=lang)
    page = (f'<!doctype html><html lang="{html.escape(lang or current_lang())}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)} — {html.escape(hh.household_name)}</title>"
            "<style>body{font-family:sans-serif;margin:2cm}code{font-size:14pt;word-break:keep-all;"
            "white-space:nowrap}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p><strong>{html.escape(hh.household_name)}</strong> "
            f"({html.escape(hh.household_ref)})</p><p>{html.escape(body)}</p>"
            f'<div class="qr">{qr}</div><p><code>{html.escape(hh.link)}</code></p></body></html>')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.chmod(path, 0o600)
        f.write(page)
    return path
