"""The printable guides: one PDF per language, with real pages that are not blank."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from citizenwatt.i18n import LANGS


def ink_fraction(image) -> float:
    """Share of pixels that are clearly not white paper."""
    grey = image.convert("L")
    histogram = grey.histogram()
    dark = sum(histogram[:200])
    return dark / (grey.width * grey.height)


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_renders_pages_that_are_not_blank(built, lang):
    path = built.pdfs[lang]
    assert path.name == f"citizenwatt-guide-{lang}.pdf"
    document = pdfium.PdfDocument(str(path))
    try:
        assert len(document) == built.pdf_pages[lang] >= 15
        width, height = document[0].get_size()
        assert abs(width - 595) < 2 and abs(height - 842) < 2  # A4 in points
        for index in (0, 1, len(document) // 2, len(document) - 1):
            image = document[index].render(scale=0.8).to_pil()
            assert ink_fraction(image) > 0.005, f"page {index + 1} of {path.name} looks blank"
        toc = document[1].get_textpage().get_text_range()
        first_chapter = built.chapters[lang][0].title
        assert ("Sommaire" if lang == "fr" else "Contents") in toc
        assert first_chapter in toc.replace("\r\n", " ").replace("\n", " ")
        text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
        assert "SCT-013-000" in text and "ICAL" in text
    finally:
        document.close()


def test_a_blank_page_is_detected():
    document = pdfium.PdfDocument.new()
    document.new_page(595, 842)
    image = document[0].render(scale=0.5).to_pil()
    assert ink_fraction(image) < 0.001
    document.close()
