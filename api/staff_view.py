"""The staff's view of meters: registration, household, and the status each meter
publishes (online, last seen, clamp faults, readings dropped from its offline queue); and
the staff page's overview of the deployments a staff member sees."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.store.port import ReadingStore

from .consumption import local_today
from .household_data import household_zone, sub_excess_day
from .models import Deployment, Household, Meter, MeterAssignment, MeterUpdate, StaffUser


def roles_suspect_day(store: ReadingStore, hh: Household, now_s: float) -> date | None:
    """Yesterday or today, when the household's sub-circuits measured more than its whole
    home (channel_roles: wrong roles or swapped clamps); the staff are shown it."""
    today = local_today(now_s, household_zone(hh))
    return sub_excess_day(store, hh, today - timedelta(days=1), today)


def without_role(meter: Meter, seen: tuple[int, ...] | list[int]) -> list[int]:
    """Channels the meter sends readings on that were never given a role: they count in the
    household's total until staff say otherwise (a meter registered before roles, or a clamp
    added later), so staff are shown them."""
    known = {c.channel for c in meter.channels}
    if not known and len(seen) <= 1:
        return []  # one clamp: the whole house
    return sorted(set(seen) - known)


def meter_rows(db: Session, store: ReadingStore, dep: Deployment, now_s: float,
               stale_after_s: float = 120) -> list[dict]:
    seen = {m.meter_id: m for m in store.meters()}
    meters = db.scalars(select(Meter).where(Meter.deployment_id == dep.id).order_by(Meter.id)).all()
    open_assign = {a.meter_id: a for a in db.scalars(select(MeterAssignment).where(
        MeterAssignment.meter_id.in_([m.id for m in meters]), MeterAssignment.valid_to.is_(None)))}
    requested = {u.meter_id: u.version for u in db.scalars(select(MeterUpdate).where(
        MeterUpdate.meter_id.in_([m.id for m in meters])))}
    rows = []
    for m in meters:
        s = seen.get(m.id)
        status = (s.status if s else None) or {}
        faults = status.get("faults") or {}
        a = open_assign.get(m.id)
        last = s.last_received_utc if s else None
        state = status.get("state")
        online = None if s is None else (state == "online" if state else None)
        if online and last is not None and now_s - last > stale_after_s:
            online = False  # says online, but nothing arrived lately
        rows.append(
            {
                "meter_id": m.id,
                "registered": True,
                "note": m.note,
                "household_id": a.household_id if a else None,
                "household": next((h.name for h in dep.households if a and h.id == a.household_id), None),
                "online": online,
                "state": state,
                "last_seen_utc": last,
                "last_seen_age_s": None if last is None else max(0.0, now_s - last),
                "readings": s.readings if s else 0,
                "clamp_faults": [f"{k}: {v}" for k, v in sorted(faults.items())]
                if isinstance(faults, dict)
                else [],
                "queue_drops": status.get("dropped") if isinstance(status.get("dropped"), int) else None,
                "channels": [{"channel": c.channel, "label": c.label, "role": c.role} for c in m.channels],
                "channels_without_role": without_role(m, s.channels if s else ()),
                **firmware_cells(status, requested.get(m.id)),
            }
        )
    return rows


def firmware_cells(status: dict, requested: str | None) -> dict:
    """The meter's firmware as its status tells it, and where an update stands: the version
    staff asked for, the state the meter reports (firmware/update.py) and the version that
    state is about."""

    def text(key: str) -> str | None:
        v = status.get(key)
        return v if isinstance(v, str) else None

    return {"firmware": text("fw"), "update_requested": requested,
            "update_state": text("update"), "update_to": text("update_to"),
            "update_error": text("update_error")}


def staff_overview(
    db: Session, store: ReadingStore, user: StaffUser, now_s: float, stale_after_s: float
) -> list[dict]:
    """Per deployment `user` sees: its meters (meter_rows) and its households."""
    q = select(Deployment).order_by(Deployment.id)
    if user.deployment_id is not None:
        q = q.where(Deployment.id == user.deployment_id)
    out = []
    for dep in db.scalars(q):
        households = [
            {
                "id": h.id,
                "name": h.name,
                "profile": h.profile,
                "meters": ", ".join(a.meter_id for a in h.assignments if a.valid_to is None),
                "link": any(x.revoked_utc is None for x in h.links),
                "sub_excess_day": roles_suspect_day(store, h, now_s),
            }
            for h in sorted(dep.households, key=lambda h: h.id)
        ]
        out.append(
            {"dep": dep, "meters": meter_rows(db, store, dep, now_s, stale_after_s), "households": households}
        )
    return out


def unassigned_meters(db: Session, store: ReadingStore, user: StaffUser) -> list[dict]:
    """Meters that publish (the store holds readings of them) but measure no household:
    those registered in a deployment `user` sees, and, for an association-wide account, those
    no deployment has registered yet (a deployment's staff do not see other deployments'
    meters, registered or not)."""
    seen = store.meters()
    ids = [s.meter_id for s in seen]
    assigned = set(db.scalars(select(MeterAssignment.meter_id).where(
        MeterAssignment.meter_id.in_(ids), MeterAssignment.valid_to.is_(None))))
    registered = {m.id: m for m in db.scalars(select(Meter).where(Meter.id.in_(ids)))}
    rows = []
    for s in sorted(seen, key=lambda s: s.meter_id):
        m = registered.get(s.meter_id)
        if s.meter_id in assigned:
            continue
        if user.deployment_id is not None and (m is None or m.deployment_id != user.deployment_id):
            continue
        rows.append({
            "meter_id": s.meter_id,
            "deployment_id": m.deployment_id if m else None,
            "channels": list(s.channels),
            "labels": {c.channel: (c.label, c.role) for c in m.channels} if m else {},
            "first_ts_utc": s.first_ts_utc,
            "last_received_utc": s.last_received_utc,
            "readings": s.readings,
        })
    return rows
