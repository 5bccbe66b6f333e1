"""The one command line, `citizenwatt`: each part of the system adds its sub-commands here."""

from __future__ import annotations

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
