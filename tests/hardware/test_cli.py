"""`citizenwatt guide build` through the real command line."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from citizenwatt.cli import app
from tests.hardware.conftest import ROOT


def test_guide_build_writes_the_site(tmp_path):
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["guide", "build", "--out", str(out), "--src", str(ROOT), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "18 chapitres" in result.output
    assert (out / "index.html").is_file()
    assert (out / "fr" / "circuit.html").is_file() and (out / "en" / "circuit.html").is_file()
    assert (out / "downloads" / "bom.csv").read_bytes() == (ROOT / "hardware" / "bom.csv").read_bytes()
    for name in ("CERN-OHL-S-2.0.txt", "CC-BY-SA-4.0.txt", "AGPL-3.0-or-later.txt"):
        assert (out / "licenses" / name).stat().st_size > 10_000


def test_guide_build_without_sources_says_what_to_do(tmp_path):
    (tmp_path / "hardware").mkdir()
    result = CliRunner().invoke(app, ["guide", "build", "--out", str(tmp_path / "o"), "--src", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "hardware/bom.csv" in result.output or "bom.csv" in result.output


def test_a_template_mistake_names_the_file_and_line(tmp_path):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(ROOT / "hardware", src / "hardware")
    chapter = src / "hardware" / "guide" / "en" / "02-materials.md"
    chapter.write_text(
        chapter.read_text(encoding="utf-8") + "\nSolder {{ part('D9') }} here.\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["guide", "build", "--out", str(tmp_path / "o"), "--src", str(src), "--no-pdf"]
    )
    assert result.exit_code == 1
    assert "02-materials.md" in result.output and "'D9' n'est pas dans hardware/bom.csv" in result.output


def test_commands_named_in_the_guide_exist_in_the_cli():
    import typer.main

    group = typer.main.get_group(app)
    named = set()
    for path in (ROOT / "hardware" / "guide").rglob("*.md"):
        named |= set(re.findall(r"`citizenwatt ([a-z-]+)", path.read_text(encoding="utf-8")))
    assert {"ports", "flash", "provision", "calibrate", "check"} <= named
    missing = sorted(name for name in named if name not in group.commands)
    assert missing == [], f"the guide tells trainees to run commands the CLI lacks: {missing}"


def test_options_named_in_the_guide_exist_in_the_cli():
    import typer.main

    group = typer.main.get_group(app)
    options = set()
    for command in group.commands.values():
        for param in getattr(command, "params", []):
            options |= set(getattr(param, "opts", []))
    named = set()
    for path in (ROOT / "hardware" / "guide").rglob("*.md"):
        named |= set(re.findall(r"`(--[a-z][a-z-]+)", path.read_text(encoding="utf-8")))
    assert {"--micropython", "--reference-w"} <= named
    assert sorted(named - options) == []


def test_guide_build_never_empties_a_folder_it_did_not_make(tmp_path):
    precious = tmp_path / "notes.txt"
    precious.write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["guide", "build", "--out", str(tmp_path), "--src", str(ROOT), "--no-pdf"]
    )
    assert result.exit_code == 1
    assert "n'est pas vide" in result.output
    assert precious.read_text(encoding="utf-8") == "mine"
    # A previous build is replaced without complaint.
    out = tmp_path / "site"
    for _ in range(2):
        again = CliRunner().invoke(app, ["guide", "build", "--out", str(out), "--src", str(ROOT), "--no-pdf"])
        assert again.exit_code == 0, again.output


def test_guide_build_with_pdfs_says_each_pdf_and_its_pages(tmp_path, monkeypatch):
    """The PDF lines (they used to crash: the line's {lang} collided with ngettext's lang=)."""
    import citizenwatt.guide.pdf as pdf

    def fake_pdf(source, target):  # the real rendering is tested once, in test_pdf.py
        target.write_bytes(b"%PDF-1.7\n")
        return 3 if "-fr" in target.name else 1

    monkeypatch.setattr(pdf, "write_pdf", fake_pdf)
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["guide", "build", "--out", str(out), "--src", str(ROOT)])
    assert result.exit_code == 0, result.output
    assert f"PDF (fr) : {out / 'pdf' / 'citizenwatt-guide-fr.pdf'} — 3 pages en" in result.output
    assert f"PDF (en) : {out / 'pdf' / 'citizenwatt-guide-en.pdf'} — 1 page en" in result.output
