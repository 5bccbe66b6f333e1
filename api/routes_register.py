"""One-call meter registration for the workshop tool (`citizenwatt provision|workshop`):
a meter, its household (found or created by its reference) and its channel labels, made
from the same admin functions as the granular staff endpoints. Idempotent, so a board
redone in the workshop registers again without harm."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.firmware import wire

from citizenwatt.i18n import N_

from . import admin
from .auth import Principal, get_db, principal, require_staff
from .consumption import MAX_DATE, MIN_DATE, local_today, zone
from .errors import ERROR_RESPONSES, ApiError
from .models import Channel, Household, MeterAssignment
from .routes_meters import METER_ID_PATTERN
from .routes_staff import Name, load_deployment

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)
Db = Annotated[Session, Depends(get_db)]
Who = Annotated[Principal, Depends(principal)]


class RegisterHouseholdIn(BaseModel):
    ref: Name = Field(description="The household's name in the deployment (a pseudonym such as "
                                  "HH-12 or Foyer 12): found if it exists, created otherwise.")
    name: str | None = Field(None, max_length=100,
                             description="The workshop's own label (a family name): accepted, "
                                         "never stored; the API keeps pseudonyms only.")
    timezone: str | None = Field(None, max_length=64,
                                 description="Must be the deployment's time zone, if given.")


class RegisterChannelIn(BaseModel):
    id: int = Field(ge=0, lt=wire.MAX_CHANNELS)
    label: str = Field("", max_length=60, description="Empty: the channel keeps its label.")
    role: Literal["main", "sub"] | None = Field(
        None, description="sub: a circuit already counted by a main clamp. Default: the "
                          "channel keeps its role (main for a new one).")


class RegisterIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    household: RegisterHouseholdIn
    channels: list[RegisterChannelIn] = Field([], max_length=wire.MAX_CHANNELS)
    from_date: date | None = Field(None, description="First local day the meter measures the "
                                                     "household (default: today).")
    deployment_id: int | None = Field(None, ge=1, lt=2 ** 31, description=(
        "Default: the deployment of the token's account; required for association-wide accounts."))


class RegisterOut(BaseModel):
    meter_id: str
    deployment_id: int
    household_id: int
    household_ref: str
    household_link: str | None = Field(description=(
        "/h/<secret token>, only in the answer that created the household (secrets are shown "
        "once); null afterwards: reissue with POST /api/v1/households/{id}/link."))
    from_date: date


@router.post("/meters/register", response_model=RegisterOut, status_code=201,
             responses={200: {"model": RegisterOut,
                              "description": "Already registered in this household: nothing changed "
                                             "but the channel labels."}},
             summary="Register a meter in a household in one call (workshop tool; leaders)")
def register(request: Request, response: Response, body: RegisterIn, db: Db, who: Who) -> RegisterOut:
    if who.user is None:
        require_staff(who, None)  # 401 without credentials, 403 with a household link
    deployment_id = body.deployment_id or who.user.deployment_id
    if deployment_id is None:
        raise ApiError(422, "register_deployment", N_("Your account sees every deployment: say which one with \"deployment_id\", or use the token of an account of that deployment (leader role)."))
    dep = load_deployment(db, who, deployment_id, "leader")
    ids = [ch.id for ch in body.channels]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ApiError(422, "channel_twice", N_("Channel {channel} is given twice: send each channel once, with its label."), channel=twice[0])
    tz_name = body.household.timezone
    if tz_name is not None and tz_name != dep.timezone:
        zone(tz_name)
        raise ApiError(422, "household_timezone", N_("This deployment's households live on {deployment_tz} time, not {value}: send that time zone (or none), or register the household in a deployment with that time zone."), value=tz_name, deployment_tz=dep.timezone)
    day = body.from_date or local_today(request.app.state.clock(), zone(dep.timezone))
    if not MIN_DATE <= day <= MAX_DATE:
        raise ApiError(422, "date_bounds", N_("The date {value} is outside the accepted bounds ({min} to {max})."), value=day.isoformat(), min=MIN_DATE.isoformat(),
                       max=MAX_DATE.isoformat())

    meter = admin.register_meter(db, dep, body.meter_id)
    hh = db.scalar(select(Household).where(Household.deployment_id == dep.id,
                                           Household.name == body.household.ref))
    token = None
    if hh is None:
        hh, token = admin.create_household(db, dep, body.household.ref)
    # A meter measuring another household is not moved silently: a move has a date, and a
    # mistyped reference must not take a meter away from a family.
    current = db.scalar(select(MeterAssignment).where(MeterAssignment.meter_id == meter.id,
                                                      MeterAssignment.valid_to.is_(None)))
    if current is not None and current.household_id != hh.id:
        other = db.get(Household, current.household_id)
        raise ApiError(409, "meter_in_household", N_("Meter \"{meter_id}\" already measures household \"{household}\" (since {day}). Check the household reference; to move the meter, use POST /api/v1/households/<household>/meters with the date of the move."), meter_id=meter.id, household=other.name,
                       household_id=other.id, day=current.valid_from.isoformat())
    created = current is None
    if created:
        current = admin.assign_meter(db, hh, meter.id, day)
    for ch in body.channels:
        known = db.get(Channel, (meter.id, ch.id))
        admin.set_channel(db, meter, ch.id, ch.label or (known.label if known else ""),
                          ch.role or (known.role if known else "main"))
    db.commit()
    response.status_code = 201 if created else 200
    return RegisterOut(meter_id=meter.id, deployment_id=dep.id, household_id=hh.id,
                       household_ref=hh.name, household_link=f"/h/{token}" if token else None,
                       from_date=current.valid_from)
