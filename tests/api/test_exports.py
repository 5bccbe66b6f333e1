"""The household's CSV files, opened as a spreadsheet would: the French dialect by default
(semicolon, decimal comma, French headers with units, kWh, local time, UTF-8 with BOM) and
the English/ISO one with lang=en, for the energy buckets and for the raw readings. Every
value read back equals what the API (or the store behind it) says."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from .helpers import PARIS, local_ts


def fetch(c, w, key, path, **params):
    r = c.get(f"/api/v1/households/{w.hh(key)}{path}", params=params, headers=w.bearer(w.link(key)))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return r


def french_rows(body: bytes) -> list[list[str]]:
    """What a French spreadsheet does: UTF-8 with its BOM, semicolon-separated."""
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def decimal_comma(cell: str) -> float | None:
    assert "." not in cell, cell  # "12,5", never "12.5" nor "1 234,5"
    return None if cell == "" else float(cell.replace(",", "."))


def test_hourly_energy_in_the_french_dialect_equals_the_api(world, wclient):
    args = dict(resolution="hour", start="2026-03-14", end="2026-03-15")  # baseline ends on the 14th
    body = wclient.get(f"/api/v1/households/{world.hh('A')}/energy", params=args,
                       headers=world.bearer(world.link("A"))).json()
    rows = french_rows(fetch(wclient, world, "A", "/energy.csv", **args).content)
    header, rows = rows[0], rows[1:]
    assert header == ["Début (heure locale)", "Fin (heure locale)", "Énergie (kWh)", "Heures mesurées (h)",
                      "Complet", "Début (UTC)"]
    assert len(rows) == len(body["buckets"]) == 48
    for row, b in zip(rows, body["buckets"], strict=True):
        assert len(row) == 6  # one column per field: the semicolons did split the line
        start = datetime.strptime(row[0], "%d/%m/%Y %H:%M:%S").replace(tzinfo=PARIS)
        assert start.timestamp() == b["start_utc"]
        kwh = decimal_comma(row[2])
        assert kwh == pytest.approx(b["energy_wh"] / 1000, abs=5e-4)
        assert row[4] == ("oui" if b["complete"] else "non")
    # the baseline's 500 W, then 400 W: the file shows both, in kWh
    assert decimal_comma(rows[0][2]) == pytest.approx(0.5)
    assert decimal_comma(rows[-1][2]) == pytest.approx(0.4)


def test_daily_energy_in_english_is_iso_with_a_point_and_keeps_gaps_empty(world, wclient):
    args = dict(resolution="day", start="2026-02-27", end="2026-03-31")
    body = wclient.get(f"/api/v1/households/{world.hh('A')}/energy", params=args,
                       headers=world.bearer(world.link("A"))).json()
    r = fetch(wclient, world, "A", "/energy.csv", lang="en", **args)
    assert not r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["Start (local time)", "End (local time)", "Energy (kWh)", "Hours measured (h)",
                             "Complete", "Start (UTC)"]
    for row, b in zip(rows, body["buckets"], strict=True):
        assert datetime.fromisoformat(row["Start (local time)"]).timestamp() == b["start_utc"]
        if b["energy_wh"] is None:
            assert row["Energy (kWh)"] == ""  # a gap, never 0
        else:
            assert float(row["Energy (kWh)"]) == pytest.approx(b["energy_wh"] / 1000, abs=5e-4)
    assert rows[0]["Energy (kWh)"] == "" and float(rows[2]["Energy (kWh)"]) == pytest.approx(12.0)
    # 29 March has 23 hours: the local times say so
    dst = next(row for row in rows if row["Start (local time)"].startswith("2026-03-29"))
    assert dst["End (local time)"] == "2026-03-30T00:00:00+02:00" and dst["Hours measured (h)"] == "23.00"


def test_raw_readings_in_both_dialects_equal_the_stored_readings(world, wclient):
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api import admin
        from citizenwatt.api.models import Meter

        admin.set_channel(db, db.get(Meter, "meter-a"), 0, "Toute la maison", "main")
        db.commit()
    t0, t1 = local_ts(2026, 3, 14), local_ts(2026, 3, 16)
    stored = world.store.readings("meter-a", t0, t1)
    assert len(stored) == 2 * 24 * 6
    r = fetch(wclient, world, "A", "/readings.csv", start="2026-03-14", end="2026-03-15")
    rows = french_rows(r.content)
    assert rows[0] == ["Heure (heure locale)", "Circuit", "Puissance (W)", "Index du compteur (kWh)",
                       "Courant (A)", "Tension (V)", "Facteur de puissance", "Intervalle (s)", "Heure (UTC)"]
    assert len(rows) - 1 == len(stored)
    for row, r in zip(rows[1:], stored, strict=True):
        assert datetime.strptime(row[0], "%d/%m/%Y %H:%M:%S").replace(tzinfo=PARIS).timestamp() == r.ts_utc
        assert row[1] == "Toute la maison"
        assert decimal_comma(row[2]) == pytest.approx(r.power_w)
        assert decimal_comma(row[3]) == pytest.approx(r.energy_wh / 1000, abs=1e-4)
        assert decimal_comma(row[4]) == pytest.approx(r.irms_a, abs=1e-3)
        assert row[5] == "" and decimal_comma(row[7]) == r.interval_s  # no voltage adapter: empty
    en = list(csv.DictReader(io.StringIO(fetch(wclient, world, "A", "/readings.csv", start="2026-03-14",
                                                end="2026-03-15", lang="en").text)))
    assert [float(x["Power (W)"]) for x in en] == [r.power_w for r in stored]
    times = [datetime.fromisoformat(x["Time (local time)"]).timestamp() for x in en]
    assert times == [r.ts_utc for r in stored]


def test_the_pages_links_give_the_same_files_and_a_long_range_is_refused_with_a_next_step(world, wclient):
    token = world.link("A")
    page = wclient.get(f"/h/{token}/data")
    assert f"/h/{token}/readings.csv?lang=fr" in page.text and "resolution=hour" in page.text
    r = wclient.get(f"/h/{token}/readings.csv", params={"start": "2026-03-14", "end": "2026-03-14"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = french_rows(r.content)
    assert len(rows) - 1 == len(world.store.readings("meter-a", local_ts(2026, 3, 14), local_ts(2026, 3, 15)))
    r = wclient.get(f"/h/{token}/energy.csv", params={"resolution": "hour", "start": "2026-03-20",
                                                      "end": "2026-03-20"})
    assert [decimal_comma(x[2]) for x in french_rows(r.content)[1:]] == [pytest.approx(0.4)] * 24
    r = wclient.get(f"/api/v1/households/{world.hh('A')}/readings.csv",
                    params={"start": "2026-01-01", "end": "2026-03-01"}, headers=world.bearer(token))
    assert r.status_code == 422
    assert "60 jours" in r.json()["detail"] and "mois par mois" in r.json()["detail"]
