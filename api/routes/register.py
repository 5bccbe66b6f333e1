"""One-call meter registration for the workshop tool (`citizenwatt provision|workshop`):
a meter, its household (found or created by its reference) and its channel labels, made
from the same admin functions as the granular staff endpoints. Idempotent, so a board
redone in the workshop registers again without harm."""

from __future__ import annotations

from fastapi import APIRouter, Response

from citizenwatt.i18n import N_

from .. import admin
from ..consumption import MAX_DATE, MIN_DATE, local_today, zone
from ..deps import Db, Now, StaffMember, Store, Who, deployment_for
from ..errors import ERROR_RESPONSES, ApiError
from ..schemas import RegisterIn, RegisterOut

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)


@router.post("/meters/register", response_model=RegisterOut, status_code=201,
             responses={200: {"model": RegisterOut,
                              "description": "Already registered in this household: nothing changed "
                                             "but the channel labels."}},
             summary="Register a meter in a household in one call (workshop tool; leaders)")
def register(response: Response, body: RegisterIn, db: Db, who: Who, user: StaffMember,
             now: Now, store: Store) -> RegisterOut:
    deployment_id = body.deployment_id or user.deployment_id
    if deployment_id is None:
        raise ApiError(422, "register_deployment", N_("Your account sees every deployment: say which one "
                                                      "with \"deployment_id\", or use the token of an "
                                                      "account of that deployment (leader role)."))
    dep = deployment_for(db, who, deployment_id, "leader")
    ids = [ch.id for ch in body.channels]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ApiError(422, "channel_twice", N_("Channel {channel} is given twice: send each channel once, "
                                                "with its label."), channel=twice[0])
    tz_name = body.household.timezone
    if tz_name is not None and tz_name != dep.timezone:
        zone(tz_name)
        raise ApiError(422, "household_timezone", N_("This deployment's households live on {deployment_tz} "
                                                     "time, not {value}: send that time zone (or none), or "
                                                     "register the household in a deployment with that time "
                                                     "zone."), value=tz_name, deployment_tz=dep.timezone)
    day = body.from_date or local_today(now, zone(dep.timezone))
    if not MIN_DATE <= day <= MAX_DATE:
        raise ApiError(422, "date_bounds", N_("The date {value} is outside the accepted bounds ({min} to "
                                              "{max})."), value=day.isoformat(), min=MIN_DATE.isoformat(),
                       max=MAX_DATE.isoformat())

    reg = admin.register_in_household(db, dep, body.meter_id, body.household.ref, day,
                                      [(ch.id, ch.label, ch.role) for ch in body.channels], store)
    admin.audit(db, user, "meter.register_in_household", dep.id, reg.household.id,
                detail=f"{body.meter_id} → {reg.household.name}", now=now)
    db.commit()
    response.status_code = 201 if reg.created else 200
    return RegisterOut(meter_id=body.meter_id, deployment_id=dep.id,
                       household_id=reg.household.id, household_ref=reg.household.name,
                       household_link=f"/h/{reg.token}" if reg.token else None,
                       from_date=reg.assignment.valid_from)
