"""The workshop's commands in the `citizenwatt` CLI: ports, flash, provision, calibrate,
check, workshop. Messages in French by default (--lang en or CITIZENWATT_LANG=en)."""

from __future__ import annotations

import csv
import functools
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from citizenwatt.workshop.errors import WorkshopError
from citizenwatt.workshop.i18n import set_lang, t

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Lang = Annotated[Optional[str], typer.Option("--lang", help="fr (défaut) ou en.")]
Port = Annotated[Optional[str], typer.Argument(help="Port série (ex. /dev/ttyUSB0, COM3). "
                                                    "Par défaut : la seule carte branchée.")]
CacheDir = Annotated[Optional[Path], typer.Option("--cache", help="Dossier du cache hors ligne "
                                                  "(défaut : ~/.cache/citizenwatt).")]


def friendly(func):
    """Run a command; every failure becomes a sentence on stderr and exit code 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        set_lang(kwargs.get("lang"))
        try:
            return func(*args, **kwargs)
        except WorkshopError as e:
            err_console.print("[bold red]✗[/] " + str(e), soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("Interrompu. / Interrupted.")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - never a traceback for a trainee
            if os.environ.get("CITIZENWATT_DEBUG"):
                raise
            err_console.print("[bold red]✗[/] " + t("error.unexpected",
                                                  detail="%s: %s" % (type(e).__name__, e)),
                              soft_wrap=True)
            raise typer.Exit(1) from None
    return wrapper


def _cache(cache: Path | None) -> Path:
    from citizenwatt.workshop.mipcache import default_cache_dir
    return cache or default_cache_dir()


def _one_port(port: str | None) -> str:
    if port:
        return port
    from citizenwatt.workshop.ports import list_boards
    boards = list_boards()
    if len(boards) == 1:
        return boards[0].device
    if not boards:
        raise WorkshopError("ports.none")
    raise WorkshopError("config.invalid", detail="%d cartes branchées : donnez le port / "
                        "%d boards plugged in: give the port (%s)" % (
                            len(boards), len(boards), ", ".join(b.device for b in boards)))


class _Bars:
    """A rich progress display fed by the pipeline's (step, done, total) callback."""

    def __init__(self):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TaskProgressColumn(), TimeElapsedColumn(), console=console,
                                 transient=False)
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def __call__(self, step: str, done: float, total: float) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step, total=total or None)
        self.progress.update(self.tasks[step], completed=done, total=total or None)


# --------------------------------------------------------------------------------------

def ports(lang: Lang = None,
          all_ports: Annotated[bool, typer.Option("--all", help="Montrer aussi les ports "
                                                  "inconnus.")] = False) -> None:
    """Liste les cartes ESP32 branchées (CP210x, CH340, FTDI, USB natif)."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop.ports import list_boards
        boards = list_boards(include_unknown=all_ports)
        if not boards:
            raise WorkshopError("ports.none")
        table = Table(title=t("ports.title"))
        for col in ("ports.col.port", "ports.col.chip", "ports.col.vidpid", "ports.col.desc"):
            table.add_column(t(col))
        for b in boards:
            table.add_row(b.device, b.chip or t("ports.unknown"), b.vid_pid, b.description)
        console.print(table)
        for b in boards:
            # Listed is not usable: without the dialout group every command would fail.
            if os.path.exists(b.device) and not os.access(b.device, os.R_OK | os.W_OK):
                err_console.print("[bold yellow]![/] " + t("ports.no_access", port=b.device),
                                  soft_wrap=True)
    run(lang=lang)


def flash(port: Port = None,
          bundle: Annotated[Optional[Path], typer.Option(
              help="Dossier du micrologiciel (.py/.mpy) à installer (sinon : compilé depuis "
                   "cette installation avec mpy-cross, dans le cache).")] = None,
          micropython_image: Annotated[Optional[Path], typer.Option(
              "--micropython", help="Image MicroPython .bin (sinon : le cache).")] = None,
          write_micropython: Annotated[str, typer.Option(
              help="auto : seulement si la carte ne répond pas en MicroPython ; always ; "
                   "never.")] = "auto",
          erase: Annotated[bool, typer.Option(help="Effacer la flash avant d'écrire "
                                              "MicroPython.")] = True,
          cache: CacheDir = None,
          fill_cache: Annotated[bool, typer.Option(
              "--fill-cache", help="Remplir le cache hors ligne depuis l'index (Internet).")] = False,
          index: Annotated[str, typer.Option(help="Index des paquets MicroPython.")] =
          "https://micropython.org/pi/v2",
          lang: Lang = None) -> None:
    """Écrit MicroPython, installe le micrologiciel du compteur et ses bibliothèques, vérifie."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import mipcache, pipeline
        cache_dir = _cache(cache)
        if fill_cache:
            files = mipcache.fill_cache(cache_dir, index_url=index)
            console.print("Cache : %d fichiers → %s" % (len(files), cache_dir))
            if port is None:
                return
        if write_micropython not in ("auto", "always", "never"):
            raise WorkshopError("config.invalid", detail="--write-micropython auto|always|never")
        p = _one_port(port)
        with _Bars() as bars:
            result = pipeline.flash(p, bundle=bundle, cache_dir=cache_dir,
                                    image=micropython_image, micropython=write_micropython,
                                    erase=erase, progress=bars)
        console.print("[green]✓[/] " + t("flash.done", port=p,
                                          files=result.files + len(result.libraries)))
    run(lang=lang)


def _plan_from(profile: Path | None, **opts):
    """Options override the profile (a TOML file with the same names, underscores)."""
    from citizenwatt.config import DEFAULT_TIMEZONE, workshop_settings
    from citizenwatt.workshop.pipeline import ProvisionPlan
    from citizenwatt.workshop.registration import Household
    data: dict = {}
    if profile is not None:
        try:
            text = profile.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise WorkshopError("profile.unreadable", path=profile, detail=detail) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise WorkshopError("profile.bad_toml", path=profile, detail=e) from None
    for k, v in opts.items():
        if v is not None and v != [] and v is not False:
            data[k] = v
    for k in ("wifi_ssid", "mqtt_host"):
        if not data.get(k):
            raise WorkshopError("config.required", option="--" + k.replace("_", "-"), name=k)
    labels = data.get("channel_label") or data.get("channel_labels") or ["Maison entière"]
    roles = _channel_roles(data.get("channel_role") or data.get("channel_roles") or [], labels)
    household = None
    if data.get("household_ref"):
        household = Household(data["household_ref"], data.get("household_name") or
                               data["household_ref"], data.get("timezone") or DEFAULT_TIMEZONE)
    return ProvisionPlan(
        wifi_ssid=data["wifi_ssid"], wifi_password=data.get("wifi_password", ""),
        mqtt_host=data["mqtt_host"], mqtt_port=int(data.get("mqtt_port", 1883)),
        api_url=data.get("api"), api_token=data.get("token") or workshop_settings().api_token,
        household=household,
        channel_labels=dict(enumerate(labels)), channel_roles=roles,
        passwd_file=Path(data["mosquitto_passwd"]) if data.get("mosquitto_passwd") else None,
        acl_file=Path(data["mosquitto_acl"]) if data.get("mosquitto_acl") else None,
        meter_id=data.get("meter_id"), clamp=data.get("clamp", "SCT-013-000"),
        max_current_a=float(data.get("max_current_a", 100.0)),
        mains_hz=int(data.get("mains_hz", 50)), nominal_v=float(data.get("nominal_v", 230.0)),
        voltage_adapter_v=data.get("voltage_adapter_v"), interval_s=data.get("interval_s"),
        hass=bool(data.get("hass", False)), mosquitto_reload=data.get("mosquitto_reload"),
        public_url=data.get("public_url"))


def _channel_roles(roles, labels) -> dict[int, str]:
    """channel_role = ["main", "sub"]: one per channel, in the order of the labels."""
    from citizenwatt.workshop.registration import CHANNEL_ROLES
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or any(r not in CHANNEL_ROLES for r in roles):
        raise WorkshopError("config.invalid", detail=(
            "channel_role %r : « main » (la pince compte pour le total du foyer) ou « sub » "
            "(un circuit déjà compté par une pince main, ex. le chauffe-eau sous la pince de "
            "la maison entière) / main or sub" % (roles,)))
    if len(roles) > len(labels):
        raise WorkshopError("config.invalid", detail=(
            "channel_role : %d rôles pour %d voies ; donnez un channel_label par voie / "
            "%d roles for %d channels: give one channel_label per channel"
            % (len(roles), len(labels), len(roles), len(labels))))
    return dict(enumerate(roles))


ProfileOpt = Annotated[Optional[Path], typer.Option(help="Fichier TOML avec les réglages de "
                                                    "l'atelier (mêmes noms que les options).")]
WifiSsid = Annotated[Optional[str], typer.Option(help="Nom du Wi-Fi du foyer.")]
WifiPassword = Annotated[Optional[str], typer.Option(help="Mot de passe du Wi-Fi.")]
MqttHost = Annotated[Optional[str], typer.Option(help="Adresse du serveur MQTT.")]
MqttPort = Annotated[Optional[int], typer.Option(help="Port du serveur MQTT (1883).")]
Api = Annotated[Optional[str], typer.Option(help="Adresse de l'API (ex. http://serveur:8000).")]
PublicUrl = Annotated[Optional[str], typer.Option(
    help="Adresse des pages des foyers, pour leurs liens (ex. https://watt.exemple.org ; "
         "défaut : --api).")]
Token = Annotated[Optional[str], typer.Option(
    help="Jeton d'API d'un compte leader ou admin : `citizenwatt admin token NOM` sur la "
         "machine de l'API (ou CITIZENWATT_API_TOKEN).")]
Passwd = Annotated[Optional[Path], typer.Option("--mosquitto-passwd",
                                                help="Fichier de mots de passe Mosquitto.")]
Acl = Annotated[Optional[Path], typer.Option("--mosquitto-acl", help="Fichier d'ACL Mosquitto.")]
Reload = Annotated[Optional[str], typer.Option(
    "--mosquitto-reload", help="Commande qui recharge Mosquitto après l'ajout d'un compteur "
                               "(ex. \"systemctl reload mosquitto\").")]
Labels = Annotated[Optional[list[str]], typer.Option(
    "--channel-label", help="Nom d'une voie (répéter : une par pince).")]
Roles = Annotated[Optional[list[str]], typer.Option(
    "--channel-role", help="Rôle de chaque voie, dans l'ordre des --channel-label : main (compte "
                           "dans le total du foyer ; la voie 0 par défaut) ou sub (déjà comptée "
                           "par une pince main, ex. le chauffe-eau sous la maison entière).")]


def provision(port: Port = None, profile: ProfileOpt = None, wifi_ssid: WifiSsid = None,
              wifi_password: WifiPassword = None, mqtt_host: MqttHost = None,
              mqtt_port: MqttPort = None, api: Api = None, token: Token = None,
              public_url: PublicUrl = None,
              household_ref: Annotated[Optional[str], typer.Option(help="Référence du foyer "
                                                                   "(ex. HH-12).")] = None,
              household_name: Annotated[Optional[str], typer.Option(help="Nom du foyer.")] = None,
              timezone: Annotated[Optional[str], typer.Option(help="Fuseau horaire.")] = None,
              channel_label: Labels = None, channel_role: Roles = None,
              meter_id: Annotated[Optional[str], typer.Option(help="Identifiant (défaut : "
                                                              "cw-<fin de l'adresse MAC>).")] = None,
              clamp: Annotated[Optional[str], typer.Option(help="Modèle de pince.")] = None,
              max_current_a: Annotated[Optional[float], typer.Option(
                  help="Courant maximal (A) : fixe la résistance de charge.")] = None,
              mains_hz: Annotated[Optional[int], typer.Option(help="50 ou 60 Hz.")] = None,
              voltage_adapter_v: Annotated[Optional[float], typer.Option(
                  help="Tension de l'adaptateur AC-AC (V), s'il est monté.")] = None,
              interval_s: Annotated[Optional[float], typer.Option(help="Une mesure toutes "
                                                                   "les N s.")] = None,
              mosquitto_passwd: Passwd = None, mosquitto_acl: Acl = None,
              mosquitto_reload: Reload = None, lang: Lang = None) -> None:
    """Écrit la configuration du compteur, l'enregistre dans l'API, crée ses accès MQTT."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import pipeline
        from citizenwatt.workshop.board import Board
        from citizenwatt.workshop.registration import reissue_command
        plan = _plan_from(profile, wifi_ssid=wifi_ssid, wifi_password=wifi_password,
                          mqtt_host=mqtt_host, mqtt_port=mqtt_port, api=api, token=token,
                          public_url=public_url, household_ref=household_ref,
                          household_name=household_name, timezone=timezone,
                          channel_label=channel_label, channel_role=channel_role,
                          meter_id=meter_id,
                          clamp=clamp, max_current_a=max_current_a, mains_hz=mains_hz,
                          voltage_adapter_v=voltage_adapter_v, interval_s=interval_s,
                          mosquitto_passwd=mosquitto_passwd, mosquitto_acl=mosquitto_acl,
                          mosquitto_reload=mosquitto_reload)
        with Board(_one_port(port)) as board, _Bars() as bars:
            result = pipeline.provision(board, plan, progress=bars)
        reg = result.registration
        if reg is None:
            done = t("provision.done_local", meter_id=result.meter_id)
        elif reg.household_link:
            done = t("provision.done", meter_id=result.meter_id, household_ref=reg.household_ref,
                     link=plan.household_link(reg))
        else:  # the household existed: its link was shown once, when it was created
            done = t("provision.done_known", meter_id=result.meter_id,
                     household_ref=reg.household_ref, household_id=reg.household_id,
                     command=reissue_command(plan.api_url, reg.household_id))
        console.print("[green]✓[/] " + done, soft_wrap=True)
        if plan.passwd_file:
            console.print(t("provision.mqtt_done", passwd=plan.passwd_file, acl=plan.acl_file))
    run(lang=lang)


def calibrate(port: Port = None,
              channel: Annotated[int, typer.Option(help="Voie à étalonner.")] = 0,
              reference_w: Annotated[float, typer.Option(
                  help="Puissance connue (W) : plaque de la bouilloire, ou puissance lue sur "
                       "le compteur du foyer.")] = 2000.0,
              windows: Annotated[int, typer.Option(help="Mesures moyennées.")] = 5,
              yes: Annotated[bool, typer.Option("--yes", help="Ne pas attendre Entrée.")] = False,
              lang: Lang = None) -> None:
    """Étalonne une voie contre une charge connue (bouilloire de 2 kW ou compteur du foyer)."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import pipeline
        from citizenwatt.workshop.board import Board
        if not reference_w or reference_w <= 0:
            raise WorkshopError("cal.bad_reference", value=reference_w)
        p = _one_port(port)
        with Board(p) as board:
            # The board answers before anyone is asked to switch the kettle on.
            if not yes:
                console.print(t("cal.prompt_on", channel=channel))
                try:
                    input()
                except EOFError:
                    raise WorkshopError("cal.no_input") from None
            with _Bars() as bars:
                r = pipeline.calibrate(board, channel, reference_w, windows=windows,
                                       progress=bars)
        table = Table(title=t("cal.title"))
        for col in ("cal.col.channel", "cal.col.reference", "cal.col.before", "cal.col.after",
                    "cal.col.trim"):
            table.add_column(t(col), justify="right")
        table.add_row(str(r.channel), "%.0f" % r.reference_w, "%.0f" % r.before_w,
                      "%.0f" % r.after_w, "%.3f → %.3f" % (r.old_trim, r.trim))
        console.print(table)
        console.print("[green]✓[/] " + t("cal.saved"))
    run(lang=lang)


def check(port: Port = None,
          network: Annotated[bool, typer.Option(help="Tester aussi le Wi-Fi et le serveur "
                                                "MQTT.")] = True,
          lang: Lang = None) -> None:
    """Auto-test : ADC, polarisation, bruit, sens des pinces, Wi-Fi, serveur MQTT."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import check as wcheck
        from citizenwatt.workshop.board import Board
        with Board(_one_port(port)) as board:
            results = wcheck.run_checks(board, network=network)
        table = Table(title=t("check.title"))
        for col in ("check.col.test", "check.col.result", "check.col.value", "check.col.advice"):
            table.add_column(t(col))
        style = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        for r in results:
            table.add_row(r.name, "[%s]%s[/]" % (style[r.status], t("check." + r.status)),
                          r.value, ("→ " + r.section) if r.section else r.advice)
        console.print(table)
        # The advice in full below the table: a narrow terminal would chop it into a cell.
        for r in results:
            if r.status in ("fail", "warn") and r.advice:
                console.print("[bold]%s[/] : %s" % (r.name, r.advice), soft_wrap=True)
        bad = wcheck.failures(results)
        if bad:
            err_console.print("[bold red]✗[/] " + t("check.summary_fail", count=len(bad)))
            raise typer.Exit(1)
        console.print("[green]✓[/] " + t("check.summary_ok"))
    run(lang=lang)


def _households(path: Path | None):
    from citizenwatt.config import DEFAULT_TIMEZONE
    from citizenwatt.workshop.registration import Household
    if path is None:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [Household(r["household_ref"], r.get("household_name") or r["household_ref"],
                              r.get("timezone") or DEFAULT_TIMEZONE) for r in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError) as e:
        detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise WorkshopError("households.unreadable", path=path, detail=detail) from None
    except KeyError as e:
        raise WorkshopError("households.columns", path=path, column=e.args[0]) from None


def workshop(profile: ProfileOpt = None,
             port: Annotated[Optional[list[str]], typer.Option(
                 "--port", help="Ports à traiter (répéter). Sans : surveille les ports USB "
                                "et traite chaque carte branchée.")] = None,
             count: Annotated[Optional[int], typer.Option(help="S'arrêter après N cartes "
                                                          "prêtes.")] = None,
             households: Annotated[Optional[Path], typer.Option(
                 help="CSV des foyers (household_ref, household_name, timezone), un par "
                      "carte dans l'ordre.")] = None,
             bundle: Annotated[Optional[Path], typer.Option(
                 help="Dossier du micrologiciel (sinon : compilé depuis cette installation avec "
                      "mpy-cross, dans le cache).")] = None,
             micropython_image: Annotated[Optional[Path], typer.Option("--micropython")] = None,
             write_micropython: str = "auto", cache: CacheDir = None,
             wifi_ssid: WifiSsid = None, wifi_password: WifiPassword = None,
             mqtt_host: MqttHost = None, mqtt_port: MqttPort = None, api: Api = None,
             token: Token = None, public_url: PublicUrl = None, channel_role: Roles = None,
             links_csv: Annotated[Optional[Path], typer.Option(
                 help="Fichier CSV des liens des foyers (secret, lisible par vous seul) ; "
                      "défaut : liens-foyers-AAAAMMJJ-HHMMSS.csv dans le dossier courant.")] = None,
             channel_label: Labels = None,
             interval_s: Annotated[Optional[float], typer.Option()] = None,
             mosquitto_passwd: Passwd = None, mosquitto_acl: Acl = None,
             mosquitto_reload: Reload = None,
             run_check: Annotated[bool, typer.Option("--check/--no-check")] = True,
             lang: Lang = None) -> None:
    """Atelier : écrit, configure et teste les cartes l'une après l'autre, à mesure qu'elles
    sont branchées ; tableau récapitulatif à la fin."""
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import batch
        from citizenwatt.workshop.ports import list_boards
        plan = batch.WorkshopPlan(
            bundle=bundle, cache_dir=_cache(cache), image=micropython_image,
            micropython=write_micropython, run_check=run_check, households=_households(households),
            provision=_plan_from(profile, wifi_ssid=wifi_ssid, wifi_password=wifi_password,
                                 mqtt_host=mqtt_host, mqtt_port=mqtt_port, api=api, token=token,
                                 public_url=public_url, channel_label=channel_label,
                                 channel_role=channel_role,
                                 interval_s=interval_s,
                                 mosquitto_passwd=mosquitto_passwd,
                                 mosquitto_acl=mosquitto_acl,
                                 mosquitto_reload=mosquitto_reload))
        for p in port or []:
            if not os.path.exists(p):
                raise WorkshopError("board.not_found", section="usb-serial", port=p)
        if port:
            def source():
                return [p for p in port if os.path.exists(p)]
        else:
            def source():
                return [b.device for b in list_boards()]
        links = batch.LinkSheet(links_csv or Path.cwd() / time.strftime(
            "liens-foyers-%Y%m%d-%H%M%S.csv"))
        rows = batch.run(plan, source, count=count, watch=not port, console=console,
                         links=links)
        if links.error:
            err_console.print("[bold red]✗[/] " + links.error, soft_wrap=True)
        console.print(batch.summary(rows))
        if links.written:
            console.print(t("workshop.links_written", path=links.path.resolve(),
                            count=links.written), soft_wrap=True)
        known = [r for r in batch.final_rows(rows) if r.state == batch.READY
                 and r.household_id is not None and not r.household_link]
        if known:
            from citizenwatt.workshop.registration import reissue_command
            console.print(t("workshop.links_known", command=reissue_command(
                plan.provision.api_url, "N")), soft_wrap=True)
        if any(r.state != batch.READY for r in batch.final_rows(rows)):
            err_console.print(t("workshop.redo"))
            raise typer.Exit(1)
    run(lang=lang)


def register(app: typer.Typer) -> None:
    for f in (ports, flash, provision, calibrate, check, workshop):
        app.command()(f)


if __name__ == "__main__":  # pragma: no cover
    app = typer.Typer()
    register(app)
    app(sys.argv[1:])
