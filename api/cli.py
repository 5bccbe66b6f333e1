"""`citizenwatt api`: serve the API and the household pages on the embedded store."""

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
) -> None:
    """Sert l'API et les pages des foyers sur le stockage intégré (DIR/readings.sqlite)."""
    import uvicorn

    from citizenwatt.collector.sqlite_store import SqliteStore
    from citizenwatt.settings import ConfigError, load_settings

    from .app import create_app

    try:
        settings = load_settings(None, data_dir=data_dir, api_host=host, api_port=port)
    except ConfigError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2)
    if not settings.data_dir.is_dir():
        typer.secho(f"Le dossier {settings.data_dir} n'existe pas : lancez d'abord le collecteur "
                    "ou la démo (citizenwatt demo), ou indiquez --data-dir.", fg="red", err=True)
        raise typer.Exit(2)
    store = SqliteStore(settings.readings_db)
    shown = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    typer.echo(f"Citizen Watt API : http://{shown}:{settings.api_port}/  "
               f"(données : {settings.readings_db})")
    try:
        uvicorn.run(create_app(store, settings), host=settings.api_host, port=settings.api_port,
                    log_level="info")
    finally:
        store.close()
