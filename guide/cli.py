# SPDX-License-Identifier: AGPL-3.0-or-later
"""`citizenwatt guide ...`: build the build guide (site + PDFs)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Guide de fabrication : site statique et PDF imprimables.", no_args_is_help=True)


@app.callback()
def _guide() -> None:
    """Guide de fabrication (français et anglais)."""


@app.command("build")
def build(
    out: Path = typer.Option(Path("build/guide"), "--out", help="Dossier de sortie (il est vidé puis rempli)."),
    src: Path | None = typer.Option(None, "--src", help="Racine du dépôt qui contient hardware/ (par défaut : trouvée depuis le dossier courant)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Produire aussi un PDF par langue."),
) -> None:
    """Construit le site du guide (navigation, recherche, changement de langue) et un PDF par langue."""
    from citizenwatt.guide.build import GuideBuildError, build_guide
    from citizenwatt.guide.bom import BomError
    from citizenwatt.guide.pdf import PdfError
    from citizenwatt.guide.sources import GuideSourceError

    try:
        report = build_guide(out, root=src.resolve() if src else None, pdf=pdf)
    except (GuideBuildError, GuideSourceError, BomError, PdfError) as error:
        typer.echo(f"Erreur : {error}", err=True)
        raise typer.Exit(code=1) from None
    pages = sum(len(chapters) for chapters in report.chapters.values())
    typer.echo(f"Site : {out / 'index.html'} ({pages} chapitres, fr + en) en {report.seconds['site']:.1f} s")
    for lang, path in report.pdfs.items():
        typer.echo(f"PDF ({lang}) : {path} — {report.pdf_pages[lang]} pages en {report.seconds[f'pdf_{lang}']:.1f} s")
