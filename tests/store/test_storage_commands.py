"""`citizenwatt admin fold` and `citizenwatt admin storage` on an embedded store: the fold
moves what is due and says so, the report gives each tier's rows, readings, oldest and
newest as the store holds them, in French by default and in English with --lang en."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.tiers import DAY_S
from tests.store.helpers import T0, series


def run(*args, lang=None):
    r = CliRunner().invoke(app, ([] if lang is None else ["--lang", lang]) + list(args),
                           env={"CITIZENWATT_LANG": None, "CITIZENWATT_STORE__RAW_DAYS": "1",
                                "CITIZENWATT_STORE__HOT_HOURS": "6"})
    assert r.exit_code == 0, r.output
    return r.output


def number(text: str) -> int:
    return int(re.sub(r"[\s\u202f\u00a0,.]", "", text))


def tier_row(output: str, label: str) -> list[str]:
    line = next(x for x in output.splitlines() if x.startswith(label))
    return re.split(r"\s{2,}", line[len(label):].strip())


def test_fold_then_storage_report(tmp_path):
    rows = series(3 * 8640, seed=1, interval_s=10.0)
    store = SqliteStore(tmp_path / "readings.sqlite")
    store.write(rows, T0)
    store.close()
    at = math.ceil(rows[-1].ts_utc / 3600) * 3600  # the raw tier then ends on a whole hour
    now = str(at)
    out = run("admin", "fold", "--data-dir", str(tmp_path), "--now", now)
    packed = sum(1 for r in rows[:-1] if r.ts_utc < at - 6 * 3600)
    folded = sum(1 for r in rows if r.ts_utc < at - DAY_S)
    said = re.search(r"Relevés compactés : ([\d\s\u202f\u00a0]+) .* regroupés en agrégats : "
                     r"([\d\s\u202f\u00a0]+) ;", out)
    assert said, out
    assert (number(said.group(1)), number(said.group(2))) == (packed, folded)

    fr = run("admin", "storage", "--data-dir", str(tmp_path), "--now", now)
    hot = tier_row(fr, "relevés récents (lignes)")
    assert number(hot[1]) == len(rows) - packed
    raw = tier_row(fr, "relevés (compactés)")
    assert number(raw[1]) == packed - folded
    agg = tier_row(fr, "agrégats de 60 s")
    assert number(agg[1]) == folded
    def utc(t):
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")

    assert raw[3] == utc(min(r.ts_utc for r in rows if r.ts_utc >= at - DAY_S))  # oldest raw
    assert hot[4] == utc(rows[-1].ts_utc)  # newest hot
    assert "1 voies qui envoient" in fr and "grandira d'environ" in fr

    en = run("admin", "storage", "--data-dir", str(tmp_path), "--now", now, lang="en")
    assert number(tier_row(en, "readings (packed)")[1]) == packed - folded
    assert "the store will grow by about" in en and "relevés" not in en
