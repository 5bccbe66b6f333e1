"""Household pages in words a family understands: every household page rendered in French
holds none of the internal terms (clamp numbers, median, deployment, token, JSON, profile
codes, meter ids); signs are said in words; new households and households without a
reference period or a description are told what is happening, not what staff must do."""

from __future__ import annotations

import html
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.models import Channel
from citizenwatt.i18n import format_number

from .helpers import constant_readings, local_ts
from .world import NOW

# Terms a household must never read: the part of the system they name is not theirs.
BANNED = [
    r"\bpinces?\s*\d",  # "Pince 1": a clamp number, not a circuit the family knows
    r"\bclamps?\s*\d",
    r"m[ée]diane?",
    r"d[ée]ploiement",
    r"\bdeployment",
    r"\bjetons?\b",
    r"\btoken",
    r"\bjson\b",
    r"\bprofil(e)?\b",
    r"\bleader\b",
    r"animat(eur|rice)",
    r"\bparam[eè]tre",
    r"\bHH-\d",
]
READ_ATTRS = ("aria-label", "title", "alt", "placeholder")


class _Reader(HTMLParser):
    """What a person reads or hears: the text outside scripts and styles, the labels a screen
    reader speaks and the sentences live.js shows (data-t-*); not the addresses."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for k, v in attrs:
            if v and (k in READ_ATTRS or k.startswith("data-t-")):
                self.parts.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def read(page: str) -> str:
    r = _Reader()
    r.feed(page)
    # Collapse the layout's spaces, keeping the no-break ones that tie a figure to its unit.
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(" ".join(r.parts))).strip()


def banned_in(text: str, codes: list[str]) -> list[str]:
    found = [m.group(0) for p in BANNED for m in re.finditer(p, text, flags=re.I)]
    return found + [c for c in codes if c.lower() in text.lower()]


def household_views(base: str) -> dict[str, str]:
    return {
        "live": base,
        "day": f"{base}/history?view=day&date=2026-03-20",
        "week": f"{base}/history?view=week&date=2026-03-20",
        "month": f"{base}/history?view=month&date=2026-03-20",
        "year": f"{base}/history?view=year&date=2026-03-20",
        "savings": f"{base}/savings?start=2026-03-16&end=2026-03-30",
        "compare": f"{base}/compare?start=2026-03-16&end=2026-03-30",
        "data": f"{base}/data",
    }


def test_banned_terms_are_caught_by_the_check():
    # The check itself, on the sentences the pages said before: each is caught.
    for said in ("Pince 1 : 300 W", "Foyers semblables (médiane)", "du même déploiement",
                 "Télécharger toutes mes données (JSON)", "ce jeton", "profil « appart-gaz »"):
        assert banned_in(said, ["appart-gaz"]), said
    assert banned_in("Compteur meter-a", ["meter-a"]) == ["meter-a"]
    assert banned_in("Maison entière : 300 W, Chauffe-eau : 2 000 W", []) == []


def test_every_household_page_in_french_is_free_of_internal_terms(world, wclient):
    with world.app.state.sessionmaker() as db:
        # Labels from the workshop on one channel; the other keeps no label.
        db.add(Channel(meter_id="meter-a", channel=0, label="Toute la maison", role="main"))
        db.commit()
    codes = ["appart-gaz", "maison", "meter-a", "meter-b", "meter-c", "Atelier Belleville"]
    codes.remove("maison")  # a plain word ("Toute la maison"), the code of household C only
    pages = household_views(f"/h/{world.link('A')}")
    for view, url in pages.items():
        r = wclient.get(url)
        assert r.status_code == 200, (view, r.status_code)
        text = read(r.text)
        assert "Foyer A" in text, view  # the household's own name is on each page
        assert banned_in(text, codes) == [], (view, banned_in(text, codes))
    # The data page still offers both files, in plain words.
    text = read(wclient.get(pages["data"]).text)
    assert "Télécharger toutes mes données (un fichier)" in text
    assert "tableur" in text


def test_week_view_beside_day_month_and_year(world, wclient):
    base = f"/h/{world.link('A')}/history"
    r = wclient.get(f"{base}?view=week&date=2026-03-20")  # a Friday
    assert r.status_code == 200
    text = read(r.text)
    assert "Semaine du 16 mars 2026" in text
    # Seven days, Monday to Sunday, each a bar (400 W all day: 9,6 kWh) named by its weekday.
    assert 'data-buckets="7"' in r.text and 'data-bars="7"' in r.text
    labels = re.findall(r'<text class="xlab"[^>]*>([^<]+)</text>', r.text)
    assert labels == ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">([^<]+)</td>', r.text)
    assert rows == [(f"{d} {n} mars", "9,60\u00a0kWh") for d, n in zip(
        ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."], range(16, 23), strict=True)]
    assert "Total : 67,20\u00a0kWh" in text
    # The four views are offered, the current one marked.
    tabs = re.findall(r'<a href="([^"]+)"( aria-current="true")?>(Jour|Semaine|Mois|Année)</a>', r.text)
    assert [t[2] for t in tabs] == ["Jour", "Semaine", "Mois", "Année"]
    assert [bool(t[1]) for t in tabs] == [False, True, False, False]
    # The pager moves a week at a time.
    for monday in ("2026-03-09", "2026-03-23"):
        assert f"{base}?view=week&amp;date={monday}" in r.text
    # In English, the weekday names are English.
    en = wclient.get(f"{base}?view=week&date=2026-03-20&lang=en").text
    assert re.findall(r'<text class="xlab"[^>]*>([^<]+)</text>', en)[0] == "Mon"
    assert "Week of 16 March 2026" in en
    # An unknown view (an old link) shows the day rather than an error page.
    r = wclient.get(f"{base}?view=semaine&date=2026-03-20")
    assert r.status_code == 200 and 'data-buckets="24"' in r.text


def add_household(world, name: str, meter: str, rows, baseline=None, profile: str = "") -> str:
    world.store.write(rows, NOW)
    with world.app.state.sessionmaker() as db:
        dep = admin.get_deployment(db, "Atelier Belleville") if hasattr(admin, "get_deployment") else None
        if dep is None:
            from sqlalchemy import select

            from citizenwatt.api.models import Deployment
            dep = db.scalar(select(Deployment).where(Deployment.name == "Atelier Belleville"))
        fields = {"profile": profile}
        if baseline:
            fields.update(baseline_start=baseline[0], baseline_end=baseline[1])
        hh, token = admin.create_household(db, dep, name, **fields)
        admin.register_meter(db, dep, meter)
        admin.assign_meter(db, hh, meter, date(2026, 3, 1))
        db.commit()
    return token


def test_an_increase_is_said_in_words_never_as_a_negative_saving(world, wclient):
    t0, t1 = local_ts(2026, 3, 1), local_ts(2026, 3, 15)
    rows = constant_readings("meter-d", t0, t1, 400.0, 600)
    rows += constant_readings("meter-d", t1, NOW - 60, 500.0, 600, seq0=100000,
                              counter0_wh=400.0 * 14 * 24)
    token = add_household(world, "Foyer D", "meter-d", rows, (date(2026, 3, 1), date(2026, 3, 14)))
    r = wclient.get(f"/h/{token}/savings?start=2026-03-16&end=2026-03-30")
    text = read(r.text)
    # 400 W expected, 500 W used: 100 W more over every hour of the period (29 March, the
    # day the clocks go forward, has 23), that is 25 % more.
    hours = (local_ts(2026, 3, 31) - local_ts(2026, 3, 16)) / 3600
    more, used, expected = (format_number(w * hours / 1000, 1, lang="fr") for w in (100, 500, 400))
    assert "Hausse : vous avez consommé 25\u00a0% de plus qu'avant." in text
    assert f"Électricité consommée en plus {more}\u00a0kWh soit 25\u00a0% de plus qu'avant" in text
    assert "Dépensé en plus" in text and "CO2 en plus" in text
    assert f"Hausse : {used} − {expected} = {more} kWh" in text
    assert not re.search(r"[-−]\s?\d+(,\d+)?\s?(kWh|€|%|kg)", text), text
    assert "Économie :" not in text and "de moins" not in text
    en = read(wclient.get(f"/h/{token}/savings?start=2026-03-16&end=2026-03-30&lang=en").text)
    assert "Increase: you used 25\u00a0% more than before." in en and "Extra electricity used" in en
    # A saving reads the other way round (household A: 500 W then 400 W, 20 % less).
    text = read(wclient.get(f"/h/{world.link('A')}/savings?start=2026-03-16&end=2026-03-30").text)
    assert "Économie : vous avez consommé 20\u00a0% de moins qu'avant." in text
    assert f"Électricité économisée {more}\u00a0kWh" in text and "Argent économisé" in text


def test_co2_is_explained_to_the_household_and_its_source_shown_to_staff(world, wclient):
    url = f"/h/{world.link('A')}/savings?start=2026-03-16&end=2026-03-30"
    fr, en = read(wclient.get(url).text), read(wclient.get(url + "&lang=en").text)
    assert "Produire de l'électricité rejette du CO2, un gaz qui réchauffe la planète : environ 60 g" in fr
    assert "Producing electricity releases CO2, a gas that warms the planet: about 60 g" in en
    for text in (fr, en):  # the association's note is not for the household
        assert "association retient" not in text and "association uses" not in text and "RTE" not in text
    staff = wclient.get("/staff", headers=world.bearer(world.staff_tokens["admin"]))
    if staff.status_code != 200:  # the staff page runs on a browser session
        wclient.post("/staff/login", data={"username": "admin", "password": "correct horse battery"})
        staff = wclient.get("/staff")
    text = read(staff.text)
    assert "Facteur CO2 des pages des foyers : 60 g par kWh. Source :" in text and "RTE" in text


def test_tabs_without_a_reference_period_or_a_description_speak_to_the_family(world, wclient):
    rows = constant_readings("meter-e", local_ts(2026, 3, 1), NOW - 60, 300.0, 600)
    token = add_household(world, "Foyer E", "meter-e", rows)
    for url in (f"/h/{token}/savings", f"/h/{token}/compare"):
        text = read(wclient.get(url).text)
        assert banned_in(text, ["meter-e"]) == [], (url, banned_in(text, ["meter-e"]))
        assert "demandez" not in text.lower() and "ask " not in text.lower()
    assert "Votre logement n'est pas encore décrit : l'association le fait avec vous" in read(
        wclient.get(f"/h/{token}/compare").text)
    text = read(wclient.get(f"/h/{token}/savings").text)
    assert "La vôtre n'est pas encore choisie" in text and "l'onglet Historique" in text
    assert "Comment c'est calculé" not in text  # nothing is computed yet: no method shown


def test_a_new_household_is_told_when_measuring_began(world, wclient, clock):
    # Installed today: its first reading at 10:02, then 1 kW until now (12:00).
    t_first = local_ts(2026, 3, 31, 10, 2)
    rows = constant_readings("meter-f", t_first - 60, NOW - 60, 1000.0, 60)
    token = add_household(world, "Foyer F", "meter-f", rows)
    for url in (f"/h/{token}", f"/h/{token}/history?view=day&date=2026-03-31"):
        r = wclient.get(url)
        text = read(r.text)
        assert "Mesures depuis le 31 mars 2026 à 10:02 : avant, le compteur n'était pas encore installé." \
            in text, url
        assert "sans mesure" not in text, url
        assert "<rect class=\"gap\"" not in r.text  # no grey tick for the hours before it
        assert 'data-bars="2"' in r.text  # 10:00-11:00 and 11:00-12:00
    # The figures table lists the hours since the installation only.
    rows_shown = re.findall(r"<tr><td>(\d\d:\d\d)</td>", wclient.get(
        f"/h/{token}/history?view=day&date=2026-03-31").text)
    assert rows_shown == ["10:00", "11:00"]
    # The day before: nothing measured yet, said as such.
    text = read(wclient.get(f"/h/{token}/history?view=day&date=2026-03-30").text)
    assert "Votre compteur a été installé le 31 mars 2026 : rien n'a été mesuré avant." in text
    assert "sans mesure" not in text


def test_a_household_whose_meter_sent_nothing_yet(world, wclient):
    token = add_household(world, "Foyer G", "meter-g", [])
    text = read(wclient.get(f"/h/{token}").text)
    assert "Votre compteur n'a encore rien envoyé. Une fois branché et connecté au Wi-Fi" in text
    assert "sans mesure" not in text and not re.search(r"(?<![\d,])0\u00a0Wh", text)
    assert "<rect" not in wclient.get(f"/h/{token}").text  # no bar, no grey tick


def test_a_tiny_first_hour_is_no_zero_beside_a_bar(store, clock):
    from citizenwatt.api.app import create_app

    clock.now_s = local_ts(2026, 6, 1, 9, 30)
    # Two readings a minute apart at 12 W: 0.2 Wh in the first hour.
    store.write(constant_readings("m1", clock.now_s - 180, clock.now_s - 60, 12.0, 60), clock.now_s)
    with TestClient(create_app(store, clock=clock)) as c:
        html_ = c.get("/m/m1").text
    text = read(html_)
    assert "Total depuis minuit : moins de 1 Wh" in text and not re.search(r"(?<![\d,])0\u00a0Wh", text)
    # The bar is drawn on a scale of at least 100 Wh: a sliver, not a full bar.
    h = float(re.search(r'<rect class="bar"[^>]* height="([\d.]+)"', html_).group(1))
    assert h < 1.0


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_circuits_are_named_by_label_or_plain_words(world, wclient, lang):
    from citizenwatt.store.port import ChannelReading

    with world.app.state.sessionmaker() as db:
        db.add(Channel(meter_id="meter-a", channel=1, label="Chauffe-eau", role="sub"))
        db.commit()
    world.store.write([ChannelReading("meter-a", c, 2, 1, NOW - 5, True, 10, 1.0, p, 1.0, True)
                       for c, p in ((0, 800.0), (1, 2000.0), (2, 150.0))], NOW)
    text = read(wclient.get(f"/h/{world.link('A')}?lang={lang}").text)
    whole, other = {"fr": ("Maison entière", "Autre circuit 2"),
                    "en": ("Whole home", "Other circuit 2")}[lang]
    assert f"{whole} : 800" in text and "Chauffe-eau : 2" in text and f"{other} : 150" in text
    assert banned_in(text, ["meter-a"]) == []
