"""The relational model: deployments, households, meters and their moves, channel labels,
tariffs, temperatures, access links, staff accounts and tokens (SQLAlchemy 2).

Time series never live here: they stay in the collector's store. Times are UTC seconds
(floats, `*_utc`), dates are the household's local dates. Secrets are kept only as
SHA-256 hashes: a lost link or token is reissued, never shown again.
"""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from citizenwatt.config import DEFAULT_TIMEZONE

ROLES = ("viewer", "leader", "admin")  # each role can do what the previous ones can
TARIFF_OPTIONS = ("base", "hphc")
CHANNEL_ROLES = ("main", "sub")  # sub: a circuit already counted by a main clamp


def now_utc() -> float:
    return time.time()


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    co2_g_per_kwh: Mapped[float] = mapped_column(Float)
    co2_source: Mapped[str] = mapped_column(String(500))
    hdd_base_c: Mapped[float] = mapped_column(Float, default=18.0)
    created_utc: Mapped[float] = mapped_column(Float, default=now_utc)

    households: Mapped[list[Household]] = relationship(back_populates="deployment",
                                                       cascade="all, delete-orphan")
    tariffs: Mapped[list[Tariff]] = relationship(cascade="all, delete-orphan")


class Household(Base):
    __tablename__ = "household"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"),
                                               index=True)
    name: Mapped[str] = mapped_column(String(100))  # a pseudonym: "Foyer 12"
    # Households with the same profile are "similar" for the comparison ("" = none).
    profile: Mapped[str] = mapped_column(String(60), default="")
    tariff_option: Mapped[str] = mapped_column(String(8), default="base")
    offpeak_start_h: Mapped[int] = mapped_column(Integer, default=22)  # HC, local hours
    offpeak_end_h: Mapped[int] = mapped_column(Integer, default=6)
    baseline_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    baseline_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_utc: Mapped[float] = mapped_column(Float, default=now_utc)

    deployment: Mapped[Deployment] = relationship(back_populates="households")
    links: Mapped[list[HouseholdLink]] = relationship(cascade="all, delete-orphan",
                                                      passive_deletes=True)
    assignments: Mapped[list[MeterAssignment]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="MeterAssignment.valid_from")

    __table_args__ = (
        CheckConstraint("tariff_option IN ('base', 'hphc')", name="ck_household_tariff"),
        UniqueConstraint("deployment_id", "name", name="uq_household_name"),
        # the comparison's similar households (migration 0002)
        Index("ix_household_profile", "deployment_id", "profile"),
    )


class HouseholdLink(Base):
    """The secret access link of a household; revoked links stay for the record."""
    __tablename__ = "household_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"),
                                              index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_utc: Mapped[float] = mapped_column(Float, default=now_utc)
    revoked_utc: Mapped[float | None] = mapped_column(Float, nullable=True)


class Meter(Base):
    __tablename__ = "meter"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # as in cw/<meter>/...
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"),
                                               index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    channels: Mapped[list[Channel]] = relationship(cascade="all, delete-orphan",
                                                   order_by="Channel.channel")


class Channel(Base):
    __tablename__ = "channel"
    meter_id: Mapped[str] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"),
                                          primary_key=True)
    channel: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(60))  # "Toute la maison", "Chauffe-eau"
    role: Mapped[str] = mapped_column(String(4), default="main")


class MeterAssignment(Base):
    """Meter `meter_id` measures household `household_id` from local date valid_from
    (included) to valid_to (excluded; None = still there)."""
    __tablename__ = "meter_assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[str] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"),
                                              index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    meter: Mapped[Meter] = relationship(lazy="joined")


class Tariff(Base):
    """A price per kWh incl. taxes, valid from valid_from (included) to valid_to (excluded)."""
    __tablename__ = "tariff"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"),
                                               index=True)
    option: Mapped[str] = mapped_column(String(8))  # base | hphc
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    base_eur_per_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_eur_per_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    offpeak_eur_per_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(200), default="")


class DailyTemperature(Base):
    __tablename__ = "daily_temperature"
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"),
                                               primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mean_temp_c: Mapped[float] = mapped_column(Float)


class StaffUser(Base):
    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    # None: staff of every deployment (the association's admins).
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), nullable=True, index=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(8))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_utc: Mapped[float] = mapped_column(Float, default=now_utc)
    tokens: Mapped[list[StaffToken]] = relationship(cascade="all, delete-orphan",
                                                    passive_deletes=True)


class StaffToken(Base):
    """An API token for scripts (kind "api") or a browser session (kind "session")."""
    __tablename__ = "staff_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(60), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_utc: Mapped[float] = mapped_column(Float, default=now_utc)
    expires_utc: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_utc: Mapped[float | None] = mapped_column(Float, nullable=True)
    user: Mapped[StaffUser] = relationship(back_populates="tokens")


class AuditEntry(Base):
    """One state-changing staff action (pages and JSON API): who, what, when, on which
    deployment and household. No foreign keys: the record outlives a deleted household or
    account, so the names it needs (username, household name in `detail`) are copied in."""
    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts_utc: Mapped[float] = mapped_column(Float, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(60), default="")
    deployment_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    household_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(40))  # a code of admin.AUDIT_ACTIONS
    detail: Mapped[str] = mapped_column(String(500), default="")


class OpenDataCell(Base):
    """One figure published in an open-data export (api/opendata.py): a group's energy over
    a period. Kept so that a later export repeats it instead of recomputing it: two exports
    never differ on a period, so no household can be found by subtracting one from the
    other. grp "" marks a period where nothing was published."""
    __tablename__ = "opendata_cell"
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"),
                                               primary_key=True)
    resolution: Mapped[str] = mapped_column(String(5), primary_key=True)  # hour | day
    period_start_utc: Mapped[int] = mapped_column(Integer, primary_key=True)
    grp: Mapped[str] = mapped_column(String(80), primary_key=True)
    households: Mapped[int] = mapped_column(Integer)
    energy_wh: Mapped[float] = mapped_column(Float)
    published_utc: Mapped[float] = mapped_column(Float)

class FirmwareRelease(Base):
    """A firmware version staff published for updates over Wi-Fi: the archive the meters
    download (firmware/update.py's format), its SHA-256 and the deployment key's Ed25519
    signature over (version, SHA-256, size). Kept in the database, so backups carry it."""
    __tablename__ = "firmware_release"
    version: Mapped[str] = mapped_column(String(24), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(128))
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    created_utc: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(60), default="")
    origin: Mapped[str] = mapped_column(String(10), default="upload")  # upload | build


class MeterUpdate(Base):
    """The version staff last asked a meter to run (the retained command on the broker);
    what the meter runs and how its update went come from its status."""
    __tablename__ = "meter_update"
    meter_id: Mapped[str] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"),
                                          primary_key=True)
    version: Mapped[str] = mapped_column(String(24))
    requested_utc: Mapped[float] = mapped_column(Float)
    requested_by: Mapped[str] = mapped_column(String(60), default="")
