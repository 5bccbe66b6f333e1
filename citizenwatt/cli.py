"""The one command line, `citizenwatt`: each part of the system adds its sub-commands here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from citizenwatt.errors import CitizenWattError
from citizenwatt.i18n import N_, lang_scope, localise_command


def _lang_in(args: list[str]) -> str | None:
    """The value of --lang anywhere on the command line (help and errors need it before
    click has parsed anything)."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


class CitizenWattGroup(TyperGroup):
    """The root command: speaks --lang / CITIZENWATT_LANG (French by default) in its output,
    its help texts and click's own messages (usage, errors, headings)."""

    def main(self, args=None, prog_name=None, **kwargs):
        import sys

        args = list(sys.argv[1:] if args is None else args)
        with lang_scope(_lang_in(args)):
            localise_command(self)
            return super().main(args=args, prog_name=prog_name or "citizenwatt", **kwargs)

    def invoke(self, ctx):
        # an error of the project that reaches the root is its sentence and next step, with
        # the error's exit code, never a traceback
        try:
            return super().invoke(ctx)
        except CitizenWattError as e:
            typer.secho(str(e), fg="red", err=True)
            raise typer.Exit(e.exit_code) from None


app = typer.Typer(
    name="citizenwatt",
    cls=CitizenWattGroup,
    help=N_("Citizen Watt: an open-source electricity meter (demo, collector, API, workshop, guide)."),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(lang: Annotated[str | None, typer.Option(
        "--lang", help=N_("Language of the messages: fr (default) or en (also CITIZENWATT_LANG)."))] = None,
          ) -> None:
    pass  # --lang is read before parsing, by CitizenWattGroup.main


@app.command(help=N_("Show the version."))
def version() -> None:
    from citizenwatt import __version__

    typer.echo(__version__)


def _setup_logging(verbose: bool) -> None:
    import logging

    from rich.logging import RichHandler

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        datefmt="[%X]", handlers=[RichHandler(show_path=False)])
    if not verbose:  # Alembic's own lines, in English, at every start: --verbose shows them
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _settings(config: Path | None, **overrides):
    """The settings, or the sentences saying what to correct and exit status 2."""
    from citizenwatt.config import ConfigError, load_settings

    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help=N_("TOML settings file."))]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help=N_("Data folder."))]


@app.command(help=N_("Run the whole system on this machine: simulated meters, MQTT, collector, API, "
                     "household page."))
def demo(
    meters: Annotated[int, typer.Option(min=1, max=50, help=N_("Number of simulated meters."))] = 3,
    interval: Annotated[
        float, typer.Option(min=0.5, max=600, help=N_("Seconds between two readings."))
    ] = 5.0,
    speed: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=1000,
            help=N_("Speed-up of the simulated clock, until it catches up with the real time."),
        ),
    ] = 1.0,
    port: Annotated[
        int | None, typer.Option(help=N_("Port of the API (8000 by default, another one if it is taken)."))
    ] = None,
    history: Annotated[
        bool, typer.Option(help=N_("On the first start, replay the day since midnight."))
    ] = True,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    from citizenwatt.demo import Demo, DemoError

    _setup_logging(verbose)
    settings = _settings(config, data_dir=data_dir, api__port=port)
    try:
        Demo(settings, meters=meters, interval_s=interval, speed=speed, history=history).run_forever()
    except DemoError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from None


@app.command(help=N_("Run the collector: the MQTT subscriber that checks and stores the readings."))
def collector(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    import signal
    import threading

    from citizenwatt.collector.service import CollectorError, build_collector
    from citizenwatt.i18n import N_
    from citizenwatt.store.backends import StoreUnavailable, open_store

    _setup_logging(verbose)
    s = _settings(config, data_dir=data_dir)
    try:
        store = open_store(s)
    except StoreUnavailable as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        c = build_collector(s, store)
    except CollectorError as e:  # no broker configured
        typer.secho(str(e), fg="red", err=True)
        store.close()
        raise typer.Exit(2) from None
    metrics = None
    try:
        if s.collector.metrics_port:
            from citizenwatt.collector.metrics import MetricsServer

            host, port = s.collector.metrics_host, s.collector.metrics_port
            try:
                metrics = MetricsServer(c, host, port).start()
            except OSError as e:
                raise CollectorError(
                    N_("The metrics port {host}:{port} is unavailable ({error})."),
                    N_("Choose another one (CITIZENWATT_COLLECTOR__METRICS_PORT, 0 for none)."),
                    host=host,
                    port=port,
                    error=e,
                ) from None
        c.start()
    except CollectorError as e:
        typer.secho(str(e), fg="red", err=True)
        store.close()
        raise typer.Exit(1) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    c.stop()
    if metrics is not None:
        metrics.stop()
    store.close()


from citizenwatt.api.cli import serve as _api_serve  # noqa: E402  (light: imports on use)

app.command(
    "api",
    help=N_(
        "Serve the API and the households' pages on the configured store "
        "(DIR/readings.sqlite, or InfluxDB with CITIZENWATT_STORE__KIND=influxdb)."
    ),
)(_api_serve)
from citizenwatt.api.cli import admin_app as _api_admin  # noqa: E402

app.add_typer(_api_admin, name="admin")


from citizenwatt.guide.cli import app as _guide_app  # noqa: E402

app.add_typer(_guide_app, name="guide")


from citizenwatt.workshop.commands import register as _register_workshop  # noqa: E402

_register_workshop(app)  # ports, flash, provision, calibrate, check, workshop

from citizenwatt.workshop.brokersetup import HELP as _BROKER_HELP  # noqa: E402
from citizenwatt.workshop.brokersetup import broker_setup as _broker_setup  # noqa: E402

# the server's side of the workshop's accounts: the collector's own, once per server
_api_admin.command("broker-setup", help=_BROKER_HELP)(_broker_setup)


from citizenwatt.host.cli import app as _firmware_app  # noqa: E402

app.add_typer(_firmware_app, name="firmware")  # bundle, simulate


def main() -> None:
    app()


if __name__ == "__main__":
    main()
