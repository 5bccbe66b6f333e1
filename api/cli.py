"""`citizenwatt api`: serve the API and the household pages on the configured store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from citizenwatt.i18n import N_, _, ngettext


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
    if api.workers > 1:
        store.close()  # each worker opens its own
        _serve_workers(settings, config=config, data_dir=data_dir, host=host, port=port)
        return
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


def _serve_workers(settings, *, config: Path | None, data_dir: Path | None, host: str | None,
                   port: int | None) -> None:
    """api.workers processes, each building the app from the environment: what this command
    was given goes there; the schema is brought up to date once, here, before they start."""
    import os

    import uvicorn

    from .db import make_engine, upgrade
    from .security import install_log_filter

    for var, value in (("CITIZENWATT_CONFIG", config), ("CITIZENWATT_DATA_DIR", data_dir),
                       ("CITIZENWATT_API__HOST", host), ("CITIZENWATT_API__PORT", port)):
        if value is not None:
            os.environ[var] = str(value)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    api = settings.api
    install_log_filter()
    uvicorn.run("citizenwatt.api.app:app_from_environment", factory=True, workers=api.workers,
                host=api.host, port=api.port, log_level="info", proxy_headers=True,
                forwarded_allow_ips=list(api.trusted_proxies))


admin_app = typer.Typer(help=N_("Administration: deployments, staff accounts, households and links."),
                        no_args_is_help=True)


def _session(data_dir: Path | None):
    from .db import DatabaseError, init_db, make_engine

    settings = _settings(None, data_dir)
    try:
        maker = init_db(make_engine(settings.database_url))
    except DatabaseError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    return maker()


class _store:
    """The readings store, to read what a meter published (its channel labels); None when it
    cannot be opened (the roles must then be given)."""

    def __init__(self, data_dir: Path | None):
        self.data_dir = data_dir
        self.store = None

    def __enter__(self):
        from citizenwatt.config import ConfigError, load_settings
        from citizenwatt.store.backends import StoreUnavailable, open_store

        try:
            settings = load_settings(None, data_dir=self.data_dir)
            if settings.store.kind != "sqlite" or settings.readings_db.is_file():
                self.store = open_store(settings, for_collector=False)
        except (ConfigError, StoreUnavailable):
            self.store = None
        return self.store

    def __exit__(self, *exc) -> None:
        if self.store is not None:
            self.store.close()


def _write_private(path: Path, data: bytes) -> None:
    """A file that holds a household's secret link: readable by this account only."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _fail(e) -> None:
    typer.secho(e.message(), fg="red", err=True)
    raise typer.Exit(1)


def _deployment(db, name: str):
    """The deployment of that name, or a sentence saying how to create it and exit 1."""
    from sqlalchemy import select

    from .models import Deployment

    dep = db.scalar(select(Deployment).where(Deployment.name == name))
    if dep is None:
        typer.secho(_('Deployment "{name}" not found: create it with `citizenwatt admin deployment`.',
                      name=name), fg="red", err=True)
        raise typer.Exit(1)
    return dep


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

    from .admin import create_staff
    from .errors import ApiError

    password = os.environ.get("CITIZENWATT_STAFF_PASSWORD") or typer.prompt(
        _("Password (10 characters at least)"), hide_input=True, confirmation_prompt=True
    )
    if len(password) < 10:
        typer.secho(_("Password too short: 10 characters at least."), fg="red", err=True)
        raise typer.Exit(2)
    with _session(data_dir) as db:
        dep = _deployment(db, deployment) if deployment else None
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
    channel_role: Annotated[list[str] | None, typer.Option(
        "--channel-role", help=N_("Role of each clamp of the meter, in order (clamp 1 first): main (it "
                                  "measures the whole home, counted in the total) or sub (a circuit a "
                                  "main clamp already counts, e.g. the water heater). Default: told "
                                  "from the labels the meter publishes."))] = None,
    channel_label: Annotated[list[str] | None, typer.Option(
        "--channel-label", help=N_("What each clamp measures, in order (clamp 1 first), e.g. "
                                   "\"Whole house\" then \"Water heater\"."))] = None,
    sheet: Annotated[Path | None, typer.Option(
        "--sheet", help=N_("Where to write the welcome sheet to print (PDF with the QR code); by "
                           "default DATA_DIR/feuilles/accueil-foyer-ID.pdf."))] = None,
    no_sheet: Annotated[bool, typer.Option("--no-sheet", help=N_("Do not write the welcome sheet."))] = False,
    data_dir: DataDir = None,
) -> None:
    from citizenwatt.errors import CitizenWattError
    from citizenwatt.i18n import current_lang

    from .admin import assign_meter, create_household, register_meter, settle_channels
    from .consumption import local_today, zone
    from .errors import ApiError
    from .models import now_utc
    from .paper import base_url, household_url, running_demo_url, welcome_sheet_pdf

    settings = _settings(None, data_dir)
    api = settings.api
    demo_url = None if api.public_url else running_demo_url(settings.data_dir)
    if demo_url:  # the demo may run on another port than api.port
        api = api.model_copy(update={"public_url": demo_url})

    roles = channel_role or []
    bad = [r for r in roles if r not in ("main", "sub")]
    if bad:
        typer.secho(_('--channel-role "{value}": write main or sub, one per clamp in order.', value=bad[0]),
                    fg="red", err=True)
        raise typer.Exit(2)
    labels = channel_label or []
    given = {i: ((labels[i] if i < len(labels) else "")[:60], roles[i] if i < len(roles) else None)
             for i in range(max(len(roles), len(labels)))}
    with _session(data_dir) as db:
        dep = _deployment(db, deployment)
        settled: dict[int, str] = {}
        try:
            hh, token = create_household(db, dep, name, profile=profile)
            if meter:
                m = register_meter(db, dep, meter)
                with _store(data_dir) as store:
                    settled = settle_channels(db, m, given, store)
                day = date.fromisoformat(since) if since else local_today(now_utc(), zone(dep.timezone))
                assign_meter(db, hh, meter, day)
        except ApiError as e:
            if e.code == "channel_roles":
                typer.secho(e.message(), fg="red", err=True)
                typer.secho(_("Give them in order, clamp 1 first, e.g. --channel-role main --channel-role "
                              "sub (or --channel-label \"Whole house\" --channel-label "
                              "\"Water heater\"). Nothing was created."), err=True)
                raise typer.Exit(1) from None
            _fail(e)
        except ValueError:
            typer.secho(_("Invalid date: use YYYY-MM-DD."), fg="red", err=True)
            raise typer.Exit(2) from None
        db.commit()
        url = household_url(api, token)
        typer.echo(
            _(
                'Household {id} "{name}" created. Its secret link (to give to the '
                "household, shown only once): {url}",
                id=hh.id,
                name=hh.name,
                url=url,
            )
        )
        if meter:
            chans = {c.channel: c.label for c in m.channels}
            for c, role in sorted(settled.items()):
                clamp = _("Clamp {n}", n=c + 1) + (f' "{chans[c]}"' if chans.get(c) else "")
                typer.echo("  " + (_("{clamp}: counted in the household's total.", clamp=clamp)
                                   if role == "main" else
                                   _("{clamp}: shown as a detail, already counted by a main clamp.",
                                     clamp=clamp)))

        if demo_url:
            typer.echo(_("This address is the one of the demo running on this machine ({url}): set "
                         "the address households reach (CITIZENWATT_API__PUBLIC_URL, or public_url in "
                         "the [api] table) before printing sheets for them.", url=demo_url))
        elif api.public_url is None:
            typer.echo(_("This address assumes the API runs on this machine at {url} (api.host and "
                         "api.port; no demo is running on this data folder): set the address "
                         "households reach (CITIZENWATT_API__PUBLIC_URL, or public_url in the [api] "
                         "table) before printing sheets for them.", url=base_url(api)))
        if no_sheet:
            return
        target = sheet or settings.data_dir / "feuilles" / f"accueil-foyer-{hh.id}.pdf"
        try:
            _write_private(target, welcome_sheet_pdf(hh, token, api, current_lang()))
        except (CitizenWattError, OSError) as e:
            typer.secho(str(e), fg="red", err=True)
            typer.secho(_("The household is created; for its sheet, issue a new link from the staff "
                          "page (Print a new link)."), fg="red", err=True)
            raise typer.Exit(1) from None
        typer.echo(_("Welcome sheet to print (QR code and link): {path}. Print it, give it to the "
                     "household, then delete the file: it holds the secret link.", path=target))


ConfigFile = Annotated[Path | None, typer.Option("--config", "-c", help=N_("TOML settings file."))]


def _settings(config: Path | None, data_dir: Path | None):
    from citizenwatt.config import ConfigError, load_settings

    try:
        return load_settings(config, data_dir=data_dir)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None


@admin_app.command("firmware-key", help=N_("Print the deployment's public key for firmware updates (made "
                                           "on first use): put it in each meter's config.json as "
                                           "update_key."))
def firmware_key(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    from . import firmware

    key = firmware.signing_key(_settings(config, data_dir), create=True)
    assert key is not None
    typer.echo(firmware.public_key_hex(key))


@admin_app.command("migrate", help=N_("Bring the households database to the newest schema (the API "
                                      "also does it when it starts)."))
def migrate(
    sql: Annotated[bool, typer.Option("--sql", help=N_("Print the SQL instead of running it (nothing is "
                                                       "changed)."))] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    import sys

    from .db import make_engine, upgrade, upgrade_sql

    engine = make_engine(_settings(config, data_dir).database_url)
    try:
        if sql:
            upgrade_sql(engine, sys.stdout)
            return
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(_("The database is already at the newest schema ({revision}).", revision=after))
    else:
        typer.echo(_("Database migrated from {before} to {after}.", before=before or _("empty"),
                     after=after))


@admin_app.command("backup", help=N_("Back up the households database and the readings into a new "
                                     "folder, with a manifest (versions, checksums)."))
def backup_cmd(
    out: Annotated[Path, typer.Option("--out", help=N_("New folder that receives the backup."))],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    import time

    from .backup import backup

    manifest = backup(_settings(config, data_dir), out, now_utc=time.time())
    for f in manifest["files"]:
        typer.echo(f"  {f['file']}  {f['bytes']} B  sha256 {f['sha256'][:16]}…")
    if manifest["influxdb"]:
        typer.echo(_("The readings in InfluxDB are not in this backup: back them up with InfluxDB's "
                     "own tool (influxd backup -portable, see docs/operations.md)."))
    typer.echo(_("Backup made in {path} (schema {revision}).", path=out,
                 revision=manifest["schema_revision"]))


@admin_app.command("restore", help=N_("Restore a backup made by `citizenwatt admin backup` (stop the API "
                                      "and the collector first)."))
def restore_cmd(
    source: Annotated[Path, typer.Option("--from", help=N_("Folder of the backup."))],
    force: Annotated[bool, typer.Option("--force", help=N_(
        "Replace data that are there now (they are first kept beside, as *.before-restore-<time>)."
    ))] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    import time

    from .backup import restore

    done = restore(_settings(config, data_dir), source, force=force, now_utc=time.time())
    for kept in done["kept"]:
        typer.echo(_("Data that were there kept in {path}.", path=kept))
    typer.echo(_("Backup of {created} restored (schema {revision}).",
                 created=done["manifest"].get("created"), revision=done["revision"]))

@admin_app.command(
    "summaries",
    help=N_("Every household's monthly summary of a deployment, one page each, in one PDF to print."),
)
def summaries(
    deployment: Annotated[str, typer.Option("--deployment", help=N_("Name of the deployment."))],
    month: Annotated[str, typer.Option("--month", help=N_("The month, YYYY-MM."))],
    out: Annotated[Path, typer.Option("--out", help=N_("The PDF file to write."))],
    data_dir: DataDir = None,
) -> None:
    from datetime import date

    from citizenwatt.errors import CitizenWattError
    from citizenwatt.i18n import current_lang

    from .errors import ApiError
    from .paper import deployment_summaries, printed_on, summaries_pdf

    settings = _settings(None, data_dir)
    with _session(data_dir) as db:
        dep = _deployment(db, deployment)
        with _open_readings(settings) as store:
            try:
                pages = deployment_summaries(db, store, dep, month, settings.api)
                lang = current_lang()
                pdf = summaries_pdf(pages, settings.api, lang, printed_on(date.today(), lang))
            except ApiError as e:
                _fail(e)
            except CitizenWattError as e:
                typer.secho(str(e), fg="red", err=True)
                raise typer.Exit(1) from None
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pdf)
        typer.echo(ngettext("{n} household, one page each: {path}", "{n} households, one page each: {path}",
                            len(pages), path=out))


@admin_app.command(
    "opendata",
    help=N_("Export a deployment's consumption as open data (a Frictionless Data Package: CSV and "
            "datapackage.json), by groups of at least api.opendata_min_households households."),
)
def opendata(
    deployment: Annotated[str, typer.Option("--deployment", help=N_("Name of the deployment."))],
    start: Annotated[str, typer.Option("--from", help=N_("First day, YYYY-MM-DD."))],
    end: Annotated[str, typer.Option("--to", help=N_("Last day, YYYY-MM-DD (included)."))],
    out: Annotated[Path, typer.Option("--out", help=N_("New folder that receives the package."))],
    resolution: Annotated[str, typer.Option("--resolution", help=N_("hour or day."))] = "day",
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    import time
    from datetime import date

    from .errors import ApiError
    from .opendata import export_opendata

    settings = _settings(config, data_dir)
    days = []
    for text in (start, end):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            typer.secho(_("\"{value}\" is not a date: write it YYYY-MM-DD, for example 2026-03-01.",
                          value=text), fg="red", err=True)
            raise typer.Exit(2) from None
    api = settings.api
    with _open_readings(settings) as store:
        try:
            with _session(data_dir) as db:
                done = export_opendata(db, store, deployment, days[0], days[1], resolution, out,  # type: ignore[arg-type]
                                       k=api.opendata_min_households, licence=api.opendata_licence,
                                       now_s=time.time(), settle_days=api.opendata_settle_days,
                                       source_url=api.public_url)
        except ApiError as e:
            _fail(e)
    typer.echo(_("{published} of {periods} periods published in {path} ({rows} rows, groups of at least "
                 "{k} households).", published=done.published, periods=done.periods, path=out,
                 rows=done.rows, k=api.opendata_min_households))
    if done.repeated:
        typer.echo(_("{n} periods repeat what an earlier export published, unchanged.", n=done.repeated))
    if done.withheld:
        typer.echo(_("{n} periods withheld: fewer than {k} fully measured households.", n=done.withheld,
                     k=api.opendata_min_households))
    if done.unsettled:
        typer.echo(_("{n} recent periods left for a later export (readings may still arrive for {days} "
                     "days).", n=done.unsettled, days=api.opendata_settle_days))


# -- the readings store's tiers (store/tiers.py) ----------------------------------------------

_TIER_NAMES = {
    "hot": N_("newest readings (rows)"),
    "raw": N_("readings (packed)"),
    "aggregate": N_("aggregates of {step} s"),
    "hour": N_("energy per hour (kept for ever)"),
    "other": N_("other tables"),
    "ledger": N_("collector's local ledger"),
}


def _size(n: float) -> str:
    from citizenwatt.i18n import format_number

    for unit, scale in ((N_("GB"), 1e9), (N_("MB"), 1e6), (N_("kB"), 1e3), (N_("B"), 1)):
        if n >= scale or scale == 1:
            return format_number(n / scale, 1 if scale > 1 else 0) + "\u00a0" + _(unit)
    raise AssertionError("unreachable")


def _when(t: float | None) -> str:
    from datetime import UTC, datetime

    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


@contextmanager
def _open_readings(settings) -> Iterator[Any]:  # a backend: fold, storage_report beyond the port
    """The configured readings store for an admin command, closed when the command is done;
    no store yet, or one that does not answer: the sentence, and exit 2 or 1."""
    from citizenwatt.store.backends import StoreUnavailable, open_store

    if settings.store.kind == "sqlite" and not settings.readings_db.is_file():
        typer.secho(_("No readings store in {path} yet: start the collector or the demo first, or "
                      "give --data-dir.", path=settings.data_dir), fg="red", err=True)
        raise typer.Exit(2)
    try:
        store = open_store(settings, for_collector=False)
    except StoreUnavailable as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        yield store
    finally:
        store.close()


_Now = Annotated[float | None, typer.Option("--now", hidden=True, help=N_(
    "Act as of this UTC time in seconds (tests and replays); default: now."))]


@admin_app.command("fold", help=N_(
    "Move the readings down the storage tiers as they age (packed, then aggregated, then only "
    "the energy per hour), in short steps beside the collector; run it from a timer."))
def fold_cmd(
    max_readings: Annotated[int | None, typer.Option("--max-readings", min=1, help=N_(
        "Stop after about this many readings moved (the next run goes on)."))] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    now: _Now = None,
) -> None:
    import time

    from citizenwatt.i18n import format_number
    from citizenwatt.store.tiers import Tiers

    settings = _settings(config, data_dir)
    tiers = Tiers.from_settings(settings.store)
    at = time.time() if now is None else now
    with _open_readings(settings) as store:
        report = store.fold(at, tiers, max_readings=max_readings)
    typer.echo(_("Readings packed: {packed} (into {blocks} blocks); folded into aggregates: "
                 "{aggregated}; aggregates past their retention erased: {expired}; space given "
                 "back: {freed}.", packed=format_number(report.packed), blocks=report.blocks,
                 aggregated=format_number(report.aggregated), expired=report.expired,
                 freed=_size(report.bytes_freed)))
    if report.ledger_pruned:
        typer.echo(_("Readings erased from the collector's ledger (InfluxDB has them): {n}.",
                     n=format_number(report.ledger_pruned)))
    if not report.done:
        typer.echo(_("Stopped at --max-readings: run the command again to go on."))


@admin_app.command("storage", help=N_(
    "What the readings store holds, tier by tier (rows, bytes, oldest and newest), and how much "
    "it will grow in a year for the meters sending now."))
def storage_cmd(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    now: _Now = None,
) -> None:
    from citizenwatt.i18n import format_number
    from citizenwatt.store.tiers import Tiers

    settings = _settings(config, data_dir)
    tiers = Tiers.from_settings(settings.store)
    with _open_readings(settings) as store:
        report = store.storage_report(tiers, now)
    typer.echo(_("Readings store ({kind}): {size} on disk, of which {free} free inside the file.",
                 kind=settings.store.kind, size=_size(report.file_bytes),
                 free=_size(report.free_bytes)))
    head = (_("tier"), _("rows"), _("readings"), _("on disk"), _("oldest (UTC)"), _("newest (UTC)"))
    lines = [head] + [
        (_(_TIER_NAMES[t.tier], step=tiers.aggregate_s), format_number(t.rows),
         format_number(t.readings),
         _size(t.bytes), _when(t.oldest_utc), _when(t.newest_utc))
        for t in report.tiers]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        typer.echo("  ".join(cell.ljust(w) if i in (0, 4, 5) else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(line, widths, strict=True))))
    for note in report.notes:
        typer.echo(_(note))
    typer.echo(_("{channels} channels sending, {readings} readings a year at their present "
                 "rate: the store will grow by about {growth} a year (raw readings kept "
                 "{raw_days} days, aggregates {aggregate_days} days more, hours for ever).",
                 channels=report.channels, readings=format_number(report.readings_per_year),
                 growth=_size(report.growth_bytes_per_year),
                 raw_days=format_number(settings.store.raw_days),
                 aggregate_days=format_number(settings.store.aggregate_days)))
