"""`citizenwatt workshop links`: a household's link printed again, whole, with its sheet to
print (QR code); checked against the API; a new one issued for a leader only."""

from __future__ import annotations

import re
import stat

import segno
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.workshop import batch
from citizenwatt.workshop.registration import Household, link_url, register_meter

runner = CliRunner()


def _cli(*args):
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "60"})
    assert "Traceback" not in r.output
    return r


def _room(api_server, tmp_path):
    """Two households registered by a workshop, their links in the room's sheet."""
    sheet = batch.LinkSheet(tmp_path / "liens-foyers-20261130-100000.csv")
    regs = {}
    for meter, ref, name in (("cw-0000a1", "HH-1", "Famille Martin"),
                             ("cw-0000a2", "HH-2", "Famille Diallo")):
        reg = register_meter(api_server.url, api_server.leader_token, meter, Household(ref, name),
                             {0: "Maison"})
        regs[ref] = reg
        sheet.add(batch.BoardRow("", meter_id=meter, household_ref=ref, household_name=name,
                                 household_id=reg.household_id,
                                 household_link=link_url(api_server.url, reg.household_link)))
    return regs


def test_reprints_every_link_whole_with_its_sheet(api_server, tmp_path, monkeypatch):
    regs = _room(api_server, tmp_path)
    monkeypatch.chdir(tmp_path)
    r = _cli("workshop", "links", "--api", api_server.url, "--sheets", tmp_path / "fiches")
    assert r.exit_code == 0, r.output
    for ref, reg in regs.items():
        link = link_url(api_server.url, reg.household_link)
        # whole on one line, even in a 60-column terminal
        assert any(line.endswith(link) and line.startswith(ref) for line in r.output.splitlines()), r.output
        page = (tmp_path / "fiches" / f"fiche-foyer-{ref}.html").read_text(encoding="utf-8")
        assert link in page and segno.make(link, error="m").svg_inline(scale=6, border=4) in page
        assert stat.S_IMODE((tmp_path / "fiches" / f"fiche-foyer-{ref}.html").stat().st_mode) == 0o600
    assert r.output.count("vérifié : il ouvre bien le foyer") == 2


def test_new_link_for_a_leader_only_and_the_old_one_stops(api_server, tmp_path, monkeypatch):
    regs = _room(api_server, tmp_path)
    monkeypatch.chdir(tmp_path)
    old_token = regs["HH-2"].household_link.rsplit("/h/", 1)[1]
    hid = regs["HH-2"].household_id
    # A viewer may not.
    r = _cli("workshop", "links", "--household", "HH-2", "--new", "--api", api_server.url,
             "--token", api_server.viewer_token)
    assert r.exit_code == 1 and "« leader » ou « admin »" in " ".join(r.output.split())
    assert api_server.get("/api/v1/households/%d" % hid, token=old_token).status_code == 200
    # A leader: a new link, printed whole, the old one stops, the sheet keeps the new one.
    r = _cli("workshop", "links", "--household", "HH-2", "--new", "--api", api_server.url,
             "--token", api_server.leader_token)
    assert r.exit_code == 0, r.output
    new = re.search(r"^HH-2 \(Famille Diallo\) : (\S+/h/(\S+))$", r.output, re.M)
    assert new and new.group(2) != old_token
    assert api_server.get("/api/v1/households/%d" % hid, token=old_token).status_code in (401, 403, 404)
    assert api_server.get("/api/v1/households/%d" % hid, token=new.group(2)).json()["name"] == "HH-2"
    assert "nouveau lien, l'ancien ne fonctionne plus" in r.output
    # Asked again later: the sheets now give the new link, and the API says it works.
    r = _cli("workshop", "links", "--household", "HH-2", "--api", api_server.url)
    assert new.group(1) in r.output and "vérifié" in r.output


def test_a_household_no_sheet_knows_gets_a_new_link_through_the_api(api_server, tmp_path, monkeypatch):
    import httpx
    dep = api_server.get("/api/v1/deployments").json()[0]["id"]
    made = httpx.post(api_server.url + "/api/v1/deployments/%d/households" % dep, json={"name": "HH-9"},
                      headers={"Authorization": "Bearer " + api_server.leader_token}, timeout=10)
    assert made.status_code == 201
    monkeypatch.chdir(tmp_path)
    r = _cli("workshop", "links", "--household", "HH-9")
    assert r.exit_code == 1 and "aucun fichier ne contient son lien" in " ".join(r.output.split())
    r = _cli("workshop", "links", "--household", "HH-9", "--api", api_server.url,
             "--token", api_server.leader_token)
    assert r.exit_code == 0, r.output
    token = re.search(r"^HH-9 \(HH-9\) : \S+/h/(\S+)$", r.output, re.M).group(1)
    hid = made.json()["household_id"]
    assert api_server.get("/api/v1/households/%d" % hid, token=token).status_code == 200
