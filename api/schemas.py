"""What the JSON API takes and answers (pydantic models), in one place: the OpenAPI schema
at /openapi.json is made from these classes, so their names and fields are the contract.
Numbers and dates taken in are what the schema says (whole_number, StrictFloat, Day): `false`
or "12" is refused, not read as 0 or 12, and a number is not read as a date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictFloat, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from citizenwatt.config import DEFAULT_TIMEZONE
from citizenwatt.firmware import wire

from .energy import Bucket, Totals
from .models import Deployment, Household

METER_ID_PATTERN = f"^[a-z0-9_-]{{1,{wire.MAX_METER_ID}}}$"
def whole_number(cls, v):
    """A `mode="before"` field validator: JSON Schema's integer, 3 or 3.0, not true or "3"
    (pydantic's lax int takes both; StrictInt refuses 3.0, which the schema allows)."""
    if v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return int(v)


def _iso_day(v):
    # A date is a "YYYY-MM-DD" string; pydantic's lax date also reads 0 as 1970-01-01.
    if not isinstance(v, str | date):
        raise PydanticCustomError("date_type", "Input should be a valid date")
    return v


Day = Annotated[date, BeforeValidator(_iso_day)]

# A household or deployment name: shown on pages, so no control characters and no markup.
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f<>]+$")]


# -- energy series (meters and households) ----------------------------------------------

class BucketOut(BaseModel):
    start: datetime = Field(description="Local start of the bucket, with its UTC offset.")
    end: datetime
    start_utc: int
    hours: float = Field(description="Length in hours: 23 or 25 on DST days.")
    energy_wh: float | None = Field(description="None when no reading covers the bucket (a gap).")
    covered_h: float
    complete: bool
    export_wh: float = Field(0.0, description="Energy sent back to the grid in the bucket (solar "
                                              "export, Wh); 0 for a household that never exports.")


class TotalOut(BaseModel):
    energy_wh: float | None
    hours: float
    covered_h: float
    gap_buckets: int
    export_wh: float = Field(0.0, description="Energy sent back to the grid over the range (solar "
                                              "export, Wh); 0 for a household that never exports.")


class EnergySeriesOut(BaseModel):
    """The fields a meter's and a household's energy answers share."""
    timezone: str
    resolution: str
    start: date
    end: date
    channel: int | None
    buckets: list[BucketOut]
    total: TotalOut


class EnergyOut(EnergySeriesOut):
    meter_id: str


class SubEnergyOut(BaseModel):
    label: str = Field(description="What the clamp measures (\"Chauffe-eau\"); empty if unlabelled.")
    channel: int
    energy_wh: float | None = Field(description="Over the whole range; None when nothing was measured.")


class HouseholdEnergyOut(EnergySeriesOut):
    household_id: int
    breakdown: list[SubEnergyOut] = Field(
        [], description="The household's sub-circuits (role sub) over the range: already counted in "
                        "the total by the main clamp, never to be added to it. Empty with ?channel=.")


def bucket_out(b: Bucket, tz) -> BucketOut:
    return BucketOut(
        start=b.start_local, end=datetime.fromtimestamp(b.end_utc, tz), start_utc=b.start_utc,
        hours=b.hours, energy_wh=None if b.energy_wh is None else round(b.energy_wh, 3),
        covered_h=round(b.covered_h, 3), complete=b.complete, export_wh=round(b.export_wh, 3))


def total_out(total: Totals) -> TotalOut:
    return TotalOut(energy_wh=None if total.energy_wh is None else round(total.energy_wh, 3),
                    hours=total.hours, covered_h=round(total.covered_h, 3),
                    gap_buckets=total.gap_buckets, export_wh=round(total.export_wh, 3))


# -- meters -------------------------------------------------------------------------------

class ChannelPower(BaseModel):
    channel: int
    power_w: float
    irms_a: float
    apparent: bool = Field(description="True: no voltage sensor, power is Irms x nominal voltage.")
    vrms_v: float | None
    pf: float | None
    ts_utc: float
    label: str | None = Field(None, description="What the clamp measures (its role's label, or the one "
                                                "the meter publishes).")
    sub: bool = Field(False, description="A sub-circuit (by its role, or its published label): not in "
                                         "power_w.")
    export_wh: float | None = Field(None, description="The channel's counter of energy sent back to "
                                                      "the grid (Wh, solar export; power_w is then "
                                                      "negative while exporting); null for a channel "
                                                      "that counts consumption only.")


class PowerOut(BaseModel):
    meter_id: str
    power_w: float = Field(description="Sum over the meter's channels that measure the whole home "
                                       "(sub-circuits left out).")
    ts_utc: float = Field(description="End of the newest reading, UTC seconds.")
    ts: datetime
    age_s: float
    stale: bool = Field(description="True when the newest reading is older than the stale limit.")
    channels: list[ChannelPower]


class MeterOut(BaseModel):
    meter_id: str
    channels: list[int]
    first_ts_utc: float
    last_ts_utc: float
    last_received_utc: float
    readings: int
    state: str | None = Field(description="Last retained MQTT status: online, offline or None.")
    status: dict | None


class MetersOut(BaseModel):
    meters: list[MeterOut]


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
    channels_without_role: list[int] = Field([], description=(
        "Channels the meter sends readings on that have no role (main or sub): give them one "
        "(PUT /api/v1/meters/{m}/channels/{c})."))
    firmware: str | None = Field(None, description="Firmware version the meter reports running.")
    update_requested: str | None = Field(None, description="Version staff last asked it to run.")
    update_state: str | None = Field(None, description=(
        "Where its update stands: idle, trial (new version on trial), updated, rolled_back "
        "(the new version did not come on line: the old one runs), refused (see update_error)."))
    update_to: str | None = Field(None, description="The version update_state is about.")
    update_error: str | None = Field(None, description=(
        "Why an update was refused: bad_signature, bad_hash, bad_size, bad_archive, no_key, "
        "download_failed."))


class MeterIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    note: str = Field("", max_length=200)


class ChannelIn(BaseModel):
    label: str = Field(min_length=1, max_length=60)
    role: Literal["main", "sub"] | None = Field(
        None, description="main: measures the whole home, counted in the total; sub: a circuit a "
                          "main clamp already counts, shown as a breakdown. Default: derived from "
                          "the label (refused with 422 channel_roles when it does not tell).")


# -- households ---------------------------------------------------------------------------

class ChannelOut(BaseModel):
    channel: int
    label: str
    role: str


class MeterPeriodOut(BaseModel):
    meter_id: str
    valid_from: date
    valid_to: date | None
    channels: list[ChannelOut]


class HouseholdOut(BaseModel):
    id: int
    name: str
    deployment_id: int
    timezone: str
    profile: str
    tariff_option: str
    offpeak_start_h: int
    offpeak_end_h: int
    baseline_start: date | None
    baseline_end: date | None
    meters: list[MeterPeriodOut]


def household_out(hh: Household) -> HouseholdOut:
    return HouseholdOut(
        id=hh.id, name=hh.name, deployment_id=hh.deployment_id, timezone=hh.deployment.timezone,
        profile=hh.profile, tariff_option=hh.tariff_option, offpeak_start_h=hh.offpeak_start_h,
        offpeak_end_h=hh.offpeak_end_h, baseline_start=hh.baseline_start,
        baseline_end=hh.baseline_end,
        meters=[MeterPeriodOut(meter_id=a.meter_id, valid_from=a.valid_from, valid_to=a.valid_to,
                               channels=[ChannelOut(channel=c.channel, label=c.label, role=c.role)
                                         for c in a.meter.channels])
                for a in hh.assignments])


class ChannelLiveOut(BaseModel):
    meter_id: str
    channel: int
    label: str | None
    sub: bool = Field(description="A circuit already counted by a main clamp: not added to the total.")
    power_w: float
    ts_utc: float


class LiveOut(BaseModel):
    household_id: int
    power_w: float | None
    ts_utc: float | None
    age_s: float | None
    stale: bool
    channels: list[ChannelLiveOut]


class SavingsOut(BaseModel):
    household_id: int
    status: str = Field(description="ok | no_baseline | baseline_too_short | no_period_data")
    start: date
    end: date
    baseline_start: date | None
    baseline_end: date | None
    method: str = Field(description="mean | degree_days")
    baseline_days: int
    baseline_kwh_per_day: float | None
    dd_intercept_kwh: float | None
    dd_slope_kwh_per_hdd: float | None
    dd_r2: float | None
    period_days: int
    skipped_days: int
    expected_kwh: float | None
    actual_kwh: float | None
    saved_kwh: float | None
    saved_pct: float | None
    priced_days: int
    saved_eur: float | None
    co2_g_per_kwh: float | None
    co2_source: str
    saved_kg_co2: float | None
    method_text: str = Field(description="The method in plain words, in the asked language.")

    @field_validator("baseline_kwh_per_day", "dd_intercept_kwh", "dd_slope_kwh_per_hdd", "dd_r2",
                     "expected_kwh", "actual_kwh", "saved_kwh", "saved_pct", "saved_eur",
                     "saved_kg_co2")
    @classmethod
    def _no_float_noise(cls, v: float | None) -> float | None:
        # 153.2, not 153.19999999999996; 6 decimals (mWh, micro-euros) keep what scripts sum.
        return None if v is None else round(v, 6)


class ComparisonOut(BaseModel):
    household_id: int
    start: date
    end: date
    status: str = Field(description="ok | no_profile | group_too_small | no_own_data")
    profile: str
    group_size: int
    min_group: int
    own_kwh_per_day: float | None
    median_kwh_per_day: float | None
    difference_pct: float | None


class DeletedOut(BaseModel):
    household_id: int
    deleted: bool
    readings_deleted: bool




class HouseholdPatch(BaseModel):
    """Only the fields sent change; null clears a baseline date and nothing else (the schema
    does not offer it elsewhere, and the route refuses it)."""
    name: Name | SkipJsonSchema[None] = None
    profile: Annotated[str, Field(max_length=60)] | SkipJsonSchema[None] = None
    tariff_option: Literal["base", "hphc"] | SkipJsonSchema[None] = None
    offpeak_start_h: Annotated[int, Field(ge=0, le=23)] | SkipJsonSchema[None] = None
    offpeak_end_h: Annotated[int, Field(ge=0, le=23)] | SkipJsonSchema[None] = None
    baseline_start: Day | None = None
    baseline_end: Day | None = None

    _whole = field_validator("offpeak_start_h", "offpeak_end_h", mode="before")(whole_number)


class HouseholdSummaryOut(BaseModel):
    id: int
    name: str
    profile: str
    meters: list[str]
    link_active: bool
    sub_exceeds_main_on: date | None = Field(
        None, description="Yesterday or today (local day) when the household's sub-circuits measured "
                          "more than its main clamps: check the channel roles and the clamps.")


class LinkOut(BaseModel):
    household_id: int
    token: str = Field(description="Shown once: give it to the household (link or QR code).")
    path: str
    url: str | None = Field(None, description="The whole address, with [api] public_url: what the "
                                              "welcome sheet prints and its QR code holds.")




# -- deployments, tariffs, temperatures ---------------------------------------------------

class DeploymentIn(BaseModel):
    name: Name
    timezone: str = Field(DEFAULT_TIMEZONE, max_length=64)
    co2_g_per_kwh: StrictFloat | None = Field(None, ge=0, le=2000)
    co2_source: str | None = Field(None, min_length=1, max_length=500)


class DeploymentPatch(BaseModel):
    co2_g_per_kwh: StrictFloat | None = Field(None, ge=0, le=2000)
    co2_source: str | None = Field(None, min_length=1, max_length=500)
    hdd_base_c: StrictFloat | None = Field(None, ge=5, le=25)


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


class TariffIn(BaseModel):
    option: Literal["base", "hphc"]
    valid_from: Day = Field(description="First day the prices apply (included).")
    valid_to: Day | None = Field(None, description=(
        "Day the prices stop applying (excluded: the next tariff's valid_from); null = still valid. "
        "On a day two tariffs cover, the one that started last applies."))
    base_eur_per_kwh: StrictFloat | None = Field(None, gt=0, le=10)
    peak_eur_per_kwh: StrictFloat | None = Field(None, gt=0, le=10)
    offpeak_eur_per_kwh: StrictFloat | None = Field(None, gt=0, le=10)
    source: str = Field("", max_length=200)


class TariffOut(TariffIn):
    id: int


class TemperatureIn(BaseModel):
    day: Day
    mean_temp_c: StrictFloat = Field(ge=-60, le=60)


# -- staff accounts and tokens ------------------------------------------------------------

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

    _whole = field_validator("deployment_id", mode="before")(whole_number)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=60)


class TokenOut(BaseModel):
    id: int
    name: str
    created_utc: float
    token: str | None = Field(None, description="Only in the answer that creates it.")


# -- one-call registration (workshop tool) ------------------------------------------------

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
        None, description="main: measures the whole home, counted in the total; sub: a circuit "
                          "already counted by a main clamp, shown as a breakdown. Default: the "
                          "channel keeps its role; a new channel's role is derived from its "
                          "label (or the label the meter publishes), and the call is refused "
                          "(422 channel_roles) when the label does not tell it.")

    _whole = field_validator("id", mode="before")(whole_number)


class HouseholdIn(BaseModel):
    name: Name
    profile: str = Field("", max_length=60)
    tariff_option: Literal["base", "hphc"] = "base"
    offpeak_start_h: int = Field(22, ge=0, le=23)
    offpeak_end_h: int = Field(6, ge=0, le=23)
    baseline_start: Day | None = None
    baseline_end: Day | None = None
    meter: AssignIn | None = Field(None, description=(
        "A meter to install in the new household, with its clamps' roles (given, kept, or derived "
        "from the labels; 422 channel_roles when they cannot be told, and nothing is created)."))

    _whole = field_validator("offpeak_start_h", "offpeak_end_h", mode="before")(whole_number)


class AssignIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    valid_from: Day = Field(description="First local day the meter measures this household.")
    channels: list[RegisterChannelIn] = Field([], max_length=wire.MAX_CHANNELS, description=(
        "Labels and roles of the meter's clamps; roles not given are kept or derived from the "
        "labels (422 channel_roles when they do not tell)."))


class RegisterIn(BaseModel):
    meter_id: str = Field(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)
    household: RegisterHouseholdIn
    channels: list[RegisterChannelIn] = Field([], max_length=wire.MAX_CHANNELS)
    from_date: Day | None = Field(None, description="First local day the meter measures the "
                                                     "household (default: today).")
    deployment_id: int | None = Field(None, ge=1, lt=2 ** 31, description=(
        "Default: the deployment of the token's account; required for association-wide accounts."))

    _whole = field_validator("deployment_id", mode="before")(whole_number)


class RegisterOut(BaseModel):
    meter_id: str
    deployment_id: int
    household_id: int
    household_ref: str
    household_link: str | None = Field(description=(
        "/h/<secret token>, only in the answer that created the household (secrets are shown "
        "once); null afterwards: reissue with POST /api/v1/households/{id}/link."))
    from_date: date


class MonthSummaryOut(BaseModel):
    """The figures of a household's monthly paper summary."""

    household_id: int
    month: str = Field(description="YYYY-MM")
    start: date
    end: date
    energy_kwh: float | None = Field(
        description="The month's energy (main circuits), null without any reading.")
    measured_days: int
    days: int
    cost_eur: float | None = Field(
        description="Each measured day at its tariff; null when no day has a price.")
    unpriced_days: int
    reference: Literal["last_year", "baseline"] | None
    reference_kwh: float | None
    reference_pct: float | None = Field(description="+ more, - less than the reference.")
    similar_status: str
    similar_kwh_per_day: float | None
    own_kwh_per_day: float | None
    tip: str | None = Field(description="standby | offpeak | peak_hour")

    @field_validator("energy_kwh", "cost_eur", "reference_kwh", "reference_pct", "own_kwh_per_day")
    @classmethod
    def _no_float_noise(cls, v: float | None) -> float | None:
        return None if v is None else round(v, 6)
