"""JSON endpoints for the association's staff: deployments, meters and their status,
households and their links, tariffs, temperatures, staff accounts and API tokens."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field
from sqlalchemy import select

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_

from .. import admin
from ..consumption import MAX_DATE, MIN_DATE, check_dates, zone
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
    require_staff,
)
from ..errors import ERROR_RESPONSES, ApiError
from ..models import DailyTemperature, Deployment, Meter, StaffToken, StaffUser, Tariff, now_utc
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
from ..staff_view import meter_rows

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)


@router.get("/deployments", response_model=list[DeploymentOut], summary="Deployments you can see")
def list_deployments(db: Db, user: StaffMember) -> list[DeploymentOut]:
    q = select(Deployment).order_by(Deployment.id)
    if user.deployment_id is not None:
        q = q.where(Deployment.id == user.deployment_id)
    return [dep_out(d) for d in db.scalars(q)]


@router.post("/deployments", response_model=DeploymentOut, status_code=201,
             summary="Create a deployment (association admins)")
def create_deployment(body: DeploymentIn, db: Db, caller: AssociationAdmin) -> DeploymentOut:
    zone(body.timezone)
    kw = {
        k: v
        for k, v in (("co2_g_per_kwh", body.co2_g_per_kwh), ("co2_source", body.co2_source))
        if v is not None
    }
    dep = admin.create_deployment(db, body.name, body.timezone, **kw)
    db.commit()
    return dep_out(dep)


@router.patch(
    "/deployments/{deployment_id}",
    response_model=DeploymentOut,
    summary="Change the carbon factor (with its source) or the degree-day base",
)
def patch_deployment(dep: DeploymentAsAdmin, body: DeploymentPatch, db: Db) -> DeploymentOut:
    for k, v in body.model_dump(exclude_none=True).items():
        setattr(dep, k, v)
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
def register_meter(dep: DeploymentAsLeader, body: MeterIn, db: Db) -> dict:
    m = admin.register_meter(db, dep, body.meter_id, body.note)
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
    c = admin.set_channel(db, m, channel, body.label, body.role)
    db.commit()
    return {"meter_id": meter_id, "channel": c.channel, "label": c.label, "role": c.role}


def check_baseline(start: date | None, end: date | None) -> None:
    if (start is None) != (end is None):
        raise ApiError(
            422, "baseline_pair", N_("Give both the start and the end of the baseline period, or neither.")
        )
    if start and end:
        check_dates(start, end)
        if (end - start).days > 731:
            raise ApiError(
                422,
                "range_too_long",
                N_(
                    "The range spans {days} days; at resolution "
                    '"{resolution}" at most {max_days} days are allowed. '
                    "Shorten the range or pick a coarser resolution (day, "
                    "week, month)."
                ),
                days=(end - start).days + 1,
                resolution="day",
                max_days=732,
            )


@router.get(
    "/deployments/{deployment_id}/households",
    response_model=list[HouseholdSummaryOut],
    summary="Households of the deployment",
)
def list_households(dep: DeploymentAsViewer) -> list[HouseholdSummaryOut]:
    return [
        HouseholdSummaryOut(
            id=hh.id,
            name=hh.name,
            profile=hh.profile,
            meters=[a.meter_id for a in hh.assignments if a.valid_to is None],
            link_active=any(link.revoked_utc is None for link in hh.links),
        )
        for hh in sorted(dep.households, key=lambda h: h.id)
    ]


@router.post(
    "/deployments/{deployment_id}/households",
    response_model=LinkOut,
    status_code=201,
    summary="Create a household; answers its secret link (shown once)",
)
def create_household(dep: DeploymentAsLeader, body: HouseholdIn, db: Db) -> LinkOut:
    check_baseline(body.baseline_start, body.baseline_end)
    hh, token = admin.create_household(db, dep, **body.model_dump())
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}")


@router.patch(
    "/households/{household_id}",
    response_model=HouseholdOut,
    summary="Change a household (baseline, profile, tariff option, off-peak hours)",
)
def patch_household(hh: HouseholdAsLeader, body: HouseholdPatch, db: Db) -> HouseholdOut:
    fields = body.model_dump(exclude_unset=True)
    if None in (
        fields.get("name", ""),
        fields.get("tariff_option", ""),
        fields.get("profile", ""),
        fields.get("offpeak_start_h", 0),
        fields.get("offpeak_end_h", 0),
    ):
        raise ApiError(
            422,
            "param",
            N_('The parameter "{name}" is not valid ({detail}). Fix it and try again.'),
            name="null",
            detail="null",
        )
    if "baseline_start" in fields or "baseline_end" in fields:
        check_baseline(
            fields.get("baseline_start", hh.baseline_start), fields.get("baseline_end", hh.baseline_end)
        )
    if fields.get("name", hh.name) != hh.name:
        admin.check_household_name_free(db, hh.deployment_id, fields["name"])
    for k, v in fields.items():
        setattr(hh, k, v)
    db.commit()
    return household_out(hh)


@router.post(
    "/households/{household_id}/link",
    response_model=LinkOut,
    status_code=201,
    summary="Issue a new secret link (older ones stop working)",
)
def reissue_link(hh: HouseholdAsLeader, db: Db) -> LinkOut:
    token = admin.issue_link(db, hh)
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}")


@router.delete("/households/{household_id}/link", summary="Revoke the household's links")
def revoke_link(hh: HouseholdAsLeader, db: Db) -> dict:
    n = admin.revoke_links(db, hh)
    db.commit()
    return {"household_id": hh.id, "revoked": n}


@router.post(
    "/households/{household_id}/meters",
    response_model=HouseholdOut,
    status_code=201,
    summary="Put a meter in this household from a date (moves it if it was elsewhere)",
)
def assign_meter(hh: HouseholdAsLeader, body: AssignIn, db: Db) -> HouseholdOut:
    if not MIN_DATE <= body.valid_from <= MAX_DATE:
        raise ApiError(
            422,
            "date_bounds",
            N_("The date {value} is outside the accepted bounds ({min} to {max})."),
            value=body.valid_from.isoformat(),
            min=MIN_DATE.isoformat(),
            max=MAX_DATE.isoformat(),
        )
    admin.assign_meter(db, hh, body.meter_id, body.valid_from)
    db.commit()
    return household_out(hh)


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
def add_tariff(dep: DeploymentAsLeader, body: TariffIn, db: Db) -> TariffOut:
    if body.option == "base" and body.base_eur_per_kwh is None:
        raise ApiError(
            422,
            "tariff_prices",
            N_('A "{option}" tariff needs: {fields}.'),
            option="base",
            fields="base_eur_per_kwh",
        )
    if body.option == "hphc" and (body.peak_eur_per_kwh is None or body.offpeak_eur_per_kwh is None):
        raise ApiError(
            422,
            "tariff_prices",
            N_('A "{option}" tariff needs: {fields}.'),
            option="hphc",
            fields="peak_eur_per_kwh, offpeak_eur_per_kwh",
        )
    if body.valid_to is not None and body.valid_to <= body.valid_from:
        raise ApiError(
            422,
            "range_order",
            N_("The end date ({end}) is before the start date ({start}): swap them."),
            start=body.valid_from.isoformat(),
            end=body.valid_to.isoformat(),
        )
    t = Tariff(deployment_id=dep.id, **body.model_dump())
    db.add(t)
    db.commit()
    return TariffOut(id=t.id, **body.model_dump())


@router.put(
    "/deployments/{deployment_id}/temperatures", summary="Add or replace daily mean outdoor temperatures"
)
def put_temperatures(
    dep: DeploymentAsLeader, body: Annotated[list[TemperatureIn], Field(max_length=4000)], db: Db
) -> dict:
    for t in body:
        row = db.get(DailyTemperature, (dep.id, t.day))
        if row is None:
            db.add(DailyTemperature(deployment_id=dep.id, day=t.day, mean_temp_c=t.mean_temp_c))
        else:
            row.mean_temp_c = t.mean_temp_c
        db.flush()
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
def add_staff(body: StaffIn, db: Db, who: Who, caller: StaffMember) -> StaffOut:
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
        raise ApiError(
            404,
            "deployment_unknown",
            N_("Deployment {deployment_id} not found with these rights. Check the number."),
            deployment_id=body.deployment_id,
        )
    u = admin.create_staff(db, body.username, body.password, body.role, dep)
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
def add_token(body: TokenIn, db: Db, user: StaffMember) -> TokenOut:
    tok, token = admin.create_token(db, user, "api", body.name)
    db.commit()
    return TokenOut(id=tok.id, name=tok.name, created_utc=tok.created_utc, token=token)


@router.delete("/staff/tokens/{token_id}", summary="Revoke one of your API tokens")
def revoke_token(token_id: Annotated[int, Path(ge=1, lt=2**31)], db: Db, user: StaffMember) -> dict:
    tok = db.get(StaffToken, token_id)
    if tok is None or tok.user_id != user.id or tok.kind != "api":
        raise ApiError(404, "token_unknown", N_("No such token among yours."))
    tok.revoked_utc = now_utc()
    db.commit()
    return {"id": token_id, "revoked": True}
