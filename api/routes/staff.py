"""JSON endpoints for the association's staff: deployments, meters and their status,
households and their links, tariffs, temperatures, staff accounts and API tokens."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_

from .. import admin
from ..channel_roles import clamp_list, derive_role
from ..consumption import MAX_DATE, MIN_DATE, local_today, zone
from ..deps import (
    AssociationAdmin,
    Config,
    Db,
    DeploymentAsAdmin,
    DeploymentAsLeader,
    DeploymentAsViewer,
    HouseholdAsLeader,
    Now,
    StaffAdmin,
    StaffMember,
    Store,
    Who,
    deployment_unknown,
    require_staff,
)
from ..errors import ERROR_RESPONSES, ApiError
from ..i18n import request_lang
from ..models import Deployment, Meter, StaffToken, StaffUser, now_utc
from ..paper import deployment_summaries, household_url, printed_on, summaries_pdf
from ..schemas import (
    METER_ID_PATTERN,
    AssignIn,
    ChannelIn,
    DeploymentIn,
    DeploymentOut,
    DeploymentPatch,
    HouseholdIn,
    HouseholdOut,
    HouseholdPatch,
    HouseholdSummaryOut,
    LinkOut,
    MeterIn,
    MeterStatusOut,
    StaffIn,
    StaffOut,
    TariffIn,
    TariffOut,
    TemperatureIn,
    TokenIn,
    TokenOut,
    dep_out,
    household_out,
)
from ..staff_view import meter_rows, roles_suspect_day

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)


@router.get("/deployments", response_model=list[DeploymentOut], summary="Deployments you can see")
def list_deployments(db: Db, user: StaffMember) -> list[DeploymentOut]:
    q = select(Deployment).order_by(Deployment.id)
    if user.deployment_id is not None:
        q = q.where(Deployment.id == user.deployment_id)
    return [dep_out(d) for d in db.scalars(q)]


@router.post("/deployments", response_model=DeploymentOut, status_code=201,
             summary="Create a deployment (association admins)")
def create_deployment(body: DeploymentIn, db: Db, caller: AssociationAdmin, now: Now) -> DeploymentOut:
    zone(body.timezone)
    kw: dict[str, Any] = {
        k: v
        for k, v in (("co2_g_per_kwh", body.co2_g_per_kwh), ("co2_source", body.co2_source))
        if v is not None
    }
    dep = admin.create_deployment(db, body.name, body.timezone, **kw)
    admin.audit(db, caller, "deployment.create", dep.id, detail=dep.name, now=now)
    db.commit()
    return dep_out(dep)


@router.patch(
    "/deployments/{deployment_id}",
    response_model=DeploymentOut,
    summary="Change the carbon factor (with its source) or the degree-day base",
)
def patch_deployment(dep: DeploymentAsAdmin, body: DeploymentPatch, db: Db, who: Who,
                     now: Now) -> DeploymentOut:
    fields = body.model_dump(exclude_none=True)
    for k, v in fields.items():
        setattr(dep, k, v)
    admin.audit(db, who.user, "deployment.update", dep.id, detail=", ".join(sorted(fields)), now=now)
    db.commit()
    return dep_out(dep)


@router.get(
    "/deployments/{deployment_id}/meters",
    response_model=list[MeterStatusOut],
    summary="Meters of the deployment with their status",
)
def deployment_meters(
    dep: DeploymentAsViewer, db: Db, store: Store, settings: Config, now: Now
) -> list[MeterStatusOut]:
    return [MeterStatusOut(**r) for r in meter_rows(db, store, dep, now, settings.stale_after_s)]


@router.post("/deployments/{deployment_id}/meters", status_code=201, summary="Register a meter")
def register_meter(dep: DeploymentAsLeader, body: MeterIn, db: Db, who: Who, now: Now) -> dict:
    m = admin.register_meter(db, dep, body.meter_id, body.note)
    admin.audit(db, who.user, "meter.register", dep.id, detail=m.id, now=now)
    db.commit()
    return {"meter_id": m.id, "deployment_id": dep.id, "note": m.note}


@router.put("/meters/{meter_id}/channels/{channel}", summary="Label a channel (main or sub-circuit)")
def put_channel(
    meter_id: Annotated[str, Path(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)],
    channel: Annotated[int, Path(ge=0, lt=wire.MAX_CHANNELS)],
    body: ChannelIn,
    db: Db,
    who: Who,
    caller: StaffMember,
    now: Now,
) -> dict:
    m = db.get(Meter, meter_id)
    if m is None or not who.staff_can(m.deployment_id, "viewer"):
        raise ApiError(
            404,
            "meter_not_registered",
            N_('Meter "{meter_id}" is not registered in this deployment: register it first.'),
            meter_id=meter_id,
        )
    require_staff(who, m.deployment_id, "leader")
    role = body.role or derive_role(channel, body.label)
    if role is None:
        raise ApiError(
            422,
            "channel_roles",
            N_('The label of clamp {clamps} does not tell its role: send "role": "main" (it measures '
               'the whole home, counted in the total) or "sub" (a circuit a main clamp already '
               "counts, shown as a detail)."),
            clamps=clamp_list([channel], {channel: body.label}),
        )
    c = admin.set_channel(db, m, channel, body.label, role)
    admin.audit(db, caller, "channel.set", m.deployment_id,
                detail=f"{m.id} {channel + 1}: {c.label} ({c.role})", now=now)
    db.commit()
    return {"meter_id": meter_id, "channel": c.channel, "label": c.label, "role": c.role}


@router.get(
    "/deployments/{deployment_id}/households",
    response_model=list[HouseholdSummaryOut],
    summary="Households of the deployment",
)
def list_households(dep: DeploymentAsViewer, store: Store, now: Now) -> list[HouseholdSummaryOut]:
    return [
        HouseholdSummaryOut(
            id=hh.id,
            name=hh.name,
            profile=hh.profile,
            meters=[a.meter_id for a in hh.assignments if a.valid_to is None],
            link_active=any(link.revoked_utc is None for link in hh.links),
            sub_exceeds_main_on=roles_suspect_day(store, hh, now),
        )
        for hh in sorted(dep.households, key=lambda h: h.id)
    ]


@router.post(
    "/deployments/{deployment_id}/households",
    response_model=LinkOut,
    status_code=201,
    summary="Create a household; answers its secret link (shown once)",
)
def create_household(dep: DeploymentAsLeader, body: HouseholdIn, db: Db, store: Store, who: Who,
                     now: Now, settings: Config) -> LinkOut:
    admin.check_baseline(body.baseline_start, body.baseline_end)
    hh, token = admin.create_household(db, dep, **body.model_dump(exclude={"meter"}))
    if body.meter is not None:
        check_install_date(body.meter.valid_from)
        meter = admin.register_meter(db, dep, body.meter.meter_id)
        admin.settle_channels(db, meter, {c.id: (c.label, c.role) for c in body.meter.channels}, store)
        admin.assign_meter(db, hh, meter.id, body.meter.valid_from)
    admin.audit(db, who.user, "household.create", dep.id, hh.id, detail=hh.name, now=now)
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}", url=household_url(settings, token))


@router.patch(
    "/households/{household_id}",
    response_model=HouseholdOut,
    summary="Change a household (baseline, profile, tariff option, off-peak hours)",
)
def patch_household(hh: HouseholdAsLeader, body: HouseholdPatch, db: Db, who: Who, now: Now) -> HouseholdOut:
    fields = body.model_dump(exclude_unset=True)
    if fields.get("name") is not None and fields["name"] != hh.name:
        admin.check_household_name_free(db, hh.deployment_id, fields["name"])
    changed = admin.update_household(db, hh, fields)
    if changed:
        admin.audit(db, who.user, "household.update", hh.deployment_id, hh.id,
                    detail=f"{hh.name}: {', '.join(changed)}", now=now)
    db.commit()
    return household_out(hh)


@router.post(
    "/households/{household_id}/link",
    response_model=LinkOut,
    status_code=201,
    summary="Issue a new secret link (older ones stop working)",
)
def reissue_link(hh: HouseholdAsLeader, db: Db, who: Who, now: Now, settings: Config) -> LinkOut:
    token = admin.issue_link(db, hh)
    admin.audit(db, who.user, "link.issue", hh.deployment_id, hh.id, detail=hh.name, now=now)
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}", url=household_url(settings, token))


@router.delete("/households/{household_id}/link", summary="Revoke the household's links")
def revoke_link(hh: HouseholdAsLeader, db: Db, who: Who, now: Now) -> dict:
    n = admin.revoke_links(db, hh)
    admin.audit(db, who.user, "link.revoke", hh.deployment_id, hh.id, detail=hh.name, now=now)
    db.commit()
    return {"household_id": hh.id, "revoked": n}


def check_install_date(day: date) -> None:
    if not MIN_DATE <= day <= MAX_DATE:
        raise ApiError(
            422,
            "date_bounds",
            N_("The date {value} is outside the accepted bounds ({min} to {max})."),
            value=day.isoformat(),
            min=MIN_DATE.isoformat(),
            max=MAX_DATE.isoformat(),
        )


@router.post(
    "/households/{household_id}/meters",
    response_model=HouseholdOut,
    status_code=201,
    summary="Put a meter in this household from a date (moves it if it was elsewhere)",
)
def assign_meter(hh: HouseholdAsLeader, body: AssignIn, db: Db, store: Store, who: Who,
                 now: Now) -> HouseholdOut:
    check_install_date(body.valid_from)
    meter = db.get(Meter, body.meter_id)
    if meter is not None and meter.deployment_id == hh.deployment_id:
        admin.settle_channels(db, meter, {c.id: (c.label, c.role) for c in body.channels}, store)
    admin.assign_meter(db, hh, body.meter_id, body.valid_from)
    admin.audit(db, who.user, "meter.assign", hh.deployment_id, hh.id,
                detail=f"{body.meter_id} → {hh.name} ({body.valid_from.isoformat()})", now=now)
    db.commit()
    return household_out(hh)


@router.get(
    "/deployments/{deployment_id}/summaries.pdf",
    summary="Every household's monthly summary, one page each, in one PDF to print and hand out",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def deployment_summaries_pdf(
    request: Request,
    dep: DeploymentAsViewer,
    db: Db,
    store: Store,
    settings: Config,
    now: Now,
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: last month).")] = None,
) -> Response:
    today = local_today(now, zone(dep.timezone))
    if not month:
        month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    lang = request_lang(request)
    summaries = deployment_summaries(db, store, dep, month, settings)
    pdf = summaries_pdf(summaries, settings, lang, printed_on(today, lang))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="citizenwatt-bilans-{dep.id}-{month}.pdf"'})


@router.get(
    "/deployments/{deployment_id}/tariffs",
    response_model=list[TariffOut],
    summary="Tariffs with their validity dates",
)
def list_tariffs(dep: DeploymentAsViewer) -> list[TariffOut]:
    return [
        TariffOut(
            id=t.id,
            option=t.option,
            valid_from=t.valid_from,
            valid_to=t.valid_to,
            base_eur_per_kwh=t.base_eur_per_kwh,
            peak_eur_per_kwh=t.peak_eur_per_kwh,
            offpeak_eur_per_kwh=t.offpeak_eur_per_kwh,
            source=t.source,
        )
        for t in sorted(dep.tariffs, key=lambda t: (t.option, t.valid_from))
    ]


@router.post(
    "/deployments/{deployment_id}/tariffs",
    response_model=TariffOut,
    status_code=201,
    summary="Add a tariff (base: one price; hphc: peak and off-peak prices)",
)
def add_tariff(dep: DeploymentAsLeader, body: TariffIn, db: Db, who: Who, now: Now) -> TariffOut:
    t = admin.add_tariff(db, dep, body.model_dump())
    admin.audit(db, who.user, "tariff.add", dep.id, detail=f"{t.option} {t.valid_from.isoformat()}", now=now)
    db.commit()
    return TariffOut(id=t.id, **body.model_dump())


@router.put(
    "/deployments/{deployment_id}/temperatures", summary="Add or replace daily mean outdoor temperatures"
)
def put_temperatures(
    dep: DeploymentAsLeader, body: Annotated[list[TemperatureIn], Field(max_length=4000)], db: Db,
    who: Who, now: Now,
) -> dict:
    n = admin.set_temperatures(db, dep, [(t.day, t.mean_temp_c) for t in body])
    admin.audit(db, who.user, "temperatures.set", dep.id, detail=str(n), now=now)
    db.commit()
    return {"deployment_id": dep.id, "days": len(body)}


@router.get("/staff/me", response_model=StaffOut, summary="Who you are (staff)")
def me(user: StaffMember) -> StaffOut:
    return StaffOut(id=user.id, username=user.username, role=user.role, deployment_id=user.deployment_id)


@router.get("/staff/users", response_model=list[StaffOut], summary="Staff accounts you manage (admins)")
def list_staff(db: Db, u: StaffAdmin) -> list[StaffOut]:
    q = select(StaffUser).order_by(StaffUser.id)
    if u.deployment_id is not None:
        q = q.where(StaffUser.deployment_id == u.deployment_id)
    return [
        StaffOut(id=s.id, username=s.username, role=s.role, deployment_id=s.deployment_id)
        for s in db.scalars(q)
    ]


@router.post(
    "/staff/users",
    response_model=StaffOut,
    status_code=201,
    summary="Create a staff account (admins; within their deployment)",
)
def add_staff(body: StaffIn, db: Db, who: Who, caller: StaffMember, now: Now) -> StaffOut:
    me_ = require_staff(who, body.deployment_id, "admin")
    if me_.deployment_id is not None and body.deployment_id != me_.deployment_id:
        raise ApiError(
            403,
            "role",
            N_("Your account does not have the required role ({role}). Ask an administrator."),
            role="admin",
        )
    dep = db.get(Deployment, body.deployment_id) if body.deployment_id else None
    if body.deployment_id and dep is None:
        raise deployment_unknown(body.deployment_id)
    u = admin.create_staff(db, body.username, body.password, body.role, dep)
    admin.audit(db, caller, "staff.create", u.deployment_id, detail=f"{u.username} ({u.role})", now=now)
    db.commit()
    return StaffOut(id=u.id, username=u.username, role=u.role, deployment_id=u.deployment_id)


@router.get("/staff/tokens", response_model=list[TokenOut], summary="Your API tokens")
def list_tokens(db: Db, user: StaffMember) -> list[TokenOut]:
    rows = db.scalars(
        select(StaffToken).where(
            StaffToken.user_id == user.id, StaffToken.kind == "api", StaffToken.revoked_utc.is_(None)
        )
    ).all()
    return [TokenOut(id=t.id, name=t.name, created_utc=t.created_utc) for t in rows]


@router.post(
    "/staff/tokens",
    response_model=TokenOut,
    status_code=201,
    summary="Create an API token for scripts (same rights as you)",
)
def add_token(body: TokenIn, db: Db, user: StaffMember, now: Now) -> TokenOut:
    tok, token = admin.create_token(db, user, "api", body.name)
    admin.audit(db, user, "token.create", user.deployment_id, detail=tok.name, now=now)
    db.commit()
    return TokenOut(id=tok.id, name=tok.name, created_utc=tok.created_utc, token=token)


@router.delete("/staff/tokens/{token_id}", summary="Revoke one of your API tokens")
def revoke_token(token_id: Annotated[int, Path(ge=1, lt=2**31)], db: Db, user: StaffMember,
                 now: Now) -> dict:
    tok = db.get(StaffToken, token_id)
    if tok is None or tok.user_id != user.id or tok.kind != "api":
        raise ApiError(404, "token_unknown", N_("No such token among yours."))
    tok.revoked_utc = now_utc()
    admin.audit(db, user, "token.revoke", user.deployment_id, detail=tok.name, now=now)
    db.commit()
    return {"id": token_id, "revoked": True}
