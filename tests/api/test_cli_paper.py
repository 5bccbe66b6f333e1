"""`citizenwatt admin household` prints the whole address and writes the welcome sheet
(readable by its owner only); `citizenwatt admin summaries` makes one PDF with a page per
household of a deployment."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from datetime import date

import pypdfium2 as pdfium
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citizenwatt.api.app import create_app
from citizenwatt.cli import app
from citizenwatt.config import Settings
from citizenwatt.store.sqlite import SqliteStore

from .helpers import constant_readings, local_ts

NOW = local_ts(2026, 11, 15, 12)


def pages_text(path) -> list[str]:
    doc = pdfium.PdfDocument(str(path))
    try:
        return [" ".join(doc[i].get_textpage().get_text_range().replace("\ufffe", "-").split())
                for i in range(len(doc))]
    finally:
        doc.close()


def test_admin_household_prints_the_public_address_and_writes_its_sheet(tmp_path):
    import zxingcpp

    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    env = {"CITIZENWATT_API__PUBLIC_URL": "https://watt.example.org/",
           "CITIZENWATT_API__CONTACT": "Anne, 06 12 34 56 78"}
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    sheet = tmp_path / "a imprimer" / "foyer1.pdf"
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01", "--since",
                         "2026-11-01", "--sheet", str(sheet), *d], env=env)
    assert r.exit_code == 0, r.output
    url = re.search(r"https://watt\.example\.org/h/\S+", r.output).group(0)
    assert str(sheet) in r.output and "supprimez le fichier" in r.output
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600  # the sheet holds the secret
    (text,) = pages_text(sheet)
    assert "Foyer 1" in text and "Anne, 06 12 34 56 78" in text and url in text.replace(" ", "")
    doc = pdfium.PdfDocument(str(sheet))
    try:
        codes = zxingcpp.read_barcodes(doc[0].render(scale=3).to_pil())
    finally:
        doc.close()
    assert [c.text for c in codes] == [url]
    store = SqliteStore(tmp_path / "readings.sqlite")
    try:
        client = TestClient(create_app(store, Settings(data_dir=tmp_path), clock=lambda: NOW))
        assert client.get(url.removeprefix("https://watt.example.org")).status_code == 200
    finally:
        store.close()
    # Without a public address: this machine's, a sentence saying which base it assumed and
    # what to set, the default file.
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 2", *d])
    assert r.exit_code == 0, r.output
    assert re.search(r"http://127\.0\.0\.1:8000/h/\S+", r.output)
    said = " ".join(r.output.split())
    assert "suppose que l'API tourne sur cette machine à http://127.0.0.1:8000 (api.host et api.port" in said
    assert "CITIZENWATT_API__PUBLIC_URL" in said
    assert (tmp_path / "feuilles" / "accueil-foyer-2.pdf").is_file()
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 3", "--no-sheet", *d])
    assert r.exit_code == 0 and not (tmp_path / "feuilles" / "accueil-foyer-3.pdf").exists()


def test_admin_summaries_makes_one_page_per_household(tmp_path):
    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    powers = {"m-1": 300.0, "m-2": 500.0, "m-3": 800.0}
    for i, meter in enumerate(powers, 1):
        r = run.invoke(app, ["admin", "household", "Atelier", f"Foyer {i}", "--meter", meter, "--since",
                             "2026-09-01", "--no-sheet", *d])
        assert r.exit_code == 0, r.output
    store = SqliteStore(tmp_path / "readings.sqlite")
    try:
        for meter, w in powers.items():
            store.write(constant_readings(meter, local_ts(2026, 10, 1), local_ts(2026, 11, 1), w, 600), NOW)
    finally:
        store.close()
    out = tmp_path / "bilans.pdf"
    r = run.invoke(app, ["admin", "summaries", "--deployment", "Atelier", "--month", "2026-10",
                         "--out", str(out), *d])
    assert r.exit_code == 0, r.output
    assert "3 foyers" in r.output
    pages = pages_text(out)
    assert len(pages) == 3
    hours = (date(2026, 11, 1) - date(2026, 10, 1)).days * 24 + 1  # 25-hour day on 25 October
    for i, (page, w) in enumerate(zip(pages, powers.values(), strict=True), 1):
        assert f"Foyer {i}" in page and "octobre 2026" in page
        kwh = round(w * hours / 1000)
        assert f"{kwh} kWh" in page.replace("\u202f", " ").replace("\u00a0", " ")
    r = run.invoke(app, ["admin", "summaries", "--deployment", "Atelier", "--month", "octobre",
                         "--out", str(out), *d])
    assert r.exit_code == 1 and "AAAA-MM" in r.output


def test_admin_summaries_without_a_readings_store_says_where_it_looked(tmp_path):
    """No readings store in the data folder (a wrong --data-dir, the collector never run): the
    sentence of the other admin commands, no PDF of empty pages, and no empty store made."""
    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "m-1", "--no-sheet", *d])
    assert r.exit_code == 0, r.output
    out = tmp_path / "bilans.pdf"
    r = run.invoke(app, ["admin", "summaries", "--deployment", "Atelier", "--month", "2026-10",
                         "--out", str(out), *d])
    assert r.exit_code == 2, r.output
    assert f"Pas encore de relevés dans {tmp_path}" in " ".join(r.output.split())
    assert not out.exists() and not (tmp_path / "readings.sqlite").exists()


def test_admin_household_links_to_the_demo_running_on_its_data_folder(tmp_path):
    """The demo may serve on another port than api.port (taken, or --port): while it runs,
    its address is in the data folder and the printed link and the sheet use it; once its
    process is gone, the configured address again, said as assumed."""
    from citizenwatt.api.paper import RUNNING_DEMO_FILE, record_running_demo, running_demo_url

    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    demo = "http://127.0.0.1:8123"
    record_running_demo(tmp_path, demo)  # as by this process: alive
    assert running_demo_url(tmp_path) == demo
    sheet = tmp_path / "foyer1.pdf"
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--sheet", str(sheet), *d],
                   env={"CITIZENWATT_LANG": "en"})
    assert r.exit_code == 0, r.output
    url = re.search(r"http://\S+/h/\S+", r.output).group(0)
    assert url.startswith(demo + "/h/")
    said = " ".join(r.output.split())
    assert f"the demo running on this machine ({demo})" in said
    assert url in pages_text(sheet)[0].replace(" ", "")
    # a demo killed without stopping left its file: the process is gone, the file is ignored
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / RUNNING_DEMO_FILE).write_text(json.dumps({"url": demo, "pid": int(gone.stdout)}))
    assert running_demo_url(tmp_path) is None
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 2", "--no-sheet", *d],
                   env={"CITIZENWATT_LANG": "en"})
    assert r.exit_code == 0, r.output
    assert re.search(r"http://127\.0\.0\.1:8000/h/\S+", r.output)
    assert "assumes the API runs on this machine at http://127.0.0.1:8000" in " ".join(r.output.split())
    # a public address wins over a running demo
    record_running_demo(tmp_path, demo)
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 3", "--no-sheet", *d],
                   env={"CITIZENWATT_API__PUBLIC_URL": "https://watt.example.org/"})
    assert r.exit_code == 0, r.output
    assert re.search(r"https://watt\.example\.org/h/\S+", r.output) and demo not in r.output
