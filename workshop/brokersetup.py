"""`citizenwatt admin broker-setup`: the collector's own, generated Mosquitto account (once
per server), written where Mosquitto and the collector's service read it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citizenwatt.i18n import N_, _
from citizenwatt.workshop import mqttauth

PASSWD = Path("/etc/mosquitto/citizenwatt/passwd")
ACL = Path("/etc/mosquitto/citizenwatt/acl")
ENV = Path("/etc/citizenwatt/collector.env")
API_ENV = Path("/etc/citizenwatt/citizenwatt.env")


def broker_setup(
    passwd: Annotated[Path, typer.Option(help=N_("Mosquitto's password file."))] = PASSWD,
    acl: Annotated[Path, typer.Option(help=N_("Mosquitto's ACL file."))] = ACL,
    env: Annotated[Path, typer.Option(help=N_("The collector's environment file (mode 0600)."))] = ENV,
    api_env: Annotated[Path, typer.Option(help=N_(
        "The API's environment file, for its own account (meter commands: firmware updates)."))] = API_ENV,
    reload: Annotated[str | None, typer.Option(help=N_(
        "Command that makes Mosquitto reread its files, e.g. \"systemctl reload mosquitto\"."))] = None,
) -> None:
    user, created = mqttauth.setup_collector(passwd, acl, env)
    if created:
        typer.echo(_("Collector account {user} created: its password is in {env} only (mode "
                     "0600), its client id is its user name.", user=user, env=env))
    else:
        typer.echo(_("The collector account {user} named in {env} is already set up: nothing "
                     "changed.", user=user, env=env))
    api_user, api_created = mqttauth.setup_api(passwd, acl, api_env)
    if api_created:
        typer.echo(_("API account {user} created (it alone sends commands to the meters): its "
                     "password is in {env}.", user=api_user, env=api_env))
        created = True
    if reload:
        mqttauth.reload(reload)
    elif created:
        typer.echo(_("Now reload Mosquitto (sudo systemctl reload mosquitto), then restart the "
                     "collector (sudo systemctl restart citizenwatt-collector)."))


HELP = N_("Create the collector's Mosquitto account (generated user name and password, read "
          "access to cw/#) and write its settings to the collector's environment file.")
