"""`citizenwatt api`: serve the API and the household pages on the configured store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citizenwatt.i18n import N_, _


def serve(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help=N_("Data folder (holds readings.sqlite)."))] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help=N_("Address to listen on (0.0.0.0 for the local network)."))] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help=N_("HTTP port."))] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help=N_("TOML settings file ([api], [store]...)."))] = None,
) -> None:
    import uvicorn

    from citizenwatt.config import ConfigError, load_settings
    from citizenwatt.store.backends import StoreUnavailable, open_store

    from .app import create_app
    from .security import install_log_filter

    try:
        settings = load_settings(config, data_dir=data_dir, api__host=host, api__port=port)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    if settings.store.kind == "sqlite" and not settings.data_dir.is_dir():
        typer.secho(_("The folder {path} does not exist: start the collector or the demo "
                      "(citizenwatt demo) first, or give --data-dir.", path=settings.data_dir),
                    fg="red", err=True)
        raise typer.Exit(2)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # the households' database lives there
    try:
        store = open_store(settings, for_collector=False)
    except StoreUnavailable as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from None
    where = (settings.readings_db if settings.store.kind == "sqlite"
             else f"InfluxDB {settings.store.influx_url}, {settings.store.influx_bucket}")
    api = settings.api
    shown = "127.0.0.1" if api.host in ("0.0.0.0", "::") else api.host
    typer.echo(_("Citizen Watt API: {url}  (data: {where})",
                 url=f"http://{shown}:{api.port}/", where=where))
    try:
        # X-Forwarded-Proto/-For are believed from the trusted proxies only (HSTS, Secure
        # cookies, the failure limits' client address).
        server_config = uvicorn.Config(create_app(store, settings), host=api.host, port=api.port,
                                       log_level="info", proxy_headers=True,
                                       forwarded_allow_ips=list(api.trusted_proxies))
        install_log_filter()  # after uvicorn configured its loggers: no link in any log line
        uvicorn.Server(server_config).run()
    finally:
        store.close()


admin_app = typer.Typer(help=N_("Administration: deployments, staff accounts, households and links."),
                        no_args_is_help=True)


def _session(data_dir: Path | None):
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
    typer.secho(e.message(), fg="red", err=True)
    raise typer.Exit(1)


DataDir = Annotated[Path | None, typer.Option("--data-dir", help=N_("Data folder."))]


@admin_app.command("deployment", help=N_("Create a deployment (EDF tariffs and CO2 factor by default)."))
def add_deployment(
    name: str,
    timezone: Annotated[str | None, typer.Option(
        help=N_("IANA time zone of the households (default: Europe/Paris)."))] = None,
    data_dir: DataDir = None,
) -> None:
    from citizenwatt.config import DEFAULT_TIMEZONE

    from .admin import create_deployment
    from .errors import ApiError

    with _session(data_dir) as db:
        try:
            dep = create_deployment(db, name, timezone or DEFAULT_TIMEZONE)
        except ApiError as e:
            _fail(e)
        db.commit()
        typer.echo(_("Deployment {id} \"{name}\" created.", id=dep.id, name=dep.name))


@admin_app.command("staff", help=N_("Create a staff account; the password is asked for (or "
                                    "CITIZENWATT_STAFF_PASSWORD)."))
def add_staff(
    username: str,
    role: Annotated[str, typer.Option(help=N_("viewer, leader or admin"))] = "admin",
    deployment: Annotated[
        str | None, typer.Option(help=N_("Name of the deployment (none: all of them)."))
    ] = None,
    data_dir: DataDir = None,
) -> None:
    import os

    from sqlalchemy import select

    from .admin import create_staff
    from .errors import ApiError
    from .models import Deployment

    password = os.environ.get("CITIZENWATT_STAFF_PASSWORD") or typer.prompt(
        _("Password (10 characters at least)"), hide_input=True, confirmation_prompt=True
    )
    if len(password) < 10:
        typer.secho(_("Password too short: 10 characters at least."), fg="red", err=True)
        raise typer.Exit(2)
    with _session(data_dir) as db:
        dep = None
        if deployment:
            dep = db.scalar(select(Deployment).where(Deployment.name == deployment))
            if dep is None:
                typer.secho(
                    _(
                        'Deployment "{name}" not found: create it with `citizenwatt admin deployment`.',
                        name=deployment,
                    ),
                    fg="red",
                    err=True,
                )
                raise typer.Exit(1)
        try:
            create_staff(db, username, password, role, dep)
        except ApiError as e:
            _fail(e)
        db.commit()
        typer.echo(_('Account "{name}" ({role}) created. Sign in: /staff/login', name=username, role=role))


@admin_app.command(
    "token",
    help=N_(
        "Create an API token for a staff account (e.g. `citizenwatt workshop "
        "--token`); it is shown only once."
    ),
)
def add_token(
    username: str,
    name: Annotated[str, typer.Option(help=N_("What the token is for (e.g. workshop)."))] = "atelier",
    data_dir: DataDir = None,
) -> None:
    from sqlalchemy import select

    from .admin import create_token
    from .models import StaffUser

    with _session(data_dir) as db:
        user = db.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None or user.disabled:
            typer.secho(
                _(
                    'Account "{name}" not found or disabled: create it with `citizenwatt admin staff`.',
                    name=username,
                ),
                fg="red",
                err=True,
            )
            raise typer.Exit(1)
        _row, token = create_token(db, user, "api", name[:60])
        db.commit()
        typer.echo(
            _(
                'API token of "{name}" ({role}), shown only once: {token}',
                name=username,
                role=user.role,
                token=token,
            )
        )


@admin_app.command(
    "household", help=N_("Create a household (and install a meter there); show its secret link only once.")
)
def add_household(
    deployment: str,
    name: str,
    meter: Annotated[str | None, typer.Option(help=N_("Meter to install in this household."))] = None,
    since: Annotated[
        str | None, typer.Option(help=N_("Date the meter is installed (YYYY-MM-DD), today by default."))
    ] = None,
    profile: Annotated[str, typer.Option(help=N_("Profile used to compare similar households."))] = "",
    data_dir: DataDir = None,
) -> None:
    from datetime import date

    from sqlalchemy import select

    from .admin import assign_meter, create_household, register_meter
    from .errors import ApiError
    from .models import Deployment

    with _session(data_dir) as db:
        dep = db.scalar(select(Deployment).where(Deployment.name == deployment))
        if dep is None:
            typer.secho(
                _(
                    'Deployment "{name}" not found: create it with `citizenwatt admin deployment`.',
                    name=deployment,
                ),
                fg="red",
                err=True,
            )
            raise typer.Exit(1)
        try:
            hh, token = create_household(db, dep, name, profile=profile)
            if meter:
                register_meter(db, dep, meter)
                assign_meter(db, hh, meter, date.fromisoformat(since) if since else date.today())
        except ApiError as e:
            _fail(e)
        except ValueError:
            typer.secho(_("Invalid date: use YYYY-MM-DD."), fg="red", err=True)
            raise typer.Exit(2) from None
        db.commit()
        typer.echo(
            _(
                'Household {id} "{name}" created. Its secret link (to give to the '
                "household, shown only once): /h/{token}",
                id=hh.id,
                name=hh.name,
                token=token,
            )
        )
