"""The household page as HTML: French by default, English on request, figures shown."""

from __future__ import annotations

import re

from citizenwatt.store.port import ChannelReading

from .helpers import constant_readings, local_ts


def fill(store, clock):
    t0 = local_ts(2026, 6, 1)
    clock.now_s = t0 + 6 * 3600 - 100
    # 01:00 to 05:58 at 1.5 kW: 7,450 Wh.
    store.write(constant_readings("m1", t0 + 3600, t0 + 6 * 3600 - 120, 1500.0, step_s=60), clock.now_s)
    return t0


def test_household_page_in_french_shows_live_power_and_hourly_bars(store, client, clock):
    fill(store, clock)
    r = client.get("/m/m1")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="fr">' in html
    assert "Ma consommation d&#39;électricité" in html
    assert 'id="live-power">1\u202f500\u00a0W<' in html
    assert "Mesuré il y a 20 s" in html
    assert "Total depuis minuit : 7,45\u00a0kWh" in html
    # 5 hours with data; 00:00-01:00 is before the first reading (the installation): no
    # gap tick and no "hour without readings", but a note saying when measuring began.
    assert 'data-bars="5"' in html and 'data-buckets="24"' in html
    assert len(re.findall(r'<rect class="bar"', html)) == 5
    assert len(re.findall(r'<rect class="gap"', html)) == 0
    assert "sans mesure" not in html
    assert ("Mesures depuis le 1er juin 2026 à 01:01 : avant, le compteur n&#39;était pas encore "
            "installé") in html


def test_household_page_is_french_by_default_and_english_when_chosen(store, client, clock):
    fill(store, clock)
    # French whatever the phone's locale: the households' language.
    assert '<html lang="fr">' in client.get("/m/m1", headers={"Accept-Language": "en-US,en;q=0.8"}).text
    r = client.get("/m/m1?lang=en")
    assert '<html lang="en">' in r.text
    assert "My electricity use" in r.text and "Total since midnight: 7.45\u00a0kWh" in r.text
    assert 'id="live-power">1,500\u00a0W<' in r.text
    # the page's own links keep the chosen language
    assert 'href="/m/m1?lang=en"' in r.text or "?lang=en" in r.text


def test_page_loads_nothing_from_elsewhere(store, client, clock):
    fill(store, clock)
    r = client.get("/m/m1")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    # same-origin: no link leaves in a Referer, and our own forms send their Origin
    assert r.headers["referrer-policy"] == "same-origin" and 'content="same-origin"' in r.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    assert "<script>" not in r.text  # no inline script: the CSP would block it
    js = client.get("/static/live.js")
    assert js.status_code == 200 and "http" not in js.text


def test_today_fragment_and_meter_list(store, client, clock):
    fill(store, clock)
    frag = client.get("/m/m1/today?lang=en")
    assert frag.status_code == 200 and frag.headers["cache-control"] == "no-store"
    assert "Total since midnight" in frag.text and 'data-bars="5"' in frag.text
    home = client.get("/")
    assert 'href="/m/m1?lang=fr"' in home.text


def test_page_for_a_meter_without_readings_waits_politely(client, clock):
    clock.now_s = local_ts(2026, 6, 1, 9)
    r = client.get("/m/nouveau")
    assert r.status_code == 200
    assert "En attente d&#39;une mesure" in r.text and "Pas encore de mesure aujourd&#39;hui" in r.text


def test_bad_meter_id_page_is_a_french_error_page(client):
    r = client.get("/m/Bad!Id")
    assert r.status_code == 422
    assert "identifiant de compteur" in r.text and '<html lang="fr">' in r.text


def test_several_channels_listed(store, client, clock):
    clock.now_s = local_ts(2026, 6, 1, 12)
    store.write([ChannelReading("m2", c, 1, 1, clock.now_s - 2, True, 10, 1.0, p, 1.0, True)
                 for c, p in ((0, 300.0), (1, 2000.0))], clock.now_s)
    html = client.get("/m/m2").text
    # No label from a workshop (a demo meter): plain words, never "Pince N".
    assert "Maison entière : 300\u00a0W" in html and "Autre circuit 1 : 2\u202f000\u00a0W" in html
    assert "Pince" not in html
    assert 'id="live-power">2\u202f300\u00a0W<' in html
