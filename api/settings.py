"""The API's settings in one typed object, read from CITIZENWATT_API_* environment variables."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITIZENWATT_API_", extra="ignore")

    timezone: str = Field("Europe/Paris", description="Households' time zone (IANA name).")
    default_lang: str = Field("fr", pattern="^(fr|en)$")
    live_refresh_s: int = Field(5, ge=1, le=300, description="Live power refresh period.")
    chart_refresh_s: int = Field(60, ge=5, le=3600)
    # A meter whose newest reading is older than this is shown as "not sending".
    stale_after_s: int = Field(120, ge=10)
    max_hour_range_days: int = Field(93, ge=1, description="Longest range of hourly buckets.")
    max_day_range_days: int = Field(3700, ge=1, description="Longest range of daily buckets.")

    # Relational database (households, tokens...). None: DIR/citizenwatt.sqlite next to the
    # readings when a data directory is known, else an in-memory database (tests).
    database_url: str | None = Field(None, description="SQLAlchemy URL: sqlite:///... or postgresql://...")
    # Meter pages (/m/...) and /api/v1/meters open to anyone: None = only while no household
    # exists (demo, lab); False = staff only; True = always (a closed network).
    open_meters: bool | None = None
    secure_cookies: bool = Field(False, description="Send the staff session cookie over HTTPS only.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as Europe/Paris") from e
        return v
