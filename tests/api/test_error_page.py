"""The error page a person lands on: a heading in words (not the bare status number), the
sentence saying what to do, and a link back to where they came from."""

from __future__ import annotations

import re


def page(r) -> dict:
    html = r.text
    h1 = re.search(r'<h1 id="error-heading">([^<]*)</h1>', html)
    back = re.search(r'<a class="button" id="error-back" href="([^"]*)">([^<]*)</a>', html)
    msg = re.search(r'<p id="error-message">([^<]*)</p>', html)
    assert h1 and back and msg, html
    return {"heading": h1.group(1), "href": back.group(1).replace("&amp;", "&"),
            "back": back.group(2), "message": msg.group(1), "html": html}


def test_unknown_household_link_says_page_not_found_and_links_home(world, wclient):
    good = world.link(next(iter(world.households)))
    bad = good[:-1] + ("x" if good[-1] != "x" else "y")  # never the real token
    r = wclient.get(f"/h/{bad}/history")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    p = page(r)
    assert p["heading"] == "Page introuvable" and "<title>Page introuvable · Citizen Watt" in p["html"]
    assert "Demandez un nouveau lien" in p["message"]
    # The token itself is wrong: its pages would answer the same error, so back home.
    assert p["href"] == "/?lang=fr" and p["back"] == "Retour à l&#39;accueil"
    assert "Code d&#39;erreur 404" in p["html"] and "<h1 id=\"error-heading\">404" not in p["html"]
    p = page(wclient.get(f"/h/{bad}/history?lang=en"))
    assert p["heading"] == "Page not found" and p["href"] == "/?lang=en"
    assert "Ask the workshop leader for a new link" in p["message"]


def test_unknown_page_under_a_good_link_goes_back_to_the_household(world, wclient):
    token = world.link(next(iter(world.households)))
    r = wclient.get(f"/h/{token}/nulle-part")
    assert r.status_code == 404
    p = page(r)
    assert (
        p["heading"] == "Page introuvable"
        and p["message"] == "Cette page n&#39;existe pas. Vérifiez l&#39;adresse."
    )
    assert p["href"] == f"/h/{token}?lang=fr" and p["back"] == "Retour à ma consommation"


def test_bad_date_says_what_to_correct_and_links_back_to_the_household(world, wclient):
    token = world.link(next(iter(world.households)))
    r = wclient.get(f"/h/{token}/history?view=day&date=2026-02-30")
    assert r.status_code == 422
    p = page(r)
    assert p["heading"] == "Demande à corriger"
    assert p["message"].startswith("Le paramètre « date » n&#39;est pas valide")
    assert p["href"] == f"/h/{token}?lang=fr" and p["back"] == "Retour à ma consommation"
    r = wclient.get(f"/h/{token}/savings?start=hier&lang=en")
    assert r.status_code == 422
    p = page(r)
    assert p["heading"] == "Request to correct"
    assert p["message"].startswith("The parameter") and p["href"] == f"/h/{token}?lang=en"
    assert p["back"] == "Back to my electricity use"


def test_error_outside_household_pages_links_home_and_api_stays_json(wclient):
    p = page(wclient.get("/nulle-part"))
    assert p["heading"] == "Page introuvable" and p["href"] == "/?lang=fr"
    r = wclient.get("/api/v1/nulle-part")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
