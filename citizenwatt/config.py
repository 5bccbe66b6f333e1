"""Server-side settings in one typed object: environment (CITIZENWATT_*), then a TOML file.

A bad value fails at load with a message naming the setting and what it expects.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from citizenwatt.errors import ConfigError


# The TOML file of the load in progress (load_settings), for settings_customise_sources.
_config_file: ContextVar[str | None] = ContextVar("citizenwatt_config_file", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITIZENWATT_", extra="forbid")

    data_dir: Path = Field(Path("citizenwatt-data"), description="Where the embedded stores live.")
    lang: Literal["fr", "en"] = "fr"

    # MQTT broker. No host: the demo starts an embedded broker (amqtt) itself.
    mqtt_host: str | None = None
    mqtt_port: int = Field(1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # "auto": MQTT v5 when the broker speaks it (Mosquitto 2), else 3.1.1 (amqtt).
    mqtt_protocol: Literal["auto", "v5", "v311"] = "auto"
    collector_id: str = Field("citizenwatt-collector-1", min_length=1, max_length=64)
    # Shared subscription group ($share/<group>/...): several collectors split the load.
    shared_group: str | None = None

    # Time series: the embedded SQLite store, or InfluxDB.
    store: Literal["sqlite", "influxdb"] = "sqlite"
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: str = ""
    influx_org: str = "citizenwatt"
    influx_bucket: str = "citizenwatt/autogen"
    influx_timeout_s: float = Field(10.0, gt=0)
    # The local spool towards InfluxDB stops growing (and acks stop) below this free space.
    spool_min_free_mb: float = Field(200.0, ge=0)
    # QoS 1 messages the broker may send before we ack (MQTT v5 Receive Maximum).
    mqtt_receive_maximum: int = Field(20000, ge=1, le=65535)
    # Collector health and Prometheus metrics (/healthz, /metrics); port 0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=0, le=65535)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)

    @field_validator("shared_group")
    @classmethod
    def _group_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or any(c in v for c in "/+#")):
            raise ValueError("un nom de groupe sans / + ni #")
        return v

    @field_validator("influx_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        # influxdb-client would otherwise fail later, with a urllib3 warning, on "host:8086"
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if (parts.scheme.lower() not in ("http", "https") or not parts.hostname
                or any(c.isspace() for c in v)):
            raise ValueError("une adresse qui commence par http:// ou https:// suivie de "
                             "l'hôte, par exemple http://127.0.0.1:8086")
        return v

    @property
    def readings_db(self) -> Path:
        return self.data_dir / "readings.sqlite"

    @property
    def influx_spool_db(self) -> Path:
        return self.data_dir / "influx-spool.sqlite"

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _config_file.get()
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# pydantic's messages for the mistakes a person makes in a settings file, in French
_MESSAGES = {
    "extra_forbidden": "réglage inconnu (faute de frappe ? la liste est dans docs/collector.md)",
    "int_parsing": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "int_type": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "float_type": "un nombre est attendu",
    "string_type": "un texte entre guillemets est attendu",
    "bool_parsing": "true ou false est attendu",
    "greater_than_equal": "au moins {ge}",
    "greater_than": "un nombre plus grand que {gt}",
    "less_than_equal": "au plus {le}",
    "less_than": "un nombre plus petit que {lt}",
    "string_too_short": "au moins {min_length} caractère(s)",
    "string_too_long": "au plus {max_length} caractères",
    "literal_error": "valeurs permises : {expected}",
}


def _in_french(err: dict) -> str:
    ctx = dict(err.get("ctx") or {})
    if "expected" in ctx:
        ctx["expected"] = str(ctx["expected"]).replace("' or '", "' ou '")
    template = _MESSAGES.get(err["type"])
    if template is None:
        return str(err["msg"]).removeprefix("Value error, ")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(err["msg"])


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Load settings; raise ConfigError with a readable message on any bad value."""
    where = "le chemin passé à --config"
    if config_file is None and os.environ.get("CITIZENWATT_CONFIG"):
        config_file, where = Path(os.environ["CITIZENWATT_CONFIG"]), "CITIZENWATT_CONFIG"
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"Fichier de configuration introuvable : {config_file}. "
                          f"Vérifiez {where}.")
    # the file is read for this load only (it once stayed in os.environ for later loads)
    token = _config_file.set(str(config_file) if config_file is not None else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        lines = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"]) or "?"
            lines.append(f"  - {where} : {_in_french(err)} (valeur reçue : {err.get('input')!r})")
        raise ConfigError("Configuration invalide :\n" + "\n".join(lines) +
                          "\nCorrigez ces réglages (variables CITIZENWATT_* ou fichier "
                          "--config) puis relancez.") from None
    except Exception as e:  # a TOML syntax error, for instance
        raise ConfigError(f"Configuration illisible : {e}. Corrigez le fichier puis relancez.") from None
    finally:
        _config_file.reset(token)
