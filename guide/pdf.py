# SPDX-License-Identifier: AGPL-3.0-or-later
"""Printable guide: the per-language print.html laid out as an A4 PDF by WeasyPrint.

WeasyPrint is a PyPI package that needs only Pango (Debian's libpango-1.0-0 and
libpangoft2-1.0-0) and local fonts; it never reaches the network for our pages, so the PDF
builds offline on a clean machine. Its CSS paged media support gives page numbers and a
table of contents with page references, which a browser's print-to-PDF does not.
"""

from __future__ import annotations

import logging
from pathlib import Path

from citizenwatt.errors import PdfError
from citizenwatt.i18n import N_


def write_pdf(print_html: Path, target: Path) -> int:
    """Lay out print_html (images and CSS resolved next to it) into target; return the page count."""
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: Pango is missing from the system
        raise PdfError(
            N_("WeasyPrint does not start, the PDF cannot be made."),
            N_("Install it with `pip install weasyprint` and the Pango library (Debian: apt-get "
               "install libpango-1.0-0 libpangoft2-1.0-0), or build without PDF with --no-pdf. "
               "Detail: {error}"), error=error) from error
    # WeasyPrint logs every CSS property it ignores; keep the command's output readable.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    # Only files of the built site may be read: a stray remote URL fails at once instead of
    # hanging offline, and a missing image fails the build instead of leaving a hole.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    try:
        document = weasyprint.HTML(filename=str(print_html), url_fetcher=fetcher).render()
    except Exception as error:  # WeasyPrint raises many kinds; the reader needs the file and the cause
        raise PdfError(
            N_("Laying out {path} failed ({kind}: {error})."),
            N_("Check that the images and style sheets it names exist, then run again."),
            path=print_html, kind=type(error).__name__, error=error) from error
    target.parent.mkdir(parents=True, exist_ok=True)
    document.write_pdf(str(target))
    return len(document.pages)
