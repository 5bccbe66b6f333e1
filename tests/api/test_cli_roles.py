"""`citizenwatt admin household --meter`: the meter's clamps get their roles there, from
--channel-role/--channel-label or from the labels the meter published; a meter whose
clamps cannot be told apart is refused, and nothing is created."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from citizenwatt.api.db import init_db, make_engine
from citizenwatt.api.models import Channel, Household
from citizenwatt.cli import app
from citizenwatt.store.sqlite import SqliteStore

from .helpers import constant_readings, local_ts

T0 = local_ts(2026, 11, 14)


def published(tmp_path, meter: str, labels: dict[str, str] | None) -> None:
    """Two clamps' readings in the data folder's store, and the meter's status."""
    store = SqliteStore(tmp_path / "readings.sqlite")
    rows = constant_readings(meter, T0, T0 + 3600, 900.0, 600, channel=0)
    rows += constant_readings(meter, T0, T0 + 3600, 300.0, 600, channel=1)
    store.write(rows, T0 + 3600)
    status = {"v": 1, "meter": meter, "state": "online"}
    if labels:
        status["labels"] = labels
    store.set_status(meter, status, T0 + 3600)
    store.close()


def channels(tmp_path, meter: str) -> list[tuple[int, str, str]]:
    maker = init_db(make_engine(f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}"))
    with maker() as db:
        rows = db.scalars(select(Channel).where(Channel.meter_id == meter).order_by(Channel.channel))
        return [(c.channel, c.label, c.role) for c in rows]


def households(tmp_path) -> list[str]:
    maker = init_db(make_engine(f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}"))
    with maker() as db:
        return [h.name for h in db.scalars(select(Household))]


def test_roles_from_the_labels_the_meter_published(tmp_path):
    run, d = CliRunner(), ["--data-dir", str(tmp_path)]
    published(tmp_path, "demo-01", {"0": "Toute la maison", "1": "Chauffe-eau"})
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01", *d])
    assert r.exit_code == 0, r.output
    assert 'Pince 2 "Chauffe-eau" : montrée en détail' in r.output
    assert channels(tmp_path, "demo-01") == [(0, "Toute la maison", "main"), (1, "Chauffe-eau", "sub")]


def test_clamps_without_labels_are_refused_until_their_roles_are_given(tmp_path):
    run, d = CliRunner(), ["--data-dir", str(tmp_path)]
    published(tmp_path, "cw-0001", None)
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "cw-0001", *d])
    assert r.exit_code == 1
    assert "a 2 pinces" in r.output and "--channel-role main --channel-role sub" in r.output
    assert "Rien n'a été créé" in r.output
    assert households(tmp_path) == [] and channels(tmp_path, "cw-0001") == []
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "cw-0001",
                         "--channel-role", "main", "--channel-role", "sbu", *d])
    assert r.exit_code == 2 and "sbu" in r.output
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "cw-0001",
                         "--channel-role", "main", "--channel-role", "sub", *d])
    assert r.exit_code == 0, r.output
    assert households(tmp_path) == ["Foyer 1"]
    assert channels(tmp_path, "cw-0001") == [(0, "", "main"), (1, "", "sub")]


def test_labels_given_on_the_command_line_tell_the_roles(tmp_path):
    run, d = CliRunner(), ["--data-dir", str(tmp_path)]
    published(tmp_path, "cw-0002", None)
    assert run.invoke(app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 2", "--meter", "cw-0002",
                         "--channel-label", "Maison", "--channel-label", "Ballon", *d])
    assert r.exit_code == 0, r.output
    assert channels(tmp_path, "cw-0002") == [(0, "Maison", "main"), (1, "Ballon", "sub")]
