"""One real build of the guide (site + both PDFs) shared by the hardware tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from citizenwatt.guide.build import BuildReport, build_guide

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> BuildReport:
    return build_guide(tmp_path_factory.mktemp("guide") / "site", root=ROOT, pdf=True)
