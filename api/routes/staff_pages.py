"""Staff pages that manage (server-rendered, French by default): create a household with its
meter and channel roles, reissue or revoke its link, set its reference period, type and
tariff option, a deployment's tariffs and temperatures, put a publishing meter that measures
no household in one; and the audit log. Forms carry the session's token (forms.py), are
checked by role (viewer reads, leader manages its deployment, admin everything) and each
change writes an audit entry through the same admin functions as the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import Match

from citizenwatt.config import ApiSettings
from citizenwatt.firmware import wire
from citizenwatt.i18n import N_, _
from citizenwatt.store.port import ReadingStore

from .. import admin
from ..auth import Principal
from ..consumption import local_today, zone
from ..deps import (
    Config,
    Db,
    DeploymentId,
    Now,
    Store,
    Who,
    deployment_for,
    deployment_unknown,
    staff_household,
    staff_member,
)
from ..errors import ApiError
from ..forms import blank_none, check_csrf, csrf_for, decimal, form_fields, validated
from ..i18n import request_lang
from ..models import CHANNEL_ROLES, Deployment, Household, Meter, StaffUser
from ..schemas import AssignIn, HouseholdIn, HouseholdPatch, TariffIn, TemperatureIn
from ..staff_view import unassigned_meters

router = APIRouter(include_in_schema=False)

FORM_CHANNELS = 3  # the reference board's clamps; a meter that publishes more shows them all
SHEET_PATH = "/staff/households/{household_id}/sheet"
HouseholdId = Annotated[int, Path(ge=1, lt=2**31)]


@dataclass
class StaffPage:
    """What every staff page is given: the request, its language, the session, store,
    settings and clock reading, and the signed-in staff member (401/403 otherwise)."""
    request: Request
    lang: str
    db: Session
    store: ReadingStore
    settings: ApiSettings
    now: float
    who: Principal
    user: StaffUser

    def render(self, template: str, status: int = 200, **context) -> HTMLResponse:
        q = dict(self.request.query_params)
        q["lang"] = "en" if self.lang == "fr" else "fr"
        context.update(lang=self.lang, csrf=csrf_for(self.request), user=self.user,
                       switch_url=self.request.url.path + "?" + "&".join(f"{k}={v}" for k, v in q.items()))
        return self.request.app.state.templates.TemplateResponse(self.request, template, context,
                                                                 status_code=status)

    def redirect(self, path: str) -> RedirectResponse:
        sep = "&" if "?" in path else "?"
        return RedirectResponse(f"{path}{sep}lang={self.lang}", status_code=303)

    def message(self, e: ApiError) -> str:
        return e.message(self.lang)


def staff_env(request: Request, db: Db, store: Store, settings: Config, now: Now, who: Who) -> StaffPage:
    return StaffPage(request, request_lang(request), db, store, settings, now, who, staff_member(who))


Env = Annotated[StaffPage, Depends(staff_env)]


async def posted(p: StaffPage) -> dict[str, str]:
    fields = await form_fields(p.request)
    check_csrf(p.request, fields)
    return fields


def channel_rows(fields: dict[str, str], count: int = wire.MAX_CHANNELS) -> list[tuple[int, str, str]]:
    """(channel, label, role) of the form's channel rows that have a label; a row with a
    label and no role is an error later (set_channels), never a silent "main"."""
    rows = []
    for n in range(count):
        label = fields.get(f"ch{n}_label", "").strip()
        if label:
            rows.append((n, label, fields.get(f"ch{n}_role", "")))
    return rows


def check_meter_id(meter_id: str) -> None:
    if not wire._valid_meter_id(meter_id):
        raise ApiError(422, "meter_id", N_("The meter id \"{value}\" is not valid: use 1 to 32 characters "
                                           "among a-z, 0-9, - and _."), value=meter_id[:40])


def parse_day(p: StaffPage, value: str | None, default: date) -> date:
    return validated(AssignIn, {"meter_id": "x", "valid_from": value or default}, p.lang).valid_from


def put_meter(p: StaffPage, hh: Household, fields: dict[str, str], default_day: date) -> str:
    """The meter of the form in `hh` from the form's date, with its channel rows."""
    meter_id = fields.get("meter_id", "").strip()
    check_meter_id(meter_id)
    day = parse_day(p, fields.get("valid_from"), default_day)
    channels = channel_rows(fields)
    if not channels:
        raise ApiError(422, "channel_missing",
                       N_("Give each clamp of meter \"{meter_id}\" a label and a role (main: the whole "
                          "house; sub: a circuit it already counts)."), meter_id=meter_id)
    admin.meter_in_household(p.db, hh, meter_id, day, channels)
    labels = ", ".join(f"{c + 1}: {label} ({role})" for c, label, role in channels)
    admin.audit(p.db, p.user, "meter.assign", hh.deployment_id, hh.id,
                detail=f"{meter_id} → {hh.name} ({day.isoformat()}); {labels}", now=p.now)
    return meter_id


def sheet_url(request: Request, hh_id: int) -> str | None:
    """The printable welcome sheet, where the app has that route (another part adds it)."""
    path = SHEET_PATH.format(household_id=hh_id)
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"",
             "headers": []}
    has = any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes)
    return path if has else None


def link_page(p: StaffPage, hh: Household, token: str, created: bool) -> HTMLResponse:
    path = f"/h/{token}"
    r = p.render("staff_link.html", hh=hh, created=created, path=path,
                 url=str(p.request.base_url).rstrip("/") + path, sheet_url=sheet_url(p.request, hh.id))
    r.headers["Cache-Control"] = "no-store"  # the link is shown once: not kept in any cache
    return r


# -- a deployment: new household, tariffs, temperatures -----------------------------------


def deployment_page(p: StaffPage, dep: Deployment, status: int = 200, error: str | None = None,
                    form: dict | None = None, error_form: str = "") -> HTMLResponse:
    today = local_today(p.now, zone(dep.timezone))
    meters = [m for m in unassigned_meters(p.db, p.store, p.user) if m["deployment_id"] in (dep.id, None)]
    return p.render(
        "staff_deployment.html", status=status, dep=dep, error=error, error_form=error_form,
        form=form or {}, today=today.isoformat(), can_manage=p.who.staff_can(dep.id, "leader"),
        households=sorted(dep.households, key=lambda h: h.id),
        tariffs=sorted(dep.tariffs, key=lambda t: (t.option, t.valid_from)),
        channel_defaults=[(n, "", "") for n in range(FORM_CHANNELS)], roles=CHANNEL_ROLES, unassigned=meters,
        profiles=sorted({h.profile for h in dep.households if h.profile}),
    )


@router.get("/staff/deployments/{deployment_id}", response_class=HTMLResponse)
def deployment_view(deployment_id: DeploymentId, p: Env):
    return deployment_page(p, deployment_for(p.db, p.who, deployment_id, "viewer"))


@router.post("/staff/deployments/{deployment_id}/households", response_class=HTMLResponse)
async def create_household(deployment_id: DeploymentId, p: Env):
    fields = await posted(p)
    dep = deployment_for(p.db, p.who, deployment_id, "leader")
    try:
        body = validated(HouseholdIn, {"name": fields.get("name", "").strip(),
                                       "profile": fields.get("profile", "").strip()}, p.lang)
        hh, token = admin.create_household(p.db, dep, **body.model_dump(exclude={"meter"}))
        admin.audit(p.db, p.user, "household.create", dep.id, hh.id, detail=hh.name, now=p.now)
        if fields.get("meter_id", "").strip():
            put_meter(p, hh, fields, local_today(p.now, zone(dep.timezone)))
    except ApiError as e:
        p.db.rollback()
        return deployment_page(p, p.db.get(Deployment, deployment_id) or dep, e.status, p.message(e),
                               fields, "household")
    p.db.commit()
    return link_page(p, hh, token, created=True)


@router.post("/staff/deployments/{deployment_id}/tariffs", response_class=HTMLResponse)
async def add_tariff(deployment_id: DeploymentId, p: Env):
    fields = await posted(p)
    dep = deployment_for(p.db, p.who, deployment_id, "leader")
    f = blank_none(fields, "option", "valid_from", "valid_to", "base_eur_per_kwh", "peak_eur_per_kwh",
                   "offpeak_eur_per_kwh", "source")
    for k in ("base_eur_per_kwh", "peak_eur_per_kwh", "offpeak_eur_per_kwh"):
        f[k] = decimal(f[k])
    f["source"] = f["source"] or ""
    try:
        body = validated(TariffIn, f, p.lang)
        t = admin.add_tariff(p.db, dep, body.model_dump())
        admin.audit(p.db, p.user, "tariff.add", dep.id, detail=f"{t.option} {t.valid_from.isoformat()}",
                    now=p.now)
    except ApiError as e:
        p.db.rollback()
        return deployment_page(p, dep, e.status, p.message(e), fields, "tariff")
    p.db.commit()
    return p.redirect(f"/staff/deployments/{dep.id}#tariffs")


def temperature_lines(p: StaffPage, text: str) -> list[tuple[date, float]]:
    """"2026-03-01 8,5" (or ; or tab between) per line -> (day, °C)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.replace(";", " ").replace("\t", " ").split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ApiError(422, "temperature_line", N_('Line {n} ("{line}"): write the day, then the mean '
                                                       'temperature, e.g. "2026-01-15 4,5".'),
                           n=n, line=line.strip()[:40])
        try:
            t = validated(TemperatureIn, {"day": parts[0], "mean_temp_c": decimal(parts[1])}, p.lang)
        except ApiError as e:
            raise ApiError(422, "temperature_line", N_('Line {n} ("{line}"): {problem}'),
                           n=n, line=line.strip()[:40], problem=e.message(p.lang)) from None
        out.append((t.day, t.mean_temp_c))
    if not 0 < len(out) <= 4000:
        raise ApiError(422, "temperature_count", N_("Give between 1 and 4000 days, one per line."))
    return out


@router.post("/staff/deployments/{deployment_id}/temperatures", response_class=HTMLResponse)
async def set_temperatures(deployment_id: DeploymentId, p: Env):
    fields = await posted(p)
    dep = deployment_for(p.db, p.who, deployment_id, "leader")
    try:
        days = temperature_lines(p, fields.get("temperatures", ""))
        n = admin.set_temperatures(p.db, dep, days)
        admin.audit(p.db, p.user, "temperatures.set", dep.id,
                    detail=f"{n}: {min(days)[0].isoformat()} → {max(days)[0].isoformat()}", now=p.now)
    except ApiError as e:
        p.db.rollback()
        return deployment_page(p, dep, e.status, p.message(e), fields, "temperatures")
    p.db.commit()
    return p.redirect(f"/staff/deployments/{dep.id}#temperatures")


# -- a household: settings, link, meters --------------------------------------------------


def household_page(p: StaffPage, hh: Household, status: int = 200, error: str | None = None,
                   form: dict | None = None, error_form: str = "") -> HTMLResponse:
    seen = {m.meter_id: m for m in p.store.meters()}
    meters = []
    for a in hh.assignments:
        if a.valid_to is not None:
            continue
        labelled = {c.channel: c for c in a.meter.channels}
        published = set(seen[a.meter_id].channels) if a.meter_id in seen else set()
        numbers = sorted(set(labelled) | published) or list(range(FORM_CHANNELS))
        meters.append({"meter_id": a.meter_id, "valid_from": a.valid_from,
                       "channels": [(n, labelled[n].label if n in labelled else "",
                                     labelled[n].role if n in labelled else "") for n in numbers]})
    dep = hh.deployment
    return p.render(
        "staff_household.html", status=status, hh=hh, dep=dep, error=error, error_form=error_form,
        form=form or {}, meters=meters, roles=CHANNEL_ROLES,
        channel_defaults=[(n, "", "") for n in range(FORM_CHANNELS)],
        can_manage=p.who.staff_can(hh.deployment_id, "leader"),
        link_active=any(x.revoked_utc is None for x in hh.links),
        sheet_url=sheet_url(p.request, hh.id), hours=range(24),
        today=local_today(p.now, zone(dep.timezone)).isoformat(),
        profiles=sorted({h.profile for h in dep.households if h.profile}),
        saved=p.request.query_params.get("saved"),
    )


@router.get("/staff/households/{household_id}/manage", response_class=HTMLResponse)
def household_view(household_id: HouseholdId, p: Env):
    return household_page(p, staff_household(p.db, p.who, household_id, "viewer"))


@router.post("/staff/households/{household_id}/settings", response_class=HTMLResponse)
async def household_settings(household_id: HouseholdId, p: Env):
    fields = await posted(p)
    hh = staff_household(p.db, p.who, household_id, "leader")
    f = blank_none(fields, "profile", "tariff_option", "offpeak_start_h", "offpeak_end_h",
                   "baseline_start", "baseline_end")
    f["profile"] = f["profile"] or ""
    try:
        body = validated(HouseholdPatch, {k: v for k, v in f.items() if v is not None or "baseline" in k},
                         p.lang)
        changed = admin.update_household(p.db, hh, body.model_dump(exclude_unset=True))
        if changed:
            admin.audit(p.db, p.user, "household.update", hh.deployment_id, hh.id,
                        detail=f"{hh.name}: {', '.join(changed)}", now=p.now)
    except ApiError as e:
        p.db.rollback()
        return household_page(p, hh, e.status, p.message(e), fields, "settings")
    p.db.commit()
    return p.redirect(f"/staff/households/{hh.id}/manage?saved=settings")


@router.post("/staff/households/{household_id}/link", response_class=HTMLResponse)
async def reissue_link(household_id: HouseholdId, p: Env):
    await posted(p)
    hh = staff_household(p.db, p.who, household_id, "leader")
    token = admin.issue_link(p.db, hh)
    admin.audit(p.db, p.user, "link.issue", hh.deployment_id, hh.id, detail=hh.name, now=p.now)
    p.db.commit()
    return link_page(p, hh, token, created=False)


@router.post("/staff/households/{household_id}/link/revoke", response_class=HTMLResponse)
async def revoke_link(household_id: HouseholdId, p: Env):
    await posted(p)
    hh = staff_household(p.db, p.who, household_id, "leader")
    admin.revoke_links(p.db, hh)
    admin.audit(p.db, p.user, "link.revoke", hh.deployment_id, hh.id, detail=hh.name, now=p.now)
    p.db.commit()
    return p.redirect(f"/staff/households/{hh.id}/manage?saved=revoked")


@router.post("/staff/households/{household_id}/meters", response_class=HTMLResponse)
async def household_meter(household_id: HouseholdId, p: Env):
    fields = await posted(p)
    hh = staff_household(p.db, p.who, household_id, "leader")
    try:
        put_meter(p, hh, fields, local_today(p.now, zone(hh.deployment.timezone)))
    except ApiError as e:
        p.db.rollback()
        return household_page(p, hh, e.status, p.message(e), fields, "meter")
    p.db.commit()
    return p.redirect(f"/staff/households/{hh.id}/manage?saved=meter")


@router.post("/staff/households/{household_id}/meters/{meter_id}/channels", response_class=HTMLResponse)
async def household_channels(household_id: HouseholdId, meter_id: str, p: Env):
    fields = await posted(p)
    hh = staff_household(p.db, p.who, household_id, "leader")
    meter = p.db.get(Meter, meter_id)
    if meter is None or not any(a.meter_id == meter_id for a in hh.assignments):
        raise ApiError(404, "meter_not_registered",
                       N_('Meter "{meter_id}" is not registered in this deployment: register it first.'),
                       meter_id=meter_id[:40])
    try:
        channels = channel_rows(fields)
        admin.set_channels(p.db, meter, channels)
        admin.audit(p.db, p.user, "channel.set", hh.deployment_id, hh.id,
                    detail=f"{meter_id}: " + ", ".join(f"{c + 1}: {lb} ({r})" for c, lb, r in channels),
                    now=p.now)
    except ApiError as e:
        p.db.rollback()
        return household_page(p, hh, e.status, p.message(e), fields, f"channels-{meter_id}")
    p.db.commit()
    return p.redirect(f"/staff/households/{hh.id}/manage?saved=channels")


# -- a meter that publishes but measures no household -------------------------------------


def unassigned_meter(p: StaffPage, meter_id: str) -> dict:
    for m in unassigned_meters(p.db, p.store, p.user):
        if m["meter_id"] == meter_id:
            return m
    raise ApiError(404, "meter_unassigned_unknown",
                   N_('No meter "{meter_id}" publishing without a household among yours. Check the '
                      "staff page's list."), meter_id=meter_id[:40])


def assign_page(p: StaffPage, m: dict, status: int = 200, error: str | None = None,
                form: dict | None = None) -> HTMLResponse:
    q = select(Household).order_by(Household.deployment_id, Household.name)
    dep_id = m["deployment_id"] if m["deployment_id"] is not None else p.user.deployment_id
    if dep_id is not None:
        q = q.where(Household.deployment_id == dep_id)
    households = [h for h in p.db.scalars(q) if p.who.staff_can(h.deployment_id, "leader")]
    first = datetime.fromtimestamp(m["first_ts_utc"], zone(p.settings.timezone)).date()
    rows = [(n, *m["labels"].get(n, ("", ""))) for n in m["channels"]]
    return p.render("staff_assign.html", status=status, m=m, error=error, form=form or {}, rows=rows,
                    households=households, first_day=first.isoformat(), roles=CHANNEL_ROLES,
                    can_manage=bool(households))


@router.get("/staff/meters/{meter_id}/assign", response_class=HTMLResponse)
def assign_view(meter_id: str, p: Env):
    return assign_page(p, unassigned_meter(p, meter_id))


@router.post("/staff/meters/{meter_id}/assign", response_class=HTMLResponse)
async def assign_submit(meter_id: str, p: Env):
    fields = await posted(p)
    m = unassigned_meter(p, meter_id)
    raw = fields.get("household_id", "")
    hid = int(raw) if raw.isdigit() and 0 < int(raw) < 2**31 else 0
    if not hid:
        return assign_page(p, m, 422, _('"{name}": {detail}. Correct it, then send the form again.',
                                        lang=p.lang, name=_("Household", lang=p.lang),
                                        detail=_("not valid", lang=p.lang)), fields)
    hh = staff_household(p.db, p.who, hid, "leader")
    first = datetime.fromtimestamp(m["first_ts_utc"], zone(hh.deployment.timezone)).date()
    try:
        put_meter(p, hh, {**fields, "meter_id": meter_id}, first)
    except ApiError as e:
        p.db.rollback()
        return assign_page(p, m, e.status, p.message(e), fields)
    p.db.commit()
    return p.redirect(f"/staff/households/{hh.id}/manage?saved=meter")


# -- the audit log ------------------------------------------------------------------------


@router.get("/staff/audit", response_class=HTMLResponse)
def audit_view(p: Env):
    """Leaders and admins read their deployment's entries; association-wide accounts read
    all of them, or one deployment's (?deployment=)."""
    if not p.who.staff_can(p.user.deployment_id, "leader"):
        raise ApiError(403, "role", N_("Your account does not have the required role ({role}). Ask an "
                                       "administrator."), role="leader")
    raw = p.request.query_params.get("deployment", "")
    wanted = int(raw) if raw.isdigit() and 0 < int(raw) < 2**31 else None
    deps = {d.id: d for d in p.db.scalars(select(Deployment).order_by(Deployment.id))
            if p.who.staff_can(d.id, "viewer")}
    if wanted is not None and wanted not in deps:
        raise deployment_unknown(wanted)
    tz = zone(p.settings.timezone)
    rows = [
        {
            "when": datetime.fromtimestamp(e.ts_utc, tz).strftime("%Y-%m-%d %H:%M"),
            "who": e.username or "—",
            "what": _(admin.AUDIT_ACTIONS.get(e.action, e.action), lang=p.lang),
            "action": e.action,
            "deployment": deps[e.deployment_id].name if e.deployment_id in deps else "—",
            "household_id": e.household_id,
            "detail": e.detail,
        }
        for e in admin.audit_entries(p.db, p.user, wanted)
    ]
    return p.render("staff_audit.html", rows=rows, deps=list(deps.values()), wanted=wanted,
                    can_filter=p.user.deployment_id is None)

