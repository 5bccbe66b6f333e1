"""Who is asking: a household through its secret link, or a staff member through a browser
session or an API token. Secrets are random, shown once, and stored only as hashes.

Rules (in one place, `Principal.can_read_household` and `Principal.staff_can`; deps.py
turns them into the routes' dependencies and their 401/403/404 answers):
- a household link opens that household's data and nothing else;
- staff see the deployments they belong to (all of them if they belong to none), with a
  role: viewer (read), leader (also manage households, meters, links, tariffs), admin (also
  staff accounts and deployments).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, joinedload

from .models import (
    ROLES,
    Channel,
    Deployment,
    Household,
    HouseholdLink,
    Meter,
    MeterAssignment,
    StaffToken,
    StaffUser,
    now_utc,
)

SESSION_COOKIE = "cw_session"
SESSION_TTL_S = 12 * 3600
TOKEN_BYTES = 24  # 192 bits: not guessable, short enough for a QR code on paper
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
# Checked when the username is unknown, for the same work as a real one: same parameters,
# a digest of zeros no password gives.
DUMMY_HASH = f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${'00' * 16}${'00' * 32}"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass
class Principal:
    household_id: int | None = None
    user: StaffUser | None = None
    # the household of the link, already read (with HOUSEHOLD_EAGER) in the request's session
    household: Household | None = None

    @property
    def anonymous(self) -> bool:
        return self.household_id is None and self.user is None

    def staff_can(self, deployment_id: int | None, role: str = "viewer") -> bool:
        u = self.user
        if u is None or u.disabled or ROLES.index(u.role) < ROLES.index(role):
            return False
        return u.deployment_id is None or u.deployment_id == deployment_id

    def can_read_household(self, hh: Household) -> bool:
        if self.household_id is not None:
            return self.household_id == hh.id
        return self.staff_can(hh.deployment_id, "viewer")


# What every household request reads (its zone, its meters over time and their channels'
# roles), loaded with the household in the same query instead of one lazy load each.
HOUSEHOLD_EAGER = (
    joinedload(Household.deployment),
    joinedload(Household.assignments).joinedload(MeterAssignment.meter).joinedload(Meter.channels),
)


def household_from_link(db: Session, token: str) -> Household | None:
    """The household of a live (not revoked) link, read with what its pages need in one
    query. Checked in the database on every request: a revoked link is refused at once, by
    every API process."""
    if not token or len(token) > 100:
        return None
    return db.scalars(
        select(Household).join(HouseholdLink, HouseholdLink.household_id == Household.id)
        .where(HouseholdLink.token_sha256 == token_hash(token), HouseholdLink.revoked_utc.is_(None))
        .options(*HOUSEHOLD_EAGER)).unique().one_or_none()


@dataclass(frozen=True)
class LinkedHousehold:
    """A live link's household as the busiest answers (its live page, its live power) key
    what they keep: `key` is household_data.household_key() of the same household (id, zone,
    meters over time with their channels' labels and roles), read without building ORM
    objects."""

    id: int
    name: str
    timezone: str
    key: tuple


_link, _hh, _dep, _asg, _chan = (m.__table__ for m in (HouseholdLink, Household, Deployment,
                                                        MeterAssignment, Channel))
# One query on the link's unique hash: the household, its zone, each of its meter
# assignments (oldest first, as Household.assignments) with each channel of that meter.
_LINKED = (
    select(_hh.c.id, _hh.c.name, _dep.c.timezone, _asg.c.id, _asg.c.meter_id, _asg.c.valid_from,
           _asg.c.valid_to, _chan.c.channel, _chan.c.label, _chan.c.role)
    .select_from(_link.join(_hh, _hh.c.id == _link.c.household_id)
                 .join(_dep, _dep.c.id == _hh.c.deployment_id)
                 .outerjoin(_asg, _asg.c.household_id == _hh.c.id)
                 .outerjoin(_chan, _chan.c.meter_id == _asg.c.meter_id))
    .where(_link.c.token_sha256 == bindparam("sha"), _link.c.revoked_utc.is_(None))
    .order_by(_asg.c.valid_from, _asg.c.id, _chan.c.channel)
)


def linked_household(engine: Engine, token: str) -> LinkedHousehold | None:
    """The household of a live (not revoked) link, in plain SQL (SQLAlchemy Core), read
    afresh on every call: a revoked link, a renamed household or a meter moved is seen by
    the next request, by every API process, on SQLite and PostgreSQL alike. None: no such
    live link (the caller then takes household_from_link's way, which counts the failure)."""
    if not token or len(token) > 100:
        return None
    with engine.connect() as conn:
        rows = conn.execute(_LINKED, {"sha": token_hash(token)}).all()
    if not rows:
        return None
    assignments: dict[int, tuple] = {}
    channels: dict[int, list[tuple]] = {}
    for r in rows:
        if r[3] is None:  # a household without a meter yet
            continue
        assignments.setdefault(r[3], (r[4], r[5], r[6]))
        chans = channels.setdefault(r[3], [])
        if r[7] is not None:
            chans.append((r[7], r[8], r[9]))
    hid, name, timezone = rows[0][0], rows[0][1], rows[0][2]
    key = (hid, timezone, tuple((*a, tuple(channels[k])) for k, a in assignments.items()))
    return LinkedHousehold(hid, name, timezone, key)


def staff_from_token(db: Session, token: str, kind: str | None = None) -> StaffUser | None:
    if not token or len(token) > 100:
        return None
    tok = db.scalar(select(StaffToken).where(StaffToken.token_sha256 == token_hash(token),
                                             StaffToken.revoked_utc.is_(None)))
    if tok is None or (kind and tok.kind != kind):
        return None
    if tok.expires_utc is not None and tok.expires_utc < now_utc():
        return None
    user = tok.user
    return None if user.disabled else user
