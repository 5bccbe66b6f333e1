"""`citizenwatt admin ...`: the first deployment, staff account and household from a shell."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citizenwatt.api.app import create_app
from citizenwatt.cli import app
from citizenwatt.config import Settings
from citizenwatt.store.sqlite import SqliteStore

from .helpers import local_ts

# The API's clock: a fortnight after the household's meter was installed (--since).
NOW = local_ts(2026, 11, 15, 12)


def test_admin_commands_then_the_link_and_login_work(tmp_path):
    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    r = run.invoke(app, ["admin", "deployment", "Atelier", *d])
    assert r.exit_code == 0 and "Atelier" in r.output
    r = run.invoke(app, ["admin", "staff", "anne", "--role", "leader", "--deployment", "Atelier", *d],
                   env={"CITIZENWATT_STAFF_PASSWORD": "un long mot de passe"})
    assert r.exit_code == 0, r.output
    r = run.invoke(app, ["admin", "token", "anne", *d])
    assert r.exit_code == 0, r.output
    api_token = r.output.split("une seule fois : ")[1].strip()
    r = run.invoke(app, ["admin", "token", "personne", *d])
    assert r.exit_code == 1 and "citizenwatt admin staff" in r.output
    r = run.invoke(app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01",
                         "--since", "2026-11-01", *d])
    assert r.exit_code == 0, r.output
    link = re.search(r"/h/\S+", r.output).group(0)
    r = run.invoke(app, ["admin", "household", "Nulle part", "Foyer 2", *d])
    assert r.exit_code == 1 and "introuvable" in r.output
    # the same sentence from every command that names a deployment, nothing made
    unknown = "Déploiement « Nulle part » introuvable : créez-le avec `citizenwatt admin deployment`."
    for args in (["household", "Nulle part", "Foyer 2"],
                 ["staff", "bruno", "--role", "leader", "--deployment", "Nulle part"],
                 ["summaries", "--deployment", "Nulle part", "--month", "2026-10", "--out",
                  str(tmp_path / "bilans.pdf")]):
        r = run.invoke(app, ["admin", *args, *d], env={"CITIZENWATT_STAFF_PASSWORD": "un long mot de passe"})
        assert (r.exit_code, " ".join(r.output.split())) == (1, unknown), args
    assert not (tmp_path / "bilans.pdf").exists()
    assert run.invoke(app, ["admin", "token", "bruno", *d]).exit_code == 1  # no account made
    store = SqliteStore(tmp_path / "readings.sqlite")
    client = TestClient(create_app(store, Settings(data_dir=tmp_path), clock=lambda: NOW))
    assert client.get(link).status_code == 200
    r = client.post("/staff/login", data={"username": "anne", "password": "un long mot de passe"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/m/demo-01").status_code == 200  # signed-in staff
    me = TestClient(client.app).get("/api/v1/staff/me", headers={"Authorization": f"Bearer {api_token}"})
    assert me.json()["username"] == "anne" and me.json()["role"] == "leader"
    # With a household in the database, meter pages are no longer open to anyone.
    anonymous = TestClient(client.app)
    assert anonymous.get("/m/demo-01").status_code == 401
    store.close()
