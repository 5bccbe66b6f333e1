"""Paper for the households: the monthly summary (one household's PDF read back page by
page with pypdfium2: its kWh and euros are the API's) and the deployment's batch (one page
per household); the welcome sheet from the staff page (a QR code that reads back as the
household's new link, which opens its page while the old one stops working)."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest

from citizenwatt.api import admin
from citizenwatt.api.tariffs import DEFAULT_TARIFFS
from citizenwatt.i18n import format_quantity

from .world import PASSWORD


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, whitespace folded (a long link breaks across lines); pdfium
    reports a hyphen it takes for a line-end one as U+FFFE."""
    assert data.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(data)
    try:
        return [" ".join(doc[i].get_textpage().get_text_range().replace("\ufffe", "-").split())
                for i in range(len(doc))]
    finally:
        doc.close()


def french_number(text: str, unit: str, after: str) -> float:
    """The number before `unit` in the first match after `after`: "1 234,5 kWh" -> 1234.5."""
    tail = text[text.index(after) + len(after):]
    m = re.search(r"(\d[\d\u202f\u00a0 ]*(?:,\d+)?)\s*" + re.escape(unit), tail)
    assert m, (unit, tail[:200])
    return float(re.sub(r"[\u202f\u00a0 ]", "", m.group(1)).replace(",", "."))


def get(c, w, key, path, **params):
    r = c.get(f"/api/v1/households/{w.hh(key)}{path}", params=params, headers=w.bearer(w.link(key)))
    assert r.status_code == 200, r.text
    return r


def test_one_households_summary_says_the_apis_kwh_and_euros(world, wclient):
    month = get(wclient, world, "A", "/month", month="2026-03").json()
    energy = get(wclient, world, "A", "/energy", resolution="month", start="2026-03-01",
                 end="2026-03-31").json()
    # The month's energy is the energy endpoint's; the euros are each day at its tariff (one
    # base price all March: EDF's from 1 August 2025).
    assert month["energy_kwh"] == pytest.approx(energy["total"]["energy_wh"] / 1000, rel=1e-9)
    price = next(base for option, start, end, base, *_ in DEFAULT_TARIFFS if option == "base" and end is None)
    assert month["cost_eur"] == pytest.approx(month["energy_kwh"] * price, rel=1e-9)
    assert month["reference"] == "baseline" and month["reference_pct"] == pytest.approx(-20.0, abs=0.01)
    assert month["tip"] == "standby"  # 400 W day and night

    r = get(wclient, world, "A", "/month.pdf", month="2026-03")
    assert r.headers["content-type"] == "application/pdf"
    (page,) = pdf_pages(r.content)
    assert "Votre électricité en mars 2026" in page and "Foyer A" in page
    assert french_number(page, "kWh", "vous avez consommé") == round(month["energy_kwh"])
    assert french_number(page, "€", "Cela fait environ") == round(month["cost_eur"], 2)
    assert "20 % de moins que pendant vos premières semaines" in page.replace("\u202f", " ").replace(
        "\u00a0", " ")
    assert "400 W" in page.replace("\u00a0", " ").replace("\u202f", " ")  # the tip, from its own hours

    en = pdf_pages(get(wclient, world, "A", "/month.pdf", month="2026-03", lang="en").content)[0]
    assert "Your electricity in March 2026" in en
    assert format_quantity(month["cost_eur"], "€", 2, lang="en").replace("\u00a0", " ") in en


def test_the_deployments_batch_has_one_page_per_household(world, wclient):
    staff = world.bearer(world.staff_tokens["viewer1"])
    r = wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/summaries.pdf",
                    params={"month": "2026-03"}, headers=staff)
    assert r.status_code == 200, r.text
    pages = pdf_pages(r.content)
    assert len(pages) == 2  # Foyer A and Foyer B; Foyer C belongs to another deployment
    for page, key in zip(pages, ("A", "B"), strict=True):
        month = get(wclient, world, key, "/month", month="2026-03").json()
        assert f"Foyer {key}" in page
        assert french_number(page, "€", "Cela fait environ") == round(month["cost_eur"], 2)
    other = wclient.get(f"/api/v1/deployments/{world.deployments['d2']}/summaries.pdf",
                        params={"month": "2026-03"}, headers=staff)
    assert other.status_code in (403, 404)
    bad = wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/summaries.pdf",
                      params={"month": "mars"}, headers=staff)
    assert bad.status_code == 422 and "AAAA-MM" in bad.json()["detail"]


def test_the_staff_pages_welcome_sheet_carries_a_new_link_in_its_qr_code(world, wclient):
    import zxingcpp

    world.app.state.settings.public_url = "https://watt.example.org"
    world.app.state.settings.secure_cookies = False  # this test client speaks plain http
    world.app.state.settings.contact = "l'association Watt Belleville, 01 23 45 67 89"
    try:
        r = wclient.post("/staff/login", data={"username": "leader1", "password": PASSWORD},
                         follow_redirects=False)
        assert r.status_code == 303
        staff_page = wclient.get("/staff")
        assert f"/staff/households/{world.hh('A')}/welcome-sheet" in staff_page.text
        # the staff page's own form, as a browser posts it (with its Origin)
        r = wclient.post(f"/staff/households/{world.hh('A')}/welcome-sheet",
                         headers={"Origin": "http://testserver"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        doc = pdfium.PdfDocument(r.content)
        try:
            width, height = doc[0].get_size()
            assert abs(width - 420) < 2 and abs(height - 595) < 2  # A5 in points
            (text,) = pdf_pages(r.content)
            codes = zxingcpp.read_barcodes(doc[0].render(scale=3).to_pil())
        finally:
            doc.close()
        assert [c.format.name for c in codes] == ["QRCode"]
        url = codes[0].text
        assert url.startswith("https://watt.example.org/h/")
        assert url.replace(" ", "") in text.replace(" ", "")  # the link is also written out
        assert "Foyer A" in text and "01 23 45 67 89" in text
    finally:
        world.app.state.settings.public_url = None
        world.app.state.settings.secure_cookies = None
        world.app.state.settings.contact = ""
    anonymous = type(wclient)(world.app)
    assert anonymous.get(url.removeprefix("https://watt.example.org")).status_code == 200
    assert anonymous.get(f"/h/{world.link('A')}").status_code == 404  # the old link stops working


def test_a_viewer_cannot_reissue_a_link(world, wclient):
    r = wclient.post("/staff/login", data={"username": "viewer1", "password": PASSWORD},
                     follow_redirects=False)
    assert r.status_code == 303
    assert "welcome-sheet" not in wclient.get("/staff").text
    r = wclient.post(f"/staff/households/{world.hh('A')}/welcome-sheet")
    assert r.status_code == 403
    assert type(wclient)(world.app).get(f"/h/{world.link('A')}").status_code == 200  # still valid


def test_month_summary_figures_follow_the_energy_when_a_meter_moves(world, wclient):
    from datetime import date

    from citizenwatt.api.models import Household

    with world.app.state.sessionmaker() as db:
        admin.assign_meter(db, db.get(Household, world.hh("A")), "meter-b", date(2026, 3, 20))
        db.commit()
    month = get(wclient, world, "A", "/month", month="2026-03").json()
    energy = get(wclient, world, "A", "/energy", resolution="month", start="2026-03-01",
                 end="2026-03-31").json()
    assert month["energy_kwh"] == pytest.approx(energy["total"]["energy_wh"] / 1000, rel=1e-9)
