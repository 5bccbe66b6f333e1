"""The one command line, `citizenwatt`: each part of the system adds its sub-commands here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="citizenwatt",
    help="Citizen Watt : compteur d'électricité libre (démo, collecteur, API, atelier, guide).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Citizen Watt : compteur d'électricité libre."""


@app.command()
def version() -> None:
    """Affiche la version."""
    from citizenwatt import __version__

    typer.echo(__version__)


def _setup_logging(verbose: bool) -> None:
    import logging

    from rich.logging import RichHandler

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        datefmt="[%X]", handlers=[RichHandler(show_path=False)])


def _settings(config: Path | None, **overrides):
    """The settings, or the sentences saying what to correct and exit status 2."""
    from citizenwatt.config import ConfigError, load_settings

    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Fichier TOML de réglages.")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Dossier des données.")]


@app.command()
def demo(
    meters: Annotated[int, typer.Option(min=1, max=50, help="Nombre de compteurs simulés.")] = 3,
    interval: Annotated[float, typer.Option(min=0.5, max=600, help="Secondes entre deux relevés.")] = 5.0,
    speed: Annotated[float, typer.Option(min=0.1, max=1000, help="Accélération de l'horloge simulée, jusqu'à rattraper l'heure réelle.")] = 1.0,
    port: Annotated[Optional[int], typer.Option(help="Port de l'API (8000 par défaut, un autre s'il est pris).")] = None,
    history: Annotated[bool, typer.Option(help="Au premier lancement, rejouer la journée depuis minuit.")] = True,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Lance tout le système sur cette machine : compteurs simulés, MQTT, collecteur, API, page du foyer."""
    from citizenwatt.demo import Demo, DemoError

    _setup_logging(verbose)
    settings = _settings(config, data_dir=data_dir, api__port=port)
    try:
        Demo(settings, meters=meters, interval_s=interval, speed=speed,
             history=history).run_forever()
    except DemoError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def collector(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Lance le collecteur : abonné MQTT qui valide et enregistre les relevés."""
    import signal
    import threading

    from citizenwatt.collector.service import CollectorError, build_collector
    from citizenwatt.i18n import _
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
                raise CollectorError(_(
                    "The metrics port {host}:{port} is unavailable ({detail}). Choose another "
                    "one (CITIZENWATT_COLLECTOR__METRICS_PORT, 0 for none).",
                    host=host, port=port, detail=e)) from None
        c.start()
    except CollectorError as e:
        typer.secho(str(e), fg="red", err=True)
        store.close()
        raise typer.Exit(1)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    c.stop()
    if metrics is not None:
        metrics.stop()
    store.close()


from citizenwatt.api.cli import serve as _api_serve  # noqa: E402  (light: imports on use)

app.command("api")(_api_serve)
from citizenwatt.api.cli import admin_app as _api_admin  # noqa: E402

app.add_typer(_api_admin, name="admin")


from citizenwatt.guide.cli import app as _guide_app  # noqa: E402

app.add_typer(_guide_app, name="guide")


from citizenwatt.workshop.commands import register as _register_workshop  # noqa: E402

_register_workshop(app)  # ports, flash, provision, calibrate, check, workshop


from citizenwatt.host.cli import app as _firmware_app  # noqa: E402

app.add_typer(_firmware_app, name="firmware")  # bundle, simulate


def main() -> None:
    app()


if __name__ == "__main__":
    main()
