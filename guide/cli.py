# SPDX-License-Identifier: AGPL-3.0-or-later
"""`citizenwatt guide ...`: build the build guide (site + PDFs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citizenwatt.i18n import N_, _, format_number, ngettext

app = typer.Typer(help=N_("Build guide: static site and printable PDFs."), no_args_is_help=True)


@app.callback(help=N_("Build guide (French and English)."))
def _guide() -> None:
    pass


@app.command("build", help=N_("Build the guide's site (navigation, search, language switch) and one PDF per "
                              "language."))
def build(
    out: Annotated[Path, typer.Option("--out", help=N_("Output folder (emptied, then filled)."))] = Path(
        "build/guide"),
    src: Annotated[Path | None, typer.Option("--src", help=N_(
        "Root of the repository that holds hardware/ (by default: found from the current folder)."
    ))] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help=N_("Also make one PDF per language."))] = True,
) -> None:
    from citizenwatt.guide.bom import BomError
    from citizenwatt.guide.build import GuideBuildError, build_guide
    from citizenwatt.guide.pdf import PdfError
    from citizenwatt.guide.sources import GuideSourceError

    try:
        report = build_guide(out, root=src.resolve() if src else None, pdf=pdf)
    except (GuideBuildError, GuideSourceError, BomError, PdfError) as error:
        typer.echo(_("Error: {message}", message=error), err=True)
        raise typer.Exit(code=1) from None
    pages = sum(len(chapters) for chapters in report.chapters.values())
    typer.echo(ngettext("Site: {path} ({n} chapter, fr + en) in {seconds} s",
                        "Site: {path} ({n} chapters, fr + en) in {seconds} s", pages,
                        path=out / "index.html", seconds=format_number(report.seconds["site"], 1)))
    for lang, path in report.pdfs.items():
        # ({language}, not {lang}: ngettext takes lang= as the language to speak)
        typer.echo(ngettext("PDF ({language}): {path} — {n} page in {seconds} s",
                            "PDF ({language}): {path} — {n} pages in {seconds} s", report.pdf_pages[lang],
                            language=lang, path=path,
                            seconds=format_number(report.seconds[f"pdf_{lang}"], 1)))
