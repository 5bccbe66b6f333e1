"""Server-side settings in one typed object, by section ([mqtt], [store], [collector], [api],
[workshop]): environment variables CITIZENWATT_<SECTION>__<NAME>, then a TOML file.

Every value is checked once, here, at load, by the same function the code uses later
(check_timezone for time zones); a bad one stops the start with a sentence naming the
setting as the person wrote it. The names used before the sections are still read for one
release, each with a warning giving its new name.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import os
import socket
import tomllib
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from citizenwatt.errors import ConfigError
from citizenwatt.i18n import N_, _, lang_scope, normalise, pydantic_problem

log = logging.getLogger("citizenwatt.config")

DEFAULT_TIMEZONE = "Europe/Paris"
ENV_PREFIX = "CITIZENWATT_"
ENV_NESTED = "__"

# The TOML file of the load in progress (load_settings), for settings_customise_sources.
_config_file_data: ContextVar[dict[str, Any] | None] = ContextVar("citizenwatt_config_file",
                                                                   default=None)


# -- the checks, shared with the code that uses the values later ---------------------------

# Names ZoneInfo opens that are no place: the server's own zone (whatever the machine is
# set to), tzdata's "Factory" (offset 0, abbreviation "-00") and the old default rules.
NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_PLACES


def check_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name` (Europe/Paris, UTC...); ValueError with a sentence for a name
    that is no place (Factory, localtime), unknown or malformed. The API checks a
    deployment's zone with it too."""
    if name in known_zones():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
            pass
    raise ValueError(_("the time zone \"{name}\" is not a known place: write an IANA name "
                       "such as Europe/Paris, America/Montreal or UTC", name=name[:60]))


def check_host(host: str) -> str:
    """A host name or IP address as a socket takes it: no scheme, path or space."""
    if not host or "://" in host or "/" in host or any(c.isspace() for c in host):
        raise ValueError(_("a host name or IP address is expected, without scheme, path or "
                           "space (for example 127.0.0.1 or broker.example.org)"))
    return host


def check_http_url(url: str) -> str:
    """http(s)://host[:port][/path]: influxdb-client would otherwise fail later, with a
    urllib3 warning, on "host:8086"."""
    parts = urlsplit(url)
    if (parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in url)):
        raise ValueError(_("an address that starts with http:// or https:// followed by the "
                           "host is expected, for example http://127.0.0.1:8086"))
    return url


def check_database_url(url: str) -> str:
    """A SQLAlchemy address of a database the API supports (SQLite, PostgreSQL)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        backend = ""
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(_("a database address is expected: sqlite:///folder/citizenwatt.sqlite "
                           "or postgresql://user:password@host/base"))
    return url


def check_folder(path: Path) -> Path:
    """A folder, or a path where one can be made: not an existing file."""
    if path.exists() and not path.is_dir():
        raise ValueError(_("{path} is a file, not a folder: name a folder", path=path))
    return path


# -- the sections -----------------------------------------------------------------------------

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MqttSettings(_Section):
    # No host: the demo starts an embedded broker (amqtt) itself; the collector refuses to start.
    host: str | None = None
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    # "auto": MQTT v5 when the broker speaks it (Mosquitto 2), else 3.1.1 (amqtt).
    protocol: Literal["auto", "v5", "v311"] = "auto"
    # QoS 1 messages the broker may send before we ack (MQTT v5 Receive Maximum).
    receive_maximum: int = Field(20000, ge=1, le=65535)
    # MQTT over TLS (a collector on another host, a managed broker): the CA certificate
    # (PEM file) the broker's certificate must chain to, or "system" for the system's CAs.
    # None: plain MQTT (the broker on this host, on loopback).
    tls_ca: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        return v if v is None else check_host(v)

    @field_validator("tls_ca")
    @classmethod
    def _tls_ca(cls, v: str | None) -> str | None:
        if v is not None and v != "system" and not Path(v).is_file():
            raise ValueError(_("no such file: give the broker's CA certificate (PEM), or "
                               "system for the system's certificate authorities"))
        return v


class StoreSettings(_Section):
    # Time series: the embedded SQLite store, or InfluxDB.
    kind: Literal["sqlite", "influxdb"] = "sqlite"
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: str = ""
    influx_org: str = "citizenwatt"
    influx_bucket: str = "citizenwatt/autogen"
    influx_timeout_s: float = Field(10.0, gt=0)
    # The local spool towards InfluxDB stops growing (and acks stop) below this free space.
    spool_min_free_mb: float = Field(200.0, ge=0)
    # A reading further than this after the one before it is recorded as a gap: its own
    # interval counts, the hours in between stay empty (bounded work per reading).
    max_gap_h: float = Field(48.0, gt=0, le=24 * 366)
    # InfluxDB only. "ledger": the collector's ledger counts the hours and ships them (one
    # collector, or several sharing one data directory). "readings": collectors on separate
    # hosts, each with its own ledger; only readings are shipped and readers count the hours
    # from the whole chain in InfluxDB (docs/scale.md). Collectors and API alike.
    hours: Literal["ledger", "readings"] = "ledger"
    # Retention and resolution tiers (docs/operations.md, "Storage that lasts"). Readings
    # stay as they came for raw_days (the newest hot_hours as plain rows, older ones packed
    # per hour), then are folded into aggregates of aggregate_s seconds kept aggregate_days
    # more; the energy per hour is kept for ever (every household figure comes from it).
    raw_days: float = Field(90.0, gt=0, le=36_600)
    aggregate_s: Literal[60, 300] = 60
    aggregate_days: float = Field(730.0, ge=0, le=36_600)
    hot_hours: float = Field(24.0, gt=0, le=24 * 30)
    # Readings the collector's InfluxDB ledger keeps once InfluxDB has them (the chain
    # needs the newest; a late reading older than this goes to the dead letters).
    ledger_keep_hours: float = Field(48.0, gt=0, le=24 * 366)
    # InfluxDB 1.x: the same tiers with its own means (retention policies cw_raw and cw_agg,
    # a continuous query for the aggregates); the hours stay in the bucket's policy. Off:
    # everything in the bucket (InfluxDB 2.x manages retention per bucket).
    influx_tiers: bool = False
    # The local days the embedded store totals at write time (a year of daily totals is 365
    # rows); households in another zone get theirs summed from the hours.
    timezone: str = DEFAULT_TIMEZONE

    @model_validator(mode="after")
    def _hours_and_tiers(self):
        if self.hours == "readings" and self.influx_tiers:
            raise ValueError(_("store.hours = \"readings\" (collectors on several hosts) and "
                               "store.influx_tiers cannot go together: the hours are counted from "
                               "the readings kept in the bucket; switch one of them off."))
        return self

    @field_validator("influx_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        check_timezone(v)
        return v


class CollectorSettings(_Section):
    # The MQTT client id: stable and unique per instance (it names the broker session).
    # "auto": derived from the MQTT password (derived_collector_id), so nobody who lacks
    # the password can guess it; `citizenwatt admin broker-setup` writes a random one.
    id: str = Field("auto", min_length=1, max_length=64)
    # Shared subscription group ($share/<group>/...): several collectors split the load.
    shared_group: str | None = None
    # Health and Prometheus metrics (/healthz, /metrics); port 0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=0, le=65535)
    # Per-meter quota (a token bucket): messages a meter may send at once (its offline
    # queue replayed after an outage fits), then per minute. Beyond it, its messages are
    # counted and dropped; other meters are not affected.
    meter_burst: int = Field(20000, ge=1)
    meter_per_minute: int = Field(1200, ge=1)
    # Dead letters kept per meter and reason per minute (key conflicts and suspect keys,
    # which hold readings, are always kept); the rest are counted in the metrics.
    dead_letters_per_minute: int = Field(60, ge=0)
    # Rejections are logged once per reason per interval, with a count, not once each.
    reject_log_interval_s: float = Field(60.0, gt=0)

    @field_validator("shared_group")
    @classmethod
    def _group_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or any(c in v for c in "/+#")):
            raise ValueError(_("a group name without /, + or # is expected"))
        return v

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, v: str) -> str:
        return check_host(v)


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # The meter pages' time zone (/m/...); households follow their deployment's.
    timezone: str = DEFAULT_TIMEZONE
    # None: the top-level `lang`.
    default_lang: Literal["fr", "en"] | None = None
    live_refresh_s: int = Field(5, ge=1, le=300, description="Live power refresh period.")
    chart_refresh_s: int = Field(60, ge=5, le=3600)
    # A meter whose newest reading is older than this is shown as "not sending".
    stale_after_s: int = Field(120, ge=10)
    max_hour_range_days: int = Field(93, ge=1, description="Longest range of hourly buckets.")
    max_day_range_days: int = Field(3700, ge=1, description="Longest range of daily buckets.")
    # Relational database (households, tokens...). None: DATA_DIR/citizenwatt.sqlite.
    database_url: str | None = None
    # Meter pages (/m/...) and /api/v1/meters open to anyone: None = only while no household
    # exists (demo, lab); False = staff only; True = always (a closed network).
    open_meters: bool | None = None
    # The address households and staff open (https://watt.example.org): the links and QR codes
    # printed on paper, the app's own origin for the cross-site check, and https there means
    # HSTS and Secure cookies. None: this machine's host and port (a local test).
    public_url: str | None = Field(None, max_length=200)
    # Who a household calls, printed on its welcome sheet and monthly summary.
    contact: str = Field("", max_length=300)
    # The API's own broker account, the only one that may write the meters' command topics
    # (cwcmd/#: firmware updates); `citizenwatt admin broker-setup` makes it. None: the
    # [mqtt] account (a lab broker without use_username_as_clientid).
    mqtt_username: str | None = Field(None, max_length=100)
    mqtt_password: str | None = Field(None, max_length=200)
    # None: Secure when public_url (or the request) is https.
    secure_cookies: bool | None = Field(None, description="Send the staff session cookie over HTTPS only.")
    # Reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are believed (uvicorn's
    # forwarded_allow_ips): the scheme decides HSTS, the address the failure limits.
    trusted_proxies: list[str] = Field(["127.0.0.1", "::1"], max_length=50)
    # Failed household links, tokens and sign-ins: after auth_max_failures within
    # auth_failure_window_s from one address (or on one account), 429 until the oldest leaves.
    auth_max_failures: int = Field(10, ge=1, le=10_000)
    auth_failure_window_s: int = Field(900, ge=1, le=86_400)
    # Server processes on this host (uvicorn workers): each serves requests on its own core.
    # The failure limits are counted per process.
    workers: int = Field(1, ge=1, le=64)
    # Open data (citizenwatt admin opendata): no group of fewer households is published;
    # one value for the deployment, so that two exports cannot be subtracted (api/opendata.py).
    opendata_min_households: int = Field(5, ge=2, le=1000)
    opendata_licence: Literal["etalab-2.0", "ODbL-1.0", "CC-BY-4.0", "CC0-1.0"] = "etalab-2.0"
    # Only periods ended this many days ago are published (late readings settle first).
    opendata_settle_days: int = Field(2, ge=0, le=60)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        return v if v is None else check_http_url(v).rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        check_timezone(v)
        return v

    @field_validator("database_url")
    @classmethod
    def _database(cls, v: str | None) -> str | None:
        return v if v is None else check_database_url(v)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        return check_host(v)


class WorkshopSettings(_Section):
    # An API token of a leader or admin account, for registering meters (--token wins).
    api_token: str | None = None
    # The offline cache of micropython-lib (--cache wins); None: ~/.cache/citizenwatt.
    cache_dir: Path | None = None
    # How to run esptool, as a command line; None: this Python's esptool module.
    esptool: str | None = None

    @field_validator("cache_dir")
    @classmethod
    def _folder(cls, v: Path | None) -> Path | None:
        return v if v is None else check_folder(v)


DEMO_COLLECTOR_ID = "citizenwatt-demo-collector"


def derived_collector_id(mqtt: MqttSettings, host: str | None = None) -> str:
    """The collector's client id when none is set: the demo's own for its embedded broker;
    with a password, "cwc-" and an HMAC of the user name keyed by the password (stable,
    not guessable); on a broker without passwords, which protects no session anyway, a
    name of the user. host (the machine's name, given for a shared subscription): each
    host of one account gets its own id, hence its own session and queue on the broker."""
    if mqtt.host is None:
        return DEMO_COLLECTOR_ID
    who = (mqtt.username or "") + ("@" + host if host else "")
    if mqtt.password:
        mac = hmac.new(mqtt.password.encode(), b"citizenwatt collector id " + who.encode(),
                       hashlib.sha256)
        return "cwc-" + mac.hexdigest()[:24]
    return ("citizenwatt-collector-" + (mqtt.username or "anonymous")[:40]
            + ("-" + host if host else ""))[:64]


# The names before the sections (flat CITIZENWATT_<NAME> variables and TOML keys, and the
# API's CITIZENWATT_API_<NAME>), read until the next release: old name -> (section, key).
OLD_NAMES: dict[str, tuple[str, str]] = {
    **{f"mqtt_{k}": ("mqtt", k) for k in ("host", "port", "username", "password", "protocol",
                                         "receive_maximum")},
    "collector_id": ("collector", "id"),
    "shared_group": ("collector", "shared_group"),
    "metrics_host": ("collector", "metrics_host"),
    "metrics_port": ("collector", "metrics_port"),
    "store": ("store", "kind"),
    **{f"influx_{k}": ("store", f"influx_{k}") for k in ("url", "token", "org", "bucket",
                                                         "timeout_s")},
    "spool_min_free_mb": ("store", "spool_min_free_mb"),
    **{f"api_{k}": ("api", k) for k in ("host", "port", "timezone", "default_lang",
                                        "live_refresh_s", "chart_refresh_s", "stale_after_s",
                                        "max_hour_range_days", "max_day_range_days",
                                        "database_url", "open_meters", "secure_cookies")},
    # read by the workshop straight from the environment (CITIZENWATT_API_TOKEN is the
    # workshop's token, not a setting of the API)
    "api_token": ("workshop", "api_token"),
    "cache_dir": ("workshop", "cache_dir"),
    "esptool": ("workshop", "esptool"),
}

# Each old name is announced once per process, not at every load.
_warned: set[str] = set()


def env_name(*path: str) -> str:
    """("api", "timezone") -> CITIZENWATT_API__TIMEZONE."""
    return ENV_PREFIX + ENV_NESTED.join(path).upper()


def _announce(old: str, text: str) -> None:
    if old not in _warned:
        _warned.add(old)
        log.warning(text)


class _EnvSource(EnvSettingsSource):
    """The environment, the old flat names moved to their section's."""

    def _load_env_vars(self):
        env = dict(super()._load_env_vars())  # lower-case names
        for old, (section, key) in OLD_NAMES.items():
            value = env.pop((ENV_PREFIX + old).lower(), None)
            if value is None:
                continue
            old_name, new_name = (ENV_PREFIX + old).upper(), env_name(section, key)
            _announce(old_name, _("{old} is an old name, still read until the next release: "
                                  "write {new} instead.", old=old_name, new=new_name))
            env.setdefault(new_name.lower(), value)  # the new name wins when both are set
        return env


def _move_old_keys(data: dict[str, Any], file: object) -> dict[str, Any]:
    """A TOML file's old flat keys (mqtt_host = ...) moved to their table ([mqtt] host)."""
    for old in [k for k in data if k in OLD_NAMES]:
        if old == "store" and isinstance(data[old], dict):
            continue  # the new [store] table
        section, key = OLD_NAMES[old]
        _announce(f"{file}:{old}", _("{old} in {file} is an old name, still read until the "
                                     "next release: write {key} in the [{section}] table "
                                     "instead.", old=old, file=file, key=key, section=section))
        value = data.pop(old)
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table.setdefault(key, value)  # the new table wins when both are written
    return data


class Settings(BaseSettings):
    """Everything the server side reads: the demo, the collector, the API, the workshop."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED,
                                      extra="forbid")

    data_dir: Path = Field(Path("citizenwatt-data"), description="Where the embedded stores live.")
    lang: Literal["fr", "en"] = "fr"
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    workshop: WorkshopSettings = Field(default_factory=WorkshopSettings)

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, v: Path) -> Path:
        return check_folder(v)

    @model_validator(mode="after")
    def _api_lang(self) -> Settings:
        if self.api.default_lang is None:
            self.api.default_lang = self.lang
        return self

    @model_validator(mode="after")
    def _collector_id(self) -> Settings:
        # A client id names the broker session: whoever connects with it takes the session
        # over (and, with a clean session, throws the queued readings away). So no fixed,
        # documented default once a broker is configured: an id derived from the collector's
        # secret password, stable across restarts, unknown to anyone without the password.
        # Collectors of one shared group on several hosts each need their own session (it
        # keeps the share routed to them while they are away): the host's name is mixed in.
        if self.collector.id == "auto":
            self.collector.id = derived_collector_id(
                self.mqtt, socket.gethostname() if self.collector.shared_group else None)
        return self

    @property
    def readings_db(self) -> Path:
        return self.data_dir / "readings.sqlite"

    @property
    def influx_spool_db(self) -> Path:
        return self.data_dir / "influx-spool.sqlite"

    @property
    def database_url(self) -> str:
        """The API's relational database: api.database_url, else DATA_DIR/citizenwatt.sqlite."""
        return self.api.database_url or f"sqlite:///{self.data_dir / 'citizenwatt.sqlite'}"

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _EnvSource(settings_cls)]
        toml = _config_file_data.get()
        if toml is not None:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=toml))
        return tuple(sources)


# -- errors a person reads --------------------------------------------------------------------

# the problems worded for a settings file; the others as the API words them (pydantic_problem)
_MESSAGES = {
    "extra_forbidden": N_("unknown setting (a typo? the list is in docs/collector.md)"),
    "string_type": N_("a text in quotes is expected"),
    "bool_type": N_("true or false is expected"),
    "path_type": N_("a path is expected"),
    "model_type": N_("a table of settings is expected, such as [mqtt]"),
    "dict_type": N_("a table of settings is expected, such as [mqtt]"),
}

# values never repeated in a message (they end up in logs)
_SECRETS = {"password", "influx_token", "api_token", "database_url"}


def _problem(err: ErrorDetails) -> str:
    if err["type"] == "value_error":  # our checks: already a sentence in the right language
        return str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in _MESSAGES:
        return _(_MESSAGES[err["type"]])
    return pydantic_problem(dict(err))


def _dig(data: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _where(path: tuple[str, ...], overrides: dict, toml: dict, file: Path | None) -> str:
    """The setting at `path` as the person wrote it: option, variable or file key."""
    dotted = ".".join(path)
    if _dig(overrides, path):  # data_dir -> --data-dir, api.port -> --port
        return "--" + path[-1].replace("_", "-")
    env = {k.upper(): k for k in os.environ if k.upper().startswith(ENV_PREFIX)}
    if env_name(*path) in env:
        return env[env_name(*path)]
    old = [o for o, new in OLD_NAMES.items() if new == path[:2]]
    for o in old:
        if (ENV_PREFIX + o).upper() in env:
            return env[(ENV_PREFIX + o).upper()]
    if file is not None:
        for key in [dotted] + [o for o in old if o in toml]:
            if key == dotted and not _dig(toml, path):
                continue
            return _("{key} in {file}", key=key, file=file)
    return dotted


def _explain(e: ValidationError, overrides: dict, toml: dict, file: Path | None) -> str:
    lines = []
    for err in e.errors():
        path = tuple(str(p) for p in err["loc"])
        problem, value = _problem(err), err.get("input")
        where = _where(path, overrides, toml, file)
        hidden = (path[-1] in _SECRETS if path else False) or not isinstance(value, (str, int, float))
        if hidden or (err["type"] == "value_error" and str(value)[:60] in problem):
            lines.append(_("{setting}: {problem}; correct it, then start again.",
                           setting=where, problem=problem))
        else:
            lines.append(_("{setting}: {problem} (value given: {value!r}); correct it, then "
                           "start again.", setting=where, problem=problem, value=value))
    return "\n".join(lines)


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{"api__port": 8001, "data_dir": None} -> {"api": {"port": 8001}} (None: not given)."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        if value is None:
            continue
        *sections, key = name.split(ENV_NESTED)
        table = out
        for s in sections:
            table = table.setdefault(s, {})
        table[key] = value
    return out


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings: `overrides` (command-line options, section__name=value, None: not
    given), then the environment, then the TOML file (`config_file`, else CITIZENWATT_CONFIG).
    Raise ConfigError with one sentence per bad value, in the settings' language."""
    given = _nested(overrides)
    where = N_("the path given to --config")
    if config_file is None and os.environ.get("CITIZENWATT_CONFIG"):
        config_file, where = Path(os.environ["CITIZENWATT_CONFIG"]), "CITIZENWATT_CONFIG"
    toml: dict[str, Any] = {}
    if config_file is not None:
        try:
            with open(config_file, "rb") as f:
                toml = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(_("Settings file not found: {path}. Check {where}.",
                                path=config_file, where=_(where))) from None
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(_("Unreadable settings file {path} ({detail}): correct it, then "
                                "start again.", path=config_file, detail=e)) from None
    lang = (given.get("lang") or normalise(os.environ.get(ENV_PREFIX + "LANG"))
            or normalise(str(toml.get("lang", ""))))
    with lang_scope(lang):
        data = None if config_file is None else _move_old_keys(copy.deepcopy(toml), config_file)
        # the file is read for this load only (it once stayed in os.environ for later loads)
        token = _config_file_data.set(data)
        try:
            return Settings(**given)
        except ValidationError as e:
            raise ConfigError(_explain(e, given, toml, config_file)) from None
        except ValueError as e:  # pydantic-settings: a variable that is not valid JSON
            raise ConfigError(_("Unreadable settings ({detail}): correct them, then start "
                                "again.", detail=e)) from None
        finally:
            _config_file_data.reset(token)


def workshop_settings() -> WorkshopSettings:
    """The [workshop] section, for the workshop's commands."""
    return load_settings().workshop
