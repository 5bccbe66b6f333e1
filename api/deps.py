"""What a route is given, each defined once and injected with FastAPI's Depends: the
database session, the app's store, settings and clock, who is asking, the household they
may read, the deployment a staff member may act on with a role, and the meters a caller
may see. Every 401/403/404 an access rule gives is raised here (the rules themselves are
`Principal.can_read_household` and `Principal.staff_can` in auth.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citizenwatt.config import ApiSettings, Settings
from citizenwatt.firmware import wire
from citizenwatt.i18n import N_
from citizenwatt.store.port import ReadingStore

from .auth import (
    HOUSEHOLD_EAGER,
    SESSION_COOKIE,
    LinkedHousehold,
    Principal,
    household_from_link,
    linked_household,
    staff_from_token,
)
from .errors import ApiError
from .household_data import household_key
from .models import Deployment, Household, Meter, StaffUser
from .readcache import StoreReads
from .schemas import METER_ID_PATTERN
from .security import check_link_attempt, link_failed

# -- the app's parts ----------------------------------------------------------------------


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One database session per request (shared by every dependency of that request).

    The cheap dependencies are `async def`: FastAPI runs each plain `def` one in a worker
    thread, and those hops were a fifth of a short request's time. Opening a session does
    no I/O; closing one that used a connection (a rollback) is done off the event loop."""
    db = request.app.state.sessionmaker()
    try:
        yield db
    finally:
        if db.in_transaction():
            # Not on the shared worker threads: were they all waiting for a connection of the
            # pool, the one that gives a connection back would never run (as FastAPI does
            # for the end of a `def` dependency).
            await anyio.to_thread.run_sync(db.close, limiter=anyio.CapacityLimiter(1))
        else:
            db.close()


async def get_store(request: Request) -> ReadingStore:
    return request.app.state.store


async def get_reads(request: Request) -> StoreReads:
    return request.app.state.reads


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


async def get_now(request: Request) -> float:
    """UTC seconds from the app's clock (create_app(clock=...)), read once per request so
    that "today" is the same day everywhere in one answer; tests pin it."""
    return request.app.state.clock()


Db = Annotated[Session, Depends(get_db)]
Store = Annotated[ReadingStore, Depends(get_store)]
Reads = Annotated[StoreReads, Depends(get_reads)]
Config = Annotated[ApiSettings, Depends(get_settings)]


def get_all_settings(request: Request) -> Settings:
    """The whole settings object (data directory, [mqtt]): for the few routes that need
    more than the [api] section (firmware updates: signing key, broker)."""
    return request.app.state.config


AllSettings = Annotated[Settings, Depends(get_all_settings)]
Now = Annotated[float, Depends(get_now)]


# -- who is asking ------------------------------------------------------------------------

async def principal(request: Request, db: Db, now: Now) -> Principal:
    """Bearer token (household link or staff API token), else the staff session cookie. An
    address that tried too many wrong tokens lately gets 429 (security.FailureLimiter).
    The database is read in one worker thread, and not at all without credentials."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        check_link_attempt(request, now)
        return await run_in_threadpool(_bearer_principal, request, db, now, auth[7:].strip())
    if request.cookies.get(SESSION_COOKIE):
        return await run_in_threadpool(_cookie_principal, request, db)
    return Principal()


def _bearer_principal(request: Request, db: Session, now: float, token: str) -> Principal:
    hh = household_from_link(db, token)
    if hh is not None:
        return Principal(household_id=hh.id, household=hh)
    user = staff_from_token(db, token, "api")
    if user is not None:
        return Principal(user=user)
    link_failed(request, now)
    raise ApiError(401, "bad_token", N_("This link or token is not (or no longer) valid. Ask the "
                                        "workshop leader for a new link."))


def _cookie_principal(request: Request, db: Session) -> Principal:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = staff_from_token(db, cookie, "session")
        if user is not None:
            return Principal(user=user)
    return Principal()


Who = Annotated[Principal, Depends(principal)]


def staff_member(who: Who) -> StaffUser:
    """The staff member asking: 401 without credentials, 403 with a household's link."""
    if who.anonymous:
        raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as "
                                                "staff (page /staff/login)."))
    if who.user is None:
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link "
                                             "does not open it."))
    return who.user


StaffMember = Annotated[StaffUser, Depends(staff_member)]


def deployment_unknown(deployment_id: int | None) -> ApiError:
    """The one answer for a deployment the caller may not see, whether it exists or not."""
    return ApiError(
        404,
        "deployment_unknown",
        N_("Deployment {deployment_id} not found with these rights. Check the number."),
        deployment_id=deployment_id,
    )


def require_staff(who: Principal, deployment_id: int | None, role: str = "viewer") -> StaffUser:
    """The staff member, if they may act on `deployment_id` with `role`; a deployment they
    do not belong to is unknown to them (404), a role they lack is a 403."""
    user = staff_member(who)
    if not who.staff_can(deployment_id, "viewer"):
        raise deployment_unknown(deployment_id)
    if not who.staff_can(deployment_id, role):
        raise ApiError(
            403,
            "role",
            N_("Your account does not have the required role ({role}). Ask an administrator."),
            role=role,
        )
    return user


def association_admin(who: Who) -> StaffUser:
    """An admin of the whole association (an account bound to no deployment)."""
    return require_staff(who, None, "admin")


def staff_admin(who: Who) -> StaffUser:
    """An admin, of their own deployment or of the whole association."""
    return require_staff(who, staff_member(who).deployment_id, "admin")


AssociationAdmin = Annotated[StaffUser, Depends(association_admin)]
StaffAdmin = Annotated[StaffUser, Depends(staff_admin)]


# -- households ---------------------------------------------------------------------------


def household_unknown(household_id: int) -> ApiError:
    """The one answer for a household the caller may not read, whether it exists or not
    (so that a household cannot even learn which ids exist)."""
    return ApiError(
        404,
        "household_unknown",
        N_("Household {household_id} not found with these rights. Check the link or the number."),
        household_id=household_id,
    )


async def household_id_param(household_id: int) -> int:
    if not 0 < household_id < 2**31:
        raise household_unknown(household_id)
    return household_id


HouseholdId = Annotated[int, Depends(household_id_param)]


def load_household(db: Session, who: Principal, household_id: int) -> Household:
    """The household if `who` may read it; otherwise the same 404 whether it exists or not,
    so a household cannot even learn which ids exist."""
    if who.anonymous:
        raise ApiError(
            401,
            "auth_required",
            N_("You need your household's secret link, or to sign in as staff (page /staff/login)."),
        )
    hh = db.get(Household, household_id, options=HOUSEHOLD_EAGER)
    if hh is None or not who.can_read_household(hh):
        raise household_unknown(household_id)
    return hh


async def current_household(household_id: HouseholdId, db: Db, who: Who) -> Household:
    """The household of the path, read by its own link or by staff of its deployment (the
    link's household was read with the link: no second query)."""
    if who.household is not None and who.household.id == household_id:
        return who.household
    return await run_in_threadpool(load_household, db, who, household_id)


CurrentHousehold = Annotated[Household, Depends(current_household)]


@dataclass(frozen=True)
class HouseholdRef:
    """The household of the path for an answer that keys what it keeps by the household
    (live power): asked by its own link, read in plain SQL without ORM objects (`hh` None);
    otherwise the household as CurrentHousehold gives it."""

    id: int
    key: tuple  # household_data.household_key()
    hh: Household | None

    def household(self, db: Session) -> Household:
        """The ORM household, for an answer not kept yet (run it in a worker thread)."""
        if self.hh is not None:
            return self.hh
        hh = db.get(Household, self.id, options=HOUSEHOLD_EAGER)
        if hh is None:  # deleted since the link was read
            raise household_unknown(self.id)
        return hh


async def kept_link(request: Request, token: str) -> LinkedHousehold | None:
    """linked_household(token), kept until the database changes (readcache.KeptLinks): a
    kept one is answered on the event loop, a read goes to a worker thread."""
    links = request.app.state.links
    linked = links.peek(token)
    if linked is None:
        linked = await run_in_threadpool(links.get, token,
                                         lambda: linked_household(request.app.state.engine, token))
    return linked


async def household_ref(household_id: HouseholdId, request: Request, db: Db, now: Now) -> HouseholdRef:
    """The household of the path by its own link in one plain query (linked_household);
    anyone else (staff, another household's link, a staff token) the usual way, with its
    401/404 and the count of refused links."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        check_link_attempt(request, now)
        linked = await kept_link(request, auth[7:].strip())
        if linked is not None and linked.id == household_id:
            return HouseholdRef(linked.id, linked.key, None)
    hh = await current_household(household_id, db, await principal(request, db, now))
    return HouseholdRef(hh.id, household_key(hh), hh)


HouseholdByRef = Annotated[HouseholdRef, Depends(household_ref)]


def staff_household(db: Session, who: Principal, household_id: int, role: str) -> Household:
    hh = load_household(db, who, household_id)
    require_staff(who, hh.deployment_id, role)
    return hh


def household_as(role: str) -> Callable[..., Household]:
    """Dependency: the household of the path, for staff of its deployment with `role`."""

    def dependency(household_id: HouseholdId, db: Db, who: Who) -> Household:
        return staff_household(db, who, household_id, role)

    return dependency


HouseholdAsLeader = Annotated[Household, Depends(household_as("leader"))]


# -- deployments --------------------------------------------------------------------------

DeploymentId = Annotated[int, Path(ge=1, lt=2**31)]


def deployment_for(db: Session, who: Principal, deployment_id: int, role: str) -> Deployment:
    require_staff(who, deployment_id, role)
    dep = db.get(Deployment, deployment_id)
    if dep is None:
        raise deployment_unknown(deployment_id)
    return dep


def deployment_as(role: str) -> Callable[..., Deployment]:
    """Dependency: the deployment of the path, for its staff with `role`."""

    def dependency(deployment_id: DeploymentId, db: Db, who: Who) -> Deployment:
        return deployment_for(db, who, deployment_id, role)

    return dependency


DeploymentAsViewer = Annotated[Deployment, Depends(deployment_as("viewer"))]
DeploymentAsLeader = Annotated[Deployment, Depends(deployment_as("leader"))]
DeploymentAsAdmin = Annotated[Deployment, Depends(deployment_as("admin"))]


# -- meters -------------------------------------------------------------------------------

MeterId = Annotated[
    str,
    Path(
        pattern=METER_ID_PATTERN,
        max_length=wire.MAX_METER_ID,
        description="Meter id, as in the MQTT topic cw/<meter>/reading.",
    ),
]


def open_mode(settings: ApiSettings, db: Session) -> bool:
    """Meter pages and endpoints are open to anyone only in a lab or demo setup: when the
    settings say so, or (by default) while the database holds no household yet."""
    if settings.open_meters is not None:
        return settings.open_meters
    return db.scalar(select(Household.id).limit(1)) is None


def readable_meter(meter_id: MeterId, db: Db, who: Who, settings: Config) -> str:
    """The meter of the path, if the caller may read it (open mode, or its staff)."""
    if open_mode(settings, db):
        return meter_id
    staff_member(who)
    m = db.get(Meter, meter_id)
    if not who.staff_can(m.deployment_id if m else None, "viewer"):
        raise ApiError(
            404,
            "meter_unknown",
            N_('Meter "{meter_id}" has not sent anything yet. Check its id, or wait for its first reading.'),
            meter_id=meter_id,
        )
    return meter_id


ReadableMeter = Annotated[str, Depends(readable_meter)]


def visible_meter_ids(db: Db, who: Who, settings: Config) -> set[str] | None:
    """None: every meter; else the registered meters of the caller's deployment."""
    if open_mode(settings, db):
        return None
    user = staff_member(who)
    if user.deployment_id is None and not user.disabled:
        return None
    return set(db.scalars(select(Meter.id).where(Meter.deployment_id == user.deployment_id)))


VisibleMeters = Annotated[set[str] | None, Depends(visible_meter_ids)]


# -- household pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdPage:
    """The household a page shows and how it was opened: `base` is the pages' address
    prefix, `auth` the secret token when opened by the household's link ("" for staff)."""

    hh: Household
    base: str
    auth: str


async def household_by_link(token: str, request: Request, db: Db, now: Now) -> HouseholdPage:
    check_link_attempt(request, now)
    return await run_in_threadpool(_household_by_link, token, request, db, now)


def _household_by_link(token: str, request: Request, db: Session, now: float) -> HouseholdPage:
    hh = household_from_link(db, token)
    if hh is None:
        link_failed(request, now)
        raise ApiError(
            404,
            "bad_token",
            N_("This link or token is not (or no longer) valid. Ask the workshop leader for a new link."),
        )
    return HouseholdPage(hh, f"/h/{token}", token)


@dataclass(frozen=True)
class LinkAsked:
    """A household page asked for by its link, not yet looked up: the page's worker thread
    reads the link with the page (one thread hop for both)."""

    token: str
    request: Request
    db: Session
    now: float

    def page(self) -> HouseholdPage:
        return _household_by_link(self.token, self.request, self.db, self.now)


async def link_asked(token: str, request: Request, db: Db, now: Now) -> LinkAsked:
    check_link_attempt(request, now)
    return LinkAsked(token, request, db, now)


def household_by_staff(household_id: int, db: Db, who: Who) -> HouseholdPage:
    # The pages are opened from the staff page's session: no session, sign in (401).
    if who.user is None:
        raise ApiError(
            401,
            "auth_required",
            N_("You need your household's secret link, or to sign in as staff (page /staff/login)."),
        )
    hh = db.get(Household, household_id, options=HOUSEHOLD_EAGER) if 0 < household_id < 2**31 else None
    if hh is None or not who.staff_can(hh.deployment_id, "viewer"):
        raise household_unknown(household_id)
    return HouseholdPage(hh, f"/staff/households/{hh.id}", "")


LinkHousehold = Annotated[HouseholdPage, Depends(household_by_link)]
LinkPage = Annotated[LinkAsked, Depends(link_asked)]
StaffHousehold = Annotated[HouseholdPage, Depends(household_by_staff)]
