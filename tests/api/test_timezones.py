"""Time zone names: unknown ones, and names ZoneInfo opens that are no place (the server's
own 'localtime', tzdata's 'Factory'), are refused wherever a deployment gets its zone."""

from __future__ import annotations


def test_time_zones_that_are_no_place_are_refused(world, wclient):
    admin = world.bearer(world.staff_tokens["admin"])
    for name in ("localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Paris"):
        r = wclient.post("/api/v1/deployments", json={"name": f"D {name}", "timezone": name},
                         headers=admin)
        assert r.status_code == 422, (name, r.status_code)
        assert r.json()["code"] == "timezone" and "Europe/Paris" in r.json()["detail"]
    for name in ("Europe/Paris", "America/Montreal", "UTC", "Indian/Reunion"):
        r = wclient.post("/api/v1/deployments", json={"name": f"D {name}", "timezone": name},
                         headers=admin)
        assert r.status_code == 201, (name, r.text)


def test_admin_deployment_command_refuses_an_unknown_time_zone(tmp_path):
    from typer.testing import CliRunner

    from citizenwatt.cli import app

    run = CliRunner()
    for name in ("Mars/Olympus", "localtime"):
        r = run.invoke(app, ["admin", "deployment", "Atelier", "--timezone", name,
                             "--data-dir", str(tmp_path)])
        assert r.exit_code == 1, r.output
        assert "Europe/Paris" in r.output
    r = run.invoke(app, ["admin", "deployment", "Atelier", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
