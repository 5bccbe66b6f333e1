"""Managing a deployment: households and their links, meters and their moves, channel
labels, staff accounts and tokens. Used by the API routes, the CLI and the demo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from citizenwatt.config import DEFAULT_TIMEZONE
from citizenwatt.firmware import wire
from citizenwatt.i18n import N_
from citizenwatt.store.port import ReadingStore

from .auth import DUMMY_HASH, SESSION_TTL_S, hash_password, new_token, token_hash, verify_password
from .channel_roles import published_channels, resolve_roles
from .consumption import check_dates, check_span, zone
from .errors import ApiError
from .household_data import assignment_span, household_zone
from .models import (
    CHANNEL_ROLES,
    ROLES,
    AuditEntry,
    Channel,
    DailyTemperature,
    Deployment,
    Household,
    HouseholdLink,
    Meter,
    MeterAssignment,
    StaffToken,
    StaffUser,
    Tariff,
    now_utc,
)
from .tariffs import DEFAULT_CO2_G_PER_KWH, DEFAULT_CO2_SOURCE, default_tariffs


def create_deployment(db: Session, name: str, timezone: str = DEFAULT_TIMEZONE,
                      co2_g_per_kwh: float = DEFAULT_CO2_G_PER_KWH,
                      co2_source: str = DEFAULT_CO2_SOURCE) -> Deployment:
    if db.scalar(select(Deployment).where(Deployment.name == name)):
        raise ApiError(409, "deployment_exists", N_("A deployment named \"{name}\" already exists: pick "
                                                    "another name."), name=name)
    zone(timezone)  # an unknown zone here would break every page of its households later
    dep = Deployment(name=name, timezone=timezone, co2_g_per_kwh=co2_g_per_kwh,
                     co2_source=co2_source)
    dep.tariffs = default_tariffs()
    db.add(dep)
    db.flush()
    return dep


def issue_link(db: Session, hh: Household) -> str:
    """Revoke the household's links and make a new one; the token is shown only now."""
    now = now_utc()
    db.execute(update(HouseholdLink).where(HouseholdLink.household_id == hh.id,
                                           HouseholdLink.revoked_utc.is_(None))
               .values(revoked_utc=now))
    token = new_token()
    db.add(HouseholdLink(household_id=hh.id, token_sha256=token_hash(token), created_utc=now))
    db.flush()
    return token


def revoke_links(db: Session, hh: Household) -> int:
    res = db.execute(update(HouseholdLink).where(HouseholdLink.household_id == hh.id,
                                                 HouseholdLink.revoked_utc.is_(None))
                     .values(revoked_utc=now_utc()))
    return cast(CursorResult, res).rowcount or 0  # an UPDATE's result counts its rows


def check_household_name_free(db: Session, deployment_id: int, name: str) -> None:
    """409 if the deployment has a household of that name (names are unique there)."""
    if db.scalar(select(Household).where(Household.deployment_id == deployment_id, Household.name == name)):
        raise ApiError(409, "household_exists", N_("A household named \"{name}\" already exists in this "
                                                   "deployment: pick another name."), name=name)


def create_household(db: Session, dep: Deployment, name: str, **fields) -> tuple[Household, str]:
    check_household_name_free(db, dep.id, name)
    hh = Household(deployment_id=dep.id, name=name, **fields)
    db.add(hh)
    db.flush()
    return hh, issue_link(db, hh)


def register_meter(db: Session, dep: Deployment, meter_id: str, note: str = "") -> Meter:
    if not wire._valid_meter_id(meter_id):
        raise ApiError(422, "meter_id", N_("The meter id \"{value}\" is not valid: use 1 to 32 characters "
                                           "among a-z, 0-9, - and _."), value=meter_id[:40])
    m = db.get(Meter, meter_id)
    if m is not None:
        if m.deployment_id != dep.id:
            raise ApiError(
                409,
                "meter_elsewhere",
                N_('Meter "{meter_id}" belongs to another deployment.'),
                meter_id=meter_id,
            )
        return m
    m = Meter(id=meter_id, deployment_id=dep.id, note=note)
    db.add(m)
    db.flush()
    return m


def assign_meter(db: Session, hh: Household, meter_id: str, valid_from: date) -> MeterAssignment:
    """From `valid_from` (local date), `meter_id` measures `hh`; an earlier open assignment
    of the same meter ends that day (the meter moved)."""
    m = db.get(Meter, meter_id)
    if m is None or m.deployment_id != hh.deployment_id:
        raise ApiError(
            404,
            "meter_not_registered",
            N_('Meter "{meter_id}" is not registered in this deployment: register it first.'),
            meter_id=meter_id,
        )
    rows = db.scalars(select(MeterAssignment).where(MeterAssignment.meter_id == meter_id)).all()
    for a in rows:
        if a.valid_to is None or a.valid_to > valid_from:
            if a.valid_from >= valid_from:
                raise ApiError(
                    409,
                    "assignment_overlap",
                    N_('Meter "{meter_id}" already measures a household from {day}: pick a later date.'),
                    meter_id=meter_id,
                    day=a.valid_from.isoformat(),
                )
            a.valid_to = valid_from
    a = MeterAssignment(meter_id=meter_id, household_id=hh.id, valid_from=valid_from)
    db.add(a)
    db.flush()
    db.refresh(hh)
    return a


def set_channel(db: Session, meter: Meter, channel: int, label: str, role: str) -> Channel:
    c = db.get(Channel, (meter.id, channel))
    if c is None:
        c = Channel(meter_id=meter.id, channel=channel, label=label, role=role)
        db.add(c)
    else:
        c.label, c.role = label, role
    db.flush()
    return c


def settle_channels(db: Session, meter: Meter, given: Mapping[int, tuple[str, str | None]],
                    store: ReadingStore | None = None) -> dict[int, str]:
    """Give every channel of the meter a label and a role before it counts for a household:
    `given` (channel -> (label or "", role or None)) first, then what the meter already has
    here, then what the meter published; roles not given are derived from the labels
    (channel_roles.resolve_roles), and an undecidable one is refused before anything is
    written. Returns channel -> role."""
    published, seen = published_channels(store, meter.id)
    known = {c.channel: c for c in meter.channels}
    labels = {**published, **{c: k.label for c, k in known.items() if k.label},
              **{c: label for c, (label, _role) in given.items() if label}}
    roles = resolve_roles(meter.id, seen | set(known), labels,
                          {c: role for c, (_label, role) in given.items()},
                          {c: k.role for c, k in known.items()})
    for channel, role in roles.items():
        set_channel(db, meter, channel, labels.get(channel, ""), role)
    db.refresh(meter)
    return roles


@dataclass
class Registration:
    household: Household
    token: str | None  # the new household's secret link token; None if it existed
    assignment: MeterAssignment  # the meter in the household, from assignment.valid_from
    created: bool  # False: the meter already measured this household


def register_in_household(
    db: Session,
    dep: Deployment,
    meter_id: str,
    household_ref: str,
    day: date,
    channels: list[tuple[int, str, str | None]],
    store: ReadingStore | None = None,
) -> Registration:
    """The workshop tool's one call: register the meter, find the household by its name or
    create it, put the meter in it from `day` unless it is already there, and label the
    channels given as (channel, label or "" to keep it, role or None to keep it or derive
    it from the label: see settle_channels)."""
    meter = register_meter(db, dep, meter_id)
    # Roles first: a refusal must leave no household or assignment behind.
    settle_channels(db, meter, {c: (label, role) for c, label, role in channels}, store)
    hh = db.scalar(
        select(Household).where(Household.deployment_id == dep.id, Household.name == household_ref)
    )
    token = None
    if hh is None:
        hh, token = create_household(db, dep, household_ref)
    # A meter measuring another household is not moved silently: a move has a date, and a
    # mistyped reference must not take a meter away from a family.
    current = db.scalar(
        select(MeterAssignment).where(
            MeterAssignment.meter_id == meter.id, MeterAssignment.valid_to.is_(None)
        )
    )
    if current is not None and current.household_id != hh.id:
        other = db.get(Household, current.household_id)
        assert other is not None  # an assignment's household exists (foreign key)
        raise ApiError(
            409,
            "meter_in_household",
            N_(
                'Meter "{meter_id}" already measures household '
                '"{household}" (since {day}). Check the household '
                "reference; to move the meter, use POST "
                "/api/v1/households/<household>/meters with the date "
                "of the move."
            ),
            meter_id=meter.id,
            household=other.name,
            household_id=other.id,
            day=current.valid_from.isoformat(),
        )
    created = current is None
    if created:
        current = assign_meter(db, hh, meter.id, day)
    assert current is not None  # assigned above when there was none
    return Registration(hh, token, current, created)


def create_staff(
    db: Session, username: str, password: str, role: str, deployment: Deployment | None
) -> StaffUser:
    if role not in ROLES:
        raise ApiError(
            422,
            "param",
            N_('The parameter "{name}" is not valid ({detail}). Fix it and try again.'),
            name="role",
            detail="viewer | leader | admin",
        )
    if db.scalar(select(StaffUser).where(StaffUser.username == username)):
        raise ApiError(
            409,
            "user_exists",
            N_('The account "{name}" already exists: pick another username.'),
            name=username,
        )
    u = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        deployment_id=deployment.id if deployment else None,
    )
    db.add(u)
    db.flush()
    return u


def create_token(db: Session, user: StaffUser, kind: str, name: str = "") -> tuple[StaffToken, str]:
    token = new_token()
    tok = StaffToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_sha256=token_hash(token),
        expires_utc=now_utc() + SESSION_TTL_S if kind == "session" else None,
    )
    db.add(tok)
    db.flush()
    return tok, token


def login(db: Session, username: str, password: str) -> str | None:
    """A new session token, or None. The same password work is done whether the account
    exists or not (DUMMY_HASH), so the answer's time does not tell which usernames exist."""
    u = db.scalar(select(StaffUser).where(StaffUser.username == username))
    ok = verify_password(password, u.password_hash if u is not None else DUMMY_HASH)
    if u is None or u.disabled or not ok:
        return None
    return create_token(db, u, "session")[1]


def logout(db: Session, session_token: str) -> bool:
    """Revoke a browser session; False when the token is no session we know."""
    tok = db.scalar(
        select(StaffToken).where(
            StaffToken.token_sha256 == token_hash(session_token), StaffToken.kind == "session"
        )
    )
    if tok is None:
        return False
    tok.revoked_utc = now_utc()
    db.flush()
    return True


def delete_household(db: Session, store: ReadingStore, hh: Household) -> bool:
    """Delete the household and, where the store can, its meters' readings for the time
    they measured it. Returns whether the readings were deleted too."""
    tz = household_zone(hh)
    spans = [(a.meter_id, *assignment_span(a, tz)) for a in hh.assignments]
    delete = getattr(store, "delete", None)
    if delete is not None:
        for meter_id, s, e in spans:
            delete(meter_id, s, e if e != float("inf") else 2**62)
    db.delete(hh)
    db.flush()
    return delete is not None


# -- shared by the staff pages and the JSON endpoints -------------------------------------


def check_baseline(start: date | None, end: date | None) -> None:
    if (start is None) != (end is None):
        raise ApiError(
            422, "baseline_pair", N_("Give both the start and the end of the baseline period, or neither.")
        )
    if start and end:
        check_dates(start, end)
        check_span(start, end, 732)


def update_household(db: Session, hh: Household, fields: dict) -> list[str]:
    """Change the fields given (name, profile, tariff option, off-peak hours, baseline);
    returns the names of the fields whose value changed."""
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
    changed = [k for k, v in fields.items() if getattr(hh, k) != v]
    for k in changed:
        setattr(hh, k, fields[k])
    db.flush()
    return changed


def add_tariff(db: Session, dep: Deployment, fields: dict) -> Tariff:
    """A tariff from TariffIn's fields, once its prices fit its option and its dates are
    in order."""
    option, valid_from, valid_to = fields["option"], fields["valid_from"], fields.get("valid_to")
    if option == "base" and fields.get("base_eur_per_kwh") is None:
        raise ApiError(422, "tariff_prices", N_('A "{option}" tariff needs: {fields}.'),
                       option="base", fields="base_eur_per_kwh")
    if option == "hphc" and (fields.get("peak_eur_per_kwh") is None
                             or fields.get("offpeak_eur_per_kwh") is None):
        raise ApiError(422, "tariff_prices", N_('A "{option}" tariff needs: {fields}.'),
                       option="hphc", fields="peak_eur_per_kwh, offpeak_eur_per_kwh")
    if valid_to is not None and valid_to <= valid_from:
        raise ApiError(422, "range_order", N_("The end date ({end}) is before the start date ({start}): "
                                              "swap them."),
                       start=valid_from.isoformat(), end=valid_to.isoformat())
    t = Tariff(deployment_id=dep.id, **fields)
    db.add(t)
    db.flush()
    return t


def set_temperatures(db: Session, dep: Deployment, days: list[tuple[date, float]]) -> int:
    """Add or replace daily mean outdoor temperatures; returns how many days were given."""
    for day, mean_temp_c in days:
        row = db.get(DailyTemperature, (dep.id, day))
        if row is None:
            db.add(DailyTemperature(deployment_id=dep.id, day=day, mean_temp_c=mean_temp_c))
        else:
            row.mean_temp_c = mean_temp_c
        db.flush()
    return len(days)


def set_channels(db: Session, meter: Meter, channels: list[tuple[int, str, str]]) -> list[Channel]:
    """Label the meter's channels, each with its role (main or sub), in one go: at least one
    main channel, so that the household's total counts something."""
    for channel, label, role in channels:
        if role not in CHANNEL_ROLES or not 0 <= channel < wire.MAX_CHANNELS or not 0 < len(label) <= 60:
            raise ApiError(422, "channel_invalid",
                           N_("Channel {channel}: give a label (1 to 60 characters) and a role, main "
                              "or sub."), channel=channel + 1)
    if channels and not any(role == "main" for _c, _l, role in channels):
        raise ApiError(422, "channel_no_main",
                       N_("Mark at least one channel as main (the clamp on the whole house): a "
                          "household's total counts main channels only."))
    return [set_channel(db, meter, c, label, role) for c, label, role in channels]


def meter_in_household(db: Session, hh: Household, meter_id: str, valid_from: date,
                       channels: list[tuple[int, str, str]]) -> MeterAssignment:
    """Register the meter in the household's deployment if it is not yet, label its
    channels with their roles, and put it in the household from `valid_from`."""
    check_dates(valid_from, valid_from)
    meter = register_meter(db, hh.deployment, meter_id)
    set_channels(db, meter, channels)
    return assign_meter(db, hh, meter.id, valid_from)


# Every state-changing staff action writes one entry; the codes and their words on the
# audit page.
AUDIT_ACTIONS = {
    "deployment.create": N_("Deployment created"),
    "deployment.update": N_("Deployment changed"),
    "meter.register": N_("Meter registered"),
    "meter.assign": N_("Meter put in a household"),
    "meter.register_in_household": N_("Meter registered in a household (workshop)"),
    "channel.set": N_("Channel labels and roles set"),
    "household.create": N_("Household created"),
    "household.update": N_("Household settings changed"),
    "household.delete": N_("Household deleted"),
    "link.issue": N_("New link issued"),
    "link.revoke": N_("Link revoked"),
    "tariff.add": N_("Tariff added"),
    "temperatures.set": N_("Temperatures entered"),
    "staff.create": N_("Staff account created"),
    "token.create": N_("API token created"),
    "token.revoke": N_("API token revoked"),
    "meter.update": N_("Meter asked to update its firmware"),
}


def audit(db: Session, user: StaffUser | None, action: str, deployment_id: int | None,
          household_id: int | None = None, detail: str = "", now: float | None = None) -> AuditEntry:
    """Record a staff action in the same transaction as the action itself, so that one is
    never stored without the other."""
    assert action in AUDIT_ACTIONS, action
    entry = AuditEntry(
        ts_utc=now_utc() if now is None else now,
        user_id=user.id if user else None,
        username=user.username if user else "",
        deployment_id=deployment_id,
        household_id=household_id,
        action=action,
        detail=detail[:500],
    )
    db.add(entry)
    db.flush()
    return entry


def audit_entries(db: Session, user: StaffUser, deployment_id: int | None = None,
                  limit: int = 500) -> list[AuditEntry]:
    """The newest entries `user` may read: an account bound to a deployment reads that
    deployment's; an association-wide one reads all, or one deployment's when asked."""
    q = select(AuditEntry).order_by(AuditEntry.ts_utc.desc(), AuditEntry.id.desc()).limit(limit)
    if user.deployment_id is not None:
        q = q.where(AuditEntry.deployment_id == user.deployment_id)
    elif deployment_id is not None:
        q = q.where(AuditEntry.deployment_id == deployment_id)
    return list(db.scalars(q))
