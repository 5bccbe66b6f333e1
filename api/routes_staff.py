"""JSON endpoints for the association's staff: deployments, meters and their status,
households and their links, tariffs, temperatures, staff accounts and API tokens."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.firmware import wire

from citizenwatt.i18n import N_

from . import admin
from .auth import Principal, get_db, load_household, principal, require_staff
from .errors import ERROR_RESPONSES, ApiError
from .models import (DailyTemperature, Deployment, Household, Meter, StaffToken, StaffUser,
                     Tariff, now_utc)
from .routes_households import HidDep, HouseholdOut, household_out
from .routes_meters import METER_ID_PATTERN
from .staff_view import meter_rows

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)
Db = Annotated[Session, Depends(get_db)]
Who = Annotated[Principal, Depends(principal)]
Did = Annotated[int, Path(ge=1, lt=2 ** 31)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f<>]+$")]


def load_deployment(db: Session, who: Principal, deployment_id: int, role: str) -> Deployment:
    require_staff(who, deployment_id, role)
    dep = db.get(Deployment, deployment_id)
    if dep is None:
        raise ApiError(404, "deployment_unknown", N_("Deployment {deployment_id} not found with these rights. Check the number."), deployment_id=deployment_id)
    return dep


def staff_household(db: Session, who: Principal, household_id: int, role: str) -> Household:
    hh = load_household(db, who, household_id)
    require_staff(who, hh.deployment_id, role)
    return hh


class DeploymentIn(BaseModel):
    name: Name
    timezone: str = Field("Europe/Paris", max_length=64)
    co2_g_per_kwh: float | None = Field(None, ge=0, le=2000)
    co2_source: str | None = Field(None, min_length=1, max_length=500)


class DeploymentPatch(BaseModel):
    co2_g_per_kwh: float | None = Field(None, ge=0, le=2000)
    co2_source: str | None = Field(None, min_length=1, max_length=500)
    hdd_base_c: float | None = Field(None, ge=5, le=25)


class DeploymentOut(BaseModel):
    id: int
    name: str
    timezone: str
    co2_g_per_kwh: float
    co2_source: str
    hdd_base_c: float


def dep_out(d: Deployment) -> DeploymentOut:
    return DeploymentOut(id=d.id, name=d.name, timezone=d.timezone, co2_g_per_kwh=d.co2_g_per_kwh,
                         co2_source=d.co2_source, hdd_base_c=d.hdd_base_c)


@router.get("/deployments", response_model=list[DeploymentOut], summary="Deployments you can see")
def list_deployments(db: Db, who: Who) -> list[DeploymentOut]:
    if who.anonymous:
        raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
    if who.user is None:
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link does not open it."))
    q = select(Deployment).order_by(Deployment.id)
    if who.user.deployment_id is not None:
        q = q.where(Deployment.id == who.user.deployment_id)
    return [dep_out(d) for d in db.scalars(q)]


@router.post("/deployments", response_model=DeploymentOut, status_code=201,
             summary="Create a deployment (association admins)")
def create_deployment(body: DeploymentIn, db: Db, who: Who) -> DeploymentOut:
    require_staff(who, None, "admin")
    from .consumption import zone
    zone(body.timezone)
    kw = {k: v for k, v in (("co2_g_per_kwh", body.co2_g_per_kwh), ("co2_source", body.co2_source)) if v is not None}
    dep = admin.create_deployment(db, body.name, body.timezone, **kw)
    db.commit()
    return dep_out(dep)


@router.patch("/deployments/{deployment_id}", response_model=DeploymentOut,
              summary="Change the carbon factor (with its source) or the degree-day base")
def patch_deployment(deployment_id: Did, body: DeploymentPatch, db: Db, who: Who) -> DeploymentOut:
    dep = load_deployment(db, who, deployment_id, "admin")
    for k, v in body.model_dump(exclude_none=True).items():
        setattr(dep, k, v)
    db.commit()
    return dep_out(dep)


class MeterStatusOut(BaseModel):
    meter_id: str
    registered: bool
    note: str
    household_id: int | None
    household: str | None
    online: bool | None
    state: str | None
    last_seen_utc: float | None
    last_seen_age_s: float | None
    readings: int
    clamp_faults: list[str] = Field(description="Channels the meter reports as faulty.")
    queue_drops: int | None = Field(description="Readings the meter dropped from its offline queue.")
    channels: list[dict]


@router.get("/deployments/{deployment_id}/meters", response_model=list[MeterStatusOut],
            summary="Meters of the deployment with their status")
def deployment_meters(request: Request, deployment_id: Did, db: Db, who: Who) -> list[MeterStatusOut]:
    dep = load_deployment(db, who, deployment_id, "viewer")
    return [MeterStatusOut(**r) for r in meter_rows(db, request.app.state.store, dep,
                                                      request.app.state.clock())]


class MeterIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    note: str = Field("", max_length=200)


@router.post("/deployments/{deployment_id}/meters", status_code=201, summary="Register a meter")
def register_meter(deployment_id: Did, body: MeterIn, db: Db, who: Who) -> dict:
    dep = load_deployment(db, who, deployment_id, "leader")
    m = admin.register_meter(db, dep, body.meter_id, body.note)
    db.commit()
    return {"meter_id": m.id, "deployment_id": dep.id, "note": m.note}


class ChannelIn(BaseModel):
    label: str = Field(min_length=1, max_length=60)
    role: Literal["main", "sub"] = "main"


@router.put("/meters/{meter_id}/channels/{channel}", summary="Label a channel (main or sub-circuit)")
def put_channel(meter_id: Annotated[str, Path(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)],
                channel: Annotated[int, Path(ge=0, lt=wire.MAX_CHANNELS)], body: ChannelIn,
                db: Db, who: Who) -> dict:
    if who.user is None:
        require_staff(who, None)
    m = db.get(Meter, meter_id)
    if m is None or not who.staff_can(m.deployment_id, "viewer"):
        raise ApiError(404, "meter_not_registered", N_("Meter \"{meter_id}\" is not registered in this deployment: register it first."), meter_id=meter_id)
    require_staff(who, m.deployment_id, "leader")
    c = admin.set_channel(db, m, channel, body.label, body.role)
    db.commit()
    return {"meter_id": meter_id, "channel": c.channel, "label": c.label, "role": c.role}


class HouseholdIn(BaseModel):
    name: Name
    profile: str = Field("", max_length=60)
    tariff_option: Literal["base", "hphc"] = "base"
    offpeak_start_h: int = Field(22, ge=0, le=23)
    offpeak_end_h: int = Field(6, ge=0, le=23)
    baseline_start: date | None = None
    baseline_end: date | None = None


class HouseholdPatch(BaseModel):
    name: Name | None = None
    profile: str | None = Field(None, max_length=60)
    tariff_option: Literal["base", "hphc"] | None = None
    offpeak_start_h: int | None = Field(None, ge=0, le=23)
    offpeak_end_h: int | None = Field(None, ge=0, le=23)
    baseline_start: date | None = None
    baseline_end: date | None = None


class HouseholdSummaryOut(BaseModel):
    id: int
    name: str
    profile: str
    meters: list[str]
    link_active: bool


class LinkOut(BaseModel):
    household_id: int
    token: str = Field(description="Shown once: give it to the household (link or QR code).")
    path: str


def check_baseline(start: date | None, end: date | None) -> None:
    from .consumption import check_dates
    if (start is None) != (end is None):
        raise ApiError(422, "baseline_pair", N_("Give both the start and the end of the baseline period, or neither."))
    if start and end:
        check_dates(start, end)
        if (end - start).days > 731:
            raise ApiError(422, "range_too_long", N_("The range spans {days} days; at resolution \"{resolution}\" at most {max_days} days are allowed. Shorten the range or pick a coarser resolution (day, week, month)."), days=(end - start).days + 1,
                           resolution="day", max_days=732)


@router.get("/deployments/{deployment_id}/households", response_model=list[HouseholdSummaryOut],
            summary="Households of the deployment")
def list_households(deployment_id: Did, db: Db, who: Who) -> list[HouseholdSummaryOut]:
    dep = load_deployment(db, who, deployment_id, "viewer")
    out = []
    for hh in sorted(dep.households, key=lambda h: h.id):
        out.append(HouseholdSummaryOut(
            id=hh.id, name=hh.name, profile=hh.profile,
            meters=[a.meter_id for a in hh.assignments if a.valid_to is None],
            link_active=any(link.revoked_utc is None for link in hh.links)))
    return out


@router.post("/deployments/{deployment_id}/households", response_model=LinkOut, status_code=201,
             summary="Create a household; answers its secret link (shown once)")
def create_household(deployment_id: Did, body: HouseholdIn, db: Db, who: Who) -> LinkOut:
    dep = load_deployment(db, who, deployment_id, "leader")
    check_baseline(body.baseline_start, body.baseline_end)
    hh, token = admin.create_household(db, dep, **body.model_dump())
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}")


@router.patch("/households/{household_id}", response_model=HouseholdOut,
              summary="Change a household (baseline, profile, tariff option, off-peak hours)")
def patch_household(household_id: HidDep, body: HouseholdPatch, db: Db, who: Who) -> HouseholdOut:
    hh = staff_household(db, who, household_id, "leader")
    fields = body.model_dump(exclude_unset=True)
    if None in (fields.get("name", ""), fields.get("tariff_option", ""), fields.get("profile", ""),
                fields.get("offpeak_start_h", 0), fields.get("offpeak_end_h", 0)):
        raise ApiError(422, "param", N_("The parameter \"{name}\" is not valid ({detail}). Fix it and try again."), name="null", detail="null")
    if "baseline_start" in fields or "baseline_end" in fields:
        check_baseline(fields.get("baseline_start", hh.baseline_start),
                       fields.get("baseline_end", hh.baseline_end))
    for k, v in fields.items():
        setattr(hh, k, v)
    db.commit()
    return household_out(hh)


@router.post("/households/{household_id}/link", response_model=LinkOut, status_code=201,
             summary="Issue a new secret link (older ones stop working)")
def reissue_link(household_id: HidDep, db: Db, who: Who) -> LinkOut:
    hh = staff_household(db, who, household_id, "leader")
    token = admin.issue_link(db, hh)
    db.commit()
    return LinkOut(household_id=hh.id, token=token, path=f"/h/{token}")


@router.delete("/households/{household_id}/link", summary="Revoke the household's links")
def revoke_link(household_id: HidDep, db: Db, who: Who) -> dict:
    hh = staff_household(db, who, household_id, "leader")
    n = admin.revoke_links(db, hh)
    db.commit()
    return {"household_id": hh.id, "revoked": n}


class AssignIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    valid_from: date = Field(description="First local day the meter measures this household.")


@router.post("/households/{household_id}/meters", response_model=HouseholdOut, status_code=201,
             summary="Put a meter in this household from a date (moves it if it was elsewhere)")
def assign_meter(household_id: HidDep, body: AssignIn, db: Db, who: Who) -> HouseholdOut:
    from .consumption import MAX_DATE, MIN_DATE
    hh = staff_household(db, who, household_id, "leader")
    if not MIN_DATE <= body.valid_from <= MAX_DATE:
        raise ApiError(422, "date_bounds", N_("The date {value} is outside the accepted bounds ({min} to {max})."), value=body.valid_from.isoformat(),
                       min=MIN_DATE.isoformat(), max=MAX_DATE.isoformat())
    admin.assign_meter(db, hh, body.meter_id, body.valid_from)
    db.commit()
    return household_out(hh)


class TariffIn(BaseModel):
    option: Literal["base", "hphc"]
    valid_from: date = Field(description="First day the prices apply (included).")
    valid_to: date | None = Field(None, description=(
        "Day the prices stop applying (excluded: the next tariff's valid_from); null = still valid. "
        "On a day two tariffs cover, the one that started last applies."))
    base_eur_per_kwh: float | None = Field(None, gt=0, le=10)
    peak_eur_per_kwh: float | None = Field(None, gt=0, le=10)
    offpeak_eur_per_kwh: float | None = Field(None, gt=0, le=10)
    source: str = Field("", max_length=200)


class TariffOut(TariffIn):
    id: int


@router.get("/deployments/{deployment_id}/tariffs", response_model=list[TariffOut],
            summary="Tariffs with their validity dates")
def list_tariffs(deployment_id: Did, db: Db, who: Who) -> list[TariffOut]:
    dep = load_deployment(db, who, deployment_id, "viewer")
    return [TariffOut(id=t.id, option=t.option, valid_from=t.valid_from, valid_to=t.valid_to,
                      base_eur_per_kwh=t.base_eur_per_kwh, peak_eur_per_kwh=t.peak_eur_per_kwh,
                      offpeak_eur_per_kwh=t.offpeak_eur_per_kwh, source=t.source)
            for t in sorted(dep.tariffs, key=lambda t: (t.option, t.valid_from))]


@router.post("/deployments/{deployment_id}/tariffs", response_model=TariffOut, status_code=201,
             summary="Add a tariff (base: one price; hphc: peak and off-peak prices)")
def add_tariff(deployment_id: Did, body: TariffIn, db: Db, who: Who) -> TariffOut:
    dep = load_deployment(db, who, deployment_id, "leader")
    if body.option == "base" and body.base_eur_per_kwh is None:
        raise ApiError(422, "tariff_prices", N_("A \"{option}\" tariff needs: {fields}."), option="base", fields="base_eur_per_kwh")
    if body.option == "hphc" and (body.peak_eur_per_kwh is None or body.offpeak_eur_per_kwh is None):
        raise ApiError(422, "tariff_prices", N_("A \"{option}\" tariff needs: {fields}."), option="hphc",
                       fields="peak_eur_per_kwh, offpeak_eur_per_kwh")
    if body.valid_to is not None and body.valid_to <= body.valid_from:
        raise ApiError(422, "range_order", N_("The end date ({end}) is before the start date ({start}): swap them."), start=body.valid_from.isoformat(),
                       end=body.valid_to.isoformat())
    t = Tariff(deployment_id=dep.id, **body.model_dump())
    db.add(t)
    db.commit()
    return TariffOut(id=t.id, **body.model_dump())


class TemperatureIn(BaseModel):
    day: date
    mean_temp_c: float = Field(ge=-60, le=60)


@router.put("/deployments/{deployment_id}/temperatures", summary="Add or replace daily mean outdoor temperatures")
def put_temperatures(deployment_id: Did, body: Annotated[list[TemperatureIn], Field(max_length=4000)],
                     db: Db, who: Who) -> dict:
    dep = load_deployment(db, who, deployment_id, "leader")
    for t in body:
        row = db.get(DailyTemperature, (dep.id, t.day))
        if row is None:
            db.add(DailyTemperature(deployment_id=dep.id, day=t.day, mean_temp_c=t.mean_temp_c))
        else:
            row.mean_temp_c = t.mean_temp_c
        db.flush()
    db.commit()
    return {"deployment_id": dep.id, "days": len(body)}


class StaffOut(BaseModel):
    id: int
    username: str
    role: str
    deployment_id: int | None


class StaffIn(BaseModel):
    username: str = Field(min_length=2, max_length=60, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=10, max_length=200)
    role: Literal["viewer", "leader", "admin"]
    deployment_id: int | None = Field(None, ge=1, lt=2 ** 31)


@router.get("/staff/me", response_model=StaffOut, summary="Who you are (staff)")
def me(who: Who) -> StaffOut:
    if who.user is None:
        if who.anonymous:
            raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link does not open it."))
    u = who.user
    return StaffOut(id=u.id, username=u.username, role=u.role, deployment_id=u.deployment_id)


@router.get("/staff/users", response_model=list[StaffOut], summary="Staff accounts you manage (admins)")
def list_staff(db: Db, who: Who) -> list[StaffOut]:
    u = require_staff(who, who.user.deployment_id if who.user else None, "admin")
    q = select(StaffUser).order_by(StaffUser.id)
    if u.deployment_id is not None:
        q = q.where(StaffUser.deployment_id == u.deployment_id)
    return [StaffOut(id=s.id, username=s.username, role=s.role, deployment_id=s.deployment_id)
            for s in db.scalars(q)]


@router.post("/staff/users", response_model=StaffOut, status_code=201,
             summary="Create a staff account (admins; within their deployment)")
def add_staff(body: StaffIn, db: Db, who: Who) -> StaffOut:
    me_ = require_staff(who, body.deployment_id, "admin")
    if me_.deployment_id is not None and body.deployment_id != me_.deployment_id:
        raise ApiError(403, "role", N_("Your account does not have the required role ({role}). Ask an administrator."), role="admin")
    dep = db.get(Deployment, body.deployment_id) if body.deployment_id else None
    if body.deployment_id and dep is None:
        raise ApiError(404, "deployment_unknown", N_("Deployment {deployment_id} not found with these rights. Check the number."), deployment_id=body.deployment_id)
    u = admin.create_staff(db, body.username, body.password, body.role, dep)
    db.commit()
    return StaffOut(id=u.id, username=u.username, role=u.role, deployment_id=u.deployment_id)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=60)


class TokenOut(BaseModel):
    id: int
    name: str
    created_utc: float
    token: str | None = Field(None, description="Only in the answer that creates it.")


def _me(who: Principal) -> StaffUser:
    if who.user is None:
        if who.anonymous:
            raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link does not open it."))
    return who.user


@router.get("/staff/tokens", response_model=list[TokenOut], summary="Your API tokens")
def list_tokens(db: Db, who: Who) -> list[TokenOut]:
    u = _me(who)
    rows = db.scalars(select(StaffToken).where(StaffToken.user_id == u.id, StaffToken.kind == "api",
                                               StaffToken.revoked_utc.is_(None))).all()
    return [TokenOut(id=t.id, name=t.name, created_utc=t.created_utc) for t in rows]


@router.post("/staff/tokens", response_model=TokenOut, status_code=201,
             summary="Create an API token for scripts (same rights as you)")
def add_token(body: TokenIn, db: Db, who: Who) -> TokenOut:
    u = _me(who)
    tok, token = admin.create_token(db, u, "api", body.name)
    db.commit()
    return TokenOut(id=tok.id, name=tok.name, created_utc=tok.created_utc, token=token)


@router.delete("/staff/tokens/{token_id}", summary="Revoke one of your API tokens")
def revoke_token(token_id: Annotated[int, Path(ge=1, lt=2 ** 31)], db: Db, who: Who) -> dict:
    u = _me(who)
    tok = db.get(StaffToken, token_id)
    if tok is None or tok.user_id != u.id or tok.kind != "api":
        raise ApiError(404, "token_unknown", N_("No such token among yours."))
    tok.revoked_utc = now_utc()
    db.commit()
    return {"id": token_id, "revoked": True}
