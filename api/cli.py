"""`citizenwatt api`: serve the API and the household pages on the configured store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def serve(
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="Dossier des données (contient readings.sqlite).")] = None,
    host: Annotated[Optional[str], typer.Option(
        "--host", help="Adresse d'écoute (0.0.0.0 pour le réseau local).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port HTTP.")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", help="Fichier TOML de réglages ([api], [store]...).")] = None,
) -> None:
    """Sert l'API et les pages des foyers sur le stockage configuré (DIR/readings.sqlite, ou
    InfluxDB avec CITIZENWATT_STORE__KIND=influxdb)."""
    import uvicorn

    from citizenwatt.config import ConfigError, load_settings
    from citizenwatt.store.backends import StoreUnavailable, open_store

    from .app import create_app

    try:
        settings = load_settings(config, data_dir=data_dir, api__host=host, api__port=port)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    if settings.store.kind == "sqlite" and not settings.data_dir.is_dir():
        typer.secho(f"Le dossier {settings.data_dir} n'existe pas : lancez d'abord le collecteur "
                    "ou la démo (citizenwatt demo), ou indiquez --data-dir.", fg="red", err=True)
        raise typer.Exit(2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the households' database lives there
    try:
        store = open_store(settings, for_collector=False)
    except StoreUnavailable as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1)
    where = (settings.readings_db if settings.store.kind == "sqlite"
             else f"InfluxDB {settings.store.influx_url}, {settings.store.influx_bucket}")
    api = settings.api
    shown = "127.0.0.1" if api.host in ("0.0.0.0", "::") else api.host
    typer.echo(f"Citizen Watt API : http://{shown}:{api.port}/  (données : {where})")
    try:
        uvicorn.run(create_app(store, settings), host=api.host, port=api.port, log_level="info")
    finally:
        store.close()


admin_app = typer.Typer(help="Administration : déploiements, comptes de l'équipe, foyers et liens.",
                        no_args_is_help=True)


def _session(data_dir: Optional[Path]):
    from citizenwatt.config import ConfigError, load_settings

    from .db import DatabaseError, init_db, make_engine

    try:
        settings = load_settings(None, data_dir=data_dir)
        maker = init_db(make_engine(settings.database_url))
    except (ConfigError, DatabaseError) as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    return maker()


def _fail(e) -> None:
    from .i18n import t
    typer.secho(t("fr", e.key, **e.params), fg="red", err=True)
    raise typer.Exit(1)


DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Dossier des données.")]


@admin_app.command("deployment")
def add_deployment(
    name: str,
    timezone: Annotated[Optional[str], typer.Option(
        help="Fuseau horaire IANA des foyers (défaut : Europe/Paris).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Crée un déploiement (tarifs EDF par défaut, facteur CO2 par défaut)."""
    from citizenwatt.config import DEFAULT_TIMEZONE

    from .admin import create_deployment
    from .errors import ApiError

    with _session(data_dir) as db:
        try:
            dep = create_deployment(db, name, timezone or DEFAULT_TIMEZONE)
        except ApiError as e:
            _fail(e)
        db.commit()
        typer.echo(f"Déploiement {dep.id} « {dep.name} » créé.")


@admin_app.command("staff")
def add_staff(
    username: str,
    role: Annotated[str, typer.Option(help="viewer, leader ou admin")] = "admin",
    deployment: Annotated[Optional[str], typer.Option(help="Nom du déploiement (aucun : tous).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Crée un compte de l'équipe ; le mot de passe est demandé (ou CITIZENWATT_STAFF_PASSWORD)."""
    import os

    from sqlalchemy import select

    from .admin import create_staff
    from .errors import ApiError
    from .models import Deployment

    password = os.environ.get("CITIZENWATT_STAFF_PASSWORD") or typer.prompt(
        "Mot de passe (10 caractères au moins)", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        typer.secho("Mot de passe trop court : 10 caractères au moins.", fg="red", err=True)
        raise typer.Exit(2)
    with _session(data_dir) as db:
        dep = None
        if deployment:
            dep = db.scalar(select(Deployment).where(Deployment.name == deployment))
            if dep is None:
                typer.secho(f"Déploiement « {deployment} » introuvable : créez-le avec "
                            "`citizenwatt admin deployment`.", fg="red", err=True)
                raise typer.Exit(1)
        try:
            create_staff(db, username, password, role, dep)
        except ApiError as e:
            _fail(e)
        db.commit()
        typer.echo(f"Compte « {username} » ({role}) créé. Connexion : /staff/login")


@admin_app.command("token")
def add_token(
    username: str,
    name: Annotated[str, typer.Option(help="À quoi sert le jeton (ex. : atelier).")] = "atelier",
    data_dir: DataDir = None,
) -> None:
    """Crée un jeton d'API pour un compte de l'équipe (ex. : `citizenwatt workshop --token`) ;
    il est affiché une seule fois."""
    from sqlalchemy import select

    from .admin import create_token
    from .models import StaffUser

    with _session(data_dir) as db:
        user = db.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None or user.disabled:
            typer.secho(f"Compte « {username} » introuvable ou désactivé : créez-le avec "
                        "`citizenwatt admin staff`.", fg="red", err=True)
            raise typer.Exit(1)
        _, token = create_token(db, user, "api", name[:60])
        db.commit()
        typer.echo(f"Jeton d'API de « {username} » ({user.role}), affiché une seule fois : {token}")


@admin_app.command("household")
def add_household(
    deployment: str, name: str,
    meter: Annotated[Optional[str], typer.Option(help="Compteur à installer dans ce foyer.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Date d'installation du compteur (AAAA-MM-JJ), aujourd'hui par défaut.")] = None,
    profile: Annotated[str, typer.Option(help="Profil pour comparer les foyers semblables.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Crée un foyer (et y installe un compteur) ; affiche son lien secret une seule fois."""
    from datetime import date

    from sqlalchemy import select

    from .admin import assign_meter, create_household, register_meter
    from .errors import ApiError
    from .models import Deployment

    with _session(data_dir) as db:
        dep = db.scalar(select(Deployment).where(Deployment.name == deployment))
        if dep is None:
            typer.secho(f"Déploiement « {deployment} » introuvable.", fg="red", err=True)
            raise typer.Exit(1)
        try:
            hh, token = create_household(db, dep, name, profile=profile)
            if meter:
                register_meter(db, dep, meter)
                assign_meter(db, hh, meter, date.fromisoformat(since) if since else date.today())
        except ApiError as e:
            _fail(e)
        except ValueError:
            typer.secho("Date invalide : utilisez AAAA-MM-JJ.", fg="red", err=True)
            raise typer.Exit(2)
        db.commit()
        typer.echo(f"Foyer {hh.id} « {hh.name} » créé. Son lien secret (à donner au foyer, "
                   f"affiché une seule fois) : /h/{token}")
