"""The workshop's commands in the `citizenwatt` CLI: ports, flash, provision, calibrate,
check, workshop. Messages in French by default (--lang en or CITIZENWATT_LANG=en)."""

from __future__ import annotations

import csv
import functools
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from citizenwatt.errors import CitizenWattError
from citizenwatt.i18n import N_, _, ngettext, set_lang
from citizenwatt.workshop.diagnose import GUIDE_PAGE
from citizenwatt.workshop.errors import WorkshopError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Lang = Annotated[str | None, typer.Option("--lang", help=N_("fr (default) or en."))]
Port = Annotated[str | None, typer.Argument(help=N_("Serial port (e.g. /dev/ttyUSB0, COM3). By default: "
                                                       "the only board plugged in."))]
CacheDir = Annotated[Path | None, typer.Option("--cache", help=N_("Offline cache folder (default: "
                                                                     "~/.cache/citizenwatt)."))]


CHECK_STATUS = {"ok": N_("OK"), "warn": N_("WARNING"),
                "fail": N_("FAIL"), "skip": N_("skipped")}


def friendly(func):
    """Run a command; every failure becomes a sentence on stderr and exit code 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if kwargs.get("lang"):
            set_lang(kwargs["lang"])
        try:
            return func(*args, **kwargs)
        except CitizenWattError as e:  # the workshop's own, or one from a part it uses
            err_console.print("[bold red]✗[/] " + str(e), soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print(_("Interrupted."))
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - never a traceback for a trainee
            if os.environ.get("CITIZENWATT_DEBUG"):
                raise
            err_console.print("[bold red]✗[/] " + _("Unexpected error ({detail}). Unplug and replug the "
                                                    "board, try again; if it happens again, report it with "
                                                    "the command you ran and this message.",
                                                  detail=f"{type(e).__name__}: {e}"),
                              soft_wrap=True)
            raise typer.Exit(1) from None
    return wrapper


def ask_person(question: str, yes_no: bool = False) -> bool | None:
    """Ask the person at the bench: yes or no (o/n in French), or an action then Enter.
    None when nobody can answer (no keyboard, end of input)."""
    console.print("[bold]?[/] " + question, soft_wrap=True)
    while True:
        try:
            answer = input(_("[y/n] ") if yes_no else _("(Enter) "))
        except EOFError:
            return None
        if not yes_no:
            return True
        word = answer.strip().lower()
        if word[:1] in (_("y"), "y", "o"):
            return True
        if word[:1] == "n":
            return False
        console.print(_("Answer y (yes) or n (no)."))


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
        raise WorkshopError("ports.none", N_("No board found. Check: 1) the USB cable carries data (some "
                                             "cables only charge: try another one); 2) the USB-serial "
                                             "driver is installed (CP210x or CH340 on Windows/macOS); 3) on "
                                             "Linux, your account is in the dialout group (`sudo usermod "
                                             "-aG dialout $USER`, then log in again)."))
    raise WorkshopError("config.invalid", N_("Invalid meter configuration: {detail}. Fix this value then "
                                             "try again."), detail=ngettext(
        "{n} board plugged in: give the port ({ports})",
        "{n} boards plugged in: give the port ({ports})", len(boards),
        ports=", ".join(b.device for b in boards)))


def _asking(bars: _Bars):
    """ask_person, with the progress bars stopped while the question waits for an answer."""
    def ask(question: str, yes_no: bool = False) -> bool | None:
        bars.progress.stop()
        try:
            return ask_person(question, yes_no)
        finally:
            bars.progress.start()
    return ask


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

def ports(
    lang: Lang = None,
    all_ports: Annotated[bool, typer.Option("--all", help=N_("Also list the unknown ports."))] = False,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop.ports import list_boards

        boards = list_boards(include_unknown=all_ports)
        if not boards:
            raise WorkshopError(
                "ports.none",
                N_(
                    "No board found. Check: 1) the USB cable carries data "
                    "(some cables only charge: try another one); 2) the "
                    "USB-serial driver is installed (CP210x or CH340 on "
                    "Windows/macOS); 3) on Linux, your account is in the "
                    "dialout group (`sudo usermod -aG dialout $USER`, then log "
                    "in again)."
                ),
            )
        table = Table(title=_("Connected boards"))
        for col in (N_("Port"), N_("USB chip"), N_("VID:PID"), N_("Description")):
            table.add_column(_(col))
        for b in boards:
            table.add_row(b.device, b.chip or _("unknown (not an ESP32 board?)"), b.vid_pid, b.description)
        console.print(table)
        for b in boards:
            # Listed is not usable: without the dialout group every command would fail.
            if os.path.exists(b.device) and not os.access(b.device, os.R_OK | os.W_OK):
                err_console.print(
                    "[bold yellow]![/] "
                    + _(
                        "You may not open {port}. On Linux, add your "
                        "account to the dialout group (`sudo usermod -aG "
                        "dialout $USER`) then log in again.",
                        port=b.device,
                    ),
                    soft_wrap=True,
                )

    run(lang=lang)


def flash(
    port: Port = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help=N_(
                "Firmware folder (.py/.mpy) to install (otherwise: compiled from this installation "
                "with mpy-cross, in the cache)."
            )
        ),
    ] = None,
    micropython_image: Annotated[
        Path | None, typer.Option("--micropython", help=N_("MicroPython .bin image (otherwise: the cache)."))
    ] = None,
    write_micropython: Annotated[
        str, typer.Option(help=N_("auto: only when the board does not answer as MicroPython; always; never."))
    ] = "auto",
    erase: Annotated[bool, typer.Option(help=N_("Erase the flash before writing MicroPython."))] = True,
    cache: CacheDir = None,
    fill_cache: Annotated[
        bool, typer.Option("--fill-cache", help=N_("Fill the offline cache from the index (Internet)."))
    ] = False,
    index: Annotated[
        str, typer.Option(help=N_("Index of the MicroPython packages."))
    ] = "https://micropython.org/pi/v2",
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import mipcache, pipeline

        cache_dir = _cache(cache)
        if fill_cache:
            files = mipcache.fill_cache(cache_dir, index_url=index)
            console.print(
                ngettext("Cache: {n} file → {path}", "Cache: {n} files → {path}", len(files), path=cache_dir)
            )
            if port is None:
                return
        if write_micropython not in ("auto", "always", "never"):
            raise WorkshopError(
                "config.invalid",
                N_("Invalid meter configuration: {detail}. Fix this value then try again."),
                detail="--write-micropython auto|always|never",
            )
        p = _one_port(port)
        with _Bars() as bars:
            result = pipeline.flash(
                p,
                bundle=bundle,
                cache_dir=cache_dir,
                image=micropython_image,
                micropython=write_micropython,
                erase=erase,
                progress=bars,
            )
        console.print(
            "[green]✓[/] "
            + _(
                "Board {port} ready: {files} files installed and verified.",
                port=p,
                files=result.files + len(result.libraries),
            )
        )

    run(lang=lang)


def _plan_from(profile: Path | None, **opts):
    """Options override the profile (a TOML file with the same names, underscores)."""
    from citizenwatt.config import DEFAULT_TIMEZONE, workshop_settings
    from citizenwatt.workshop import config as wconfig
    from citizenwatt.workshop.pipeline import ProvisionPlan
    from citizenwatt.workshop.registration import Household

    data: dict = {}
    if profile is not None:
        try:
            text = profile.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise WorkshopError(
                "profile.unreadable",
                N_(
                    "Cannot read the profile {path} ({detail}). Check "
                    "the file's path and that you may read it, then "
                    "try again."
                ),
                path=profile,
                detail=detail,
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise WorkshopError(
                "profile.bad_toml",
                N_(
                    "The profile {path} is not valid TOML ({detail}). "
                    "Fix that line (one key = value per line, text in "
                    "quotes), then try again."
                ),
                path=profile,
                detail=e,
            ) from None
    for k, v in opts.items():
        if v is not None and v != []:  # an option given wins over the profile, --no-hass too
            data[k] = v
    for k in ("wifi_ssid", "mqtt_host"):
        if not data.get(k):
            raise WorkshopError(
                "config.required",
                N_(
                    "{option} is missing: give it as an option ({option} "
                    "…) or in the profile (--profile atelier.toml, key "
                    "{name}), then try again."
                ),
                option="--" + k.replace("_", "-"),
                name=k,
            )
    labels = data.get("channel_label") or data.get("channel_labels") or [_("Whole house")]
    roles = _channel_roles(data.get("channel_role") or data.get("channel_roles") or [], labels)
    household = None
    if data.get("household_ref"):
        household = Household(
            data["household_ref"],
            data.get("household_name") or data["household_ref"],
            data.get("timezone") or DEFAULT_TIMEZONE,
        )
    # MQTT over TLS when the profile names the meter's CA file (ca_file): port 8883.
    ca_pem = wconfig.profile_ca(data)
    return ProvisionPlan(
        ca_pem=ca_pem,
        mqtt_server_name=data.get("mqtt_server_name"),
        update_key=wconfig.check_update_key(data.get("update_key")),
        wifi_ssid=data["wifi_ssid"],
        wifi_password=data.get("wifi_password", ""),
        mqtt_host=data["mqtt_host"],
        mqtt_port=int(data.get("mqtt_port", 8883 if ca_pem else 1883)),
        api_url=data.get("api"),
        api_token=data.get("token") or workshop_settings().api_token,
        household=household,
        channel_labels=dict(enumerate(labels)),
        channel_roles=roles,
        passwd_file=Path(data["mosquitto_passwd"]) if data.get("mosquitto_passwd") else None,
        acl_file=Path(data["mosquitto_acl"]) if data.get("mosquitto_acl") else None,
        meter_id=data.get("meter_id"),
        clamp=data.get("clamp", "SCT-013-000"),
        max_current_a=float(data.get("max_current_a", 100.0)),
        mains_hz=int(data.get("mains_hz", 50)),
        nominal_v=float(data.get("nominal_v", 230.0)),
        voltage_adapter_v=data.get("voltage_adapter_v"),
        interval_s=data.get("interval_s"),
        hass=bool(data.get("hass", False)),
        mosquitto_reload=data.get("mosquitto_reload"),
        public_url=data.get("public_url"),
    )


def _channel_roles(roles, labels) -> dict[int, str]:
    """channel_role = ["main", "sub"]: one per channel, in the order of the labels."""
    from citizenwatt.workshop.registration import CHANNEL_ROLES

    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or any(r not in CHANNEL_ROLES for r in roles):
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=_(
                'channel_role {roles}: "main" (the clamp counts in the household\'s total) or '
                '"sub" (a circuit already counted by a main clamp, e.g. the water heater under the '
                "whole house's clamp)",
                roles=repr(roles),
            ),
        )
    if len(roles) > len(labels):
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=_(
                "channel_role: {roles} roles for {channels} channels; give one channel_label per channel",
                roles=len(roles),
                channels=len(labels),
            ),
        )
    return dict(enumerate(roles))


ProfileOpt = Annotated[
    Path | None, typer.Option(help=N_("TOML file with the workshop's settings (same names as the options)."))
]
WifiSsid = Annotated[str | None, typer.Option(help=N_("Name of the household's Wi-Fi."))]
WifiPassword = Annotated[str | None, typer.Option(help=N_("Wi-Fi password."))]
MqttHost = Annotated[str | None, typer.Option(help=N_("Address of the MQTT server."))]
MqttPort = Annotated[int | None, typer.Option(help=N_("Port of the MQTT server (1883)."))]
Api = Annotated[str | None, typer.Option(help=N_("Address of the API (e.g. http://server:8000)."))]
PublicUrl = Annotated[
    str | None,
    typer.Option(
        help=N_(
            "Address of the households' pages, for their links (e.g. https://watt.example.org; default: "
            "--api)."
        )
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        help=N_(
            "API token of a leader or admin account: `citizenwatt admin token NAME` on the API's machine "
            "(or CITIZENWATT_WORKSHOP__API_TOKEN)."
        )
    ),
]
Passwd = Annotated[Path | None, typer.Option("--mosquitto-passwd", help=N_("Mosquitto password file."))]
Hass = Annotated[
    bool | None,
    typer.Option(
        "--hass/--no-hass",
        help=N_(
            "Home Assistant discovery: the meter announces its sensors to Home Assistant over MQTT "
            "(profile: hass = true; off by default)."
        ),
        show_default=False,
    ),
]
Acl = Annotated[Path | None, typer.Option("--mosquitto-acl", help=N_("Mosquitto ACL file."))]
Reload = Annotated[
    str | None,
    typer.Option(
        "--mosquitto-reload",
        help=N_('Command that reloads Mosquitto once a meter is added (e.g. "systemctl reload mosquitto").'),
    ),
]
Labels = Annotated[
    list[str] | None, typer.Option("--channel-label", help=N_("Name of a channel (repeat: one per clamp)."))
]
Roles = Annotated[
    list[str] | None,
    typer.Option(
        "--channel-role",
        help=N_(
            "Role of each channel, in the order of the --channel-label options: main "
            "(counts in the household's total; channel 0 by default) or sub (already "
            "counted by a main clamp, e.g. the water heater under the whole house)."
        ),
    ),
]


def provision(
    port: Port = None,
    profile: ProfileOpt = None,
    wifi_ssid: WifiSsid = None,
    wifi_password: WifiPassword = None,
    mqtt_host: MqttHost = None,
    mqtt_port: MqttPort = None,
    api: Api = None,
    token: Token = None,
    public_url: PublicUrl = None,
    household_ref: Annotated[str | None, typer.Option(help=N_("Household reference (e.g. HH-12)."))] = None,
    household_name: Annotated[str | None, typer.Option(help=N_("Household name."))] = None,
    timezone: Annotated[str | None, typer.Option(help=N_("Time zone."))] = None,
    channel_label: Labels = None,
    channel_role: Roles = None,
    meter_id: Annotated[
        str | None, typer.Option(help=N_("Meter id (default: cw-<end of the MAC address>)."))
    ] = None,
    clamp: Annotated[str | None, typer.Option(help=N_("Clamp model."))] = None,
    max_current_a: Annotated[
        float | None, typer.Option(help=N_("Maximum current (A): sets the burden resistor."))
    ] = None,
    mains_hz: Annotated[int | None, typer.Option(help=N_("50 or 60 Hz."))] = None,
    voltage_adapter_v: Annotated[
        float | None, typer.Option(help=N_("Voltage of the AC-AC adapter (V), if fitted."))
    ] = None,
    interval_s: Annotated[float | None, typer.Option(help=N_("One reading every N s."))] = None,
    hass: Hass = None,
    mosquitto_passwd: Passwd = None,
    mosquitto_acl: Acl = None,
    mosquitto_reload: Reload = None,
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import pipeline
        from citizenwatt.workshop.board import Board
        from citizenwatt.workshop.registration import reissue_command

        plan = _plan_from(
            profile,
            wifi_ssid=wifi_ssid,
            wifi_password=wifi_password,
            mqtt_host=mqtt_host,
            mqtt_port=mqtt_port,
            api=api,
            token=token,
            public_url=public_url,
            household_ref=household_ref,
            household_name=household_name,
            timezone=timezone,
            channel_label=channel_label,
            channel_role=channel_role,
            meter_id=meter_id,
            clamp=clamp,
            max_current_a=max_current_a,
            mains_hz=mains_hz,
            voltage_adapter_v=voltage_adapter_v,
            interval_s=interval_s,
            hass=hass,
            mosquitto_passwd=mosquitto_passwd,
            mosquitto_acl=mosquitto_acl,
            mosquitto_reload=mosquitto_reload,
        )
        registered: list = []
        try:
            with Board(_one_port(port)) as board, _Bars() as bars:
                result = pipeline.provision(board, plan, progress=bars, on_registered=registered.append)
        except CitizenWattError:
            # Registered, then the board failed: the link the API showed once is not lost.
            link = plan.household_link(registered[0]) if registered else None
            if link:
                err_console.print(
                    _("The meter is registered with the API (household {household_ref}), but the board "
                      "was not finished. Household link (secret, hand it to the household): {link} — "
                      "run the same command again to finish the board: it keeps this household.",
                      household_ref=registered[0].household_ref, link=link),
                    soft_wrap=True, markup=False, highlight=False)
            raise
        reg = result.registration
        if reg is None:
            done = _(
                "Meter {meter_id} provisioned, but not registered with the API (no --api option): run "
                "`citizenwatt provision` again with --api and --token so that it shows in its "
                "household.",
                meter_id=result.meter_id,
            )
        elif reg.household_link:
            done = _(
                "Meter {meter_id} provisioned and registered (household {household_ref}). Household "
                "link (secret, hand it to the household): {link}",
                meter_id=result.meter_id,
                household_ref=reg.household_ref,
                link=plan.household_link(reg),
            )
        else:  # the household existed: its link was shown once, when it was created
            done = _(
                "Meter {meter_id} provisioned and registered (household {household_ref}, no. "
                "{household_id}). This household already existed: it already has its secret link, "
                "given when it was created, and that link still works (the API shows a link only "
                "once). If the household lost it, issue a new one (the old one stops working) with the "
                "workshop's token: {command}",
                meter_id=result.meter_id,
                household_ref=reg.household_ref,
                household_id=reg.household_id,
                command=reissue_command(plan.api_url, reg.household_id),
            )
        console.print("[green]✓[/] " + done, soft_wrap=True)
        if plan.passwd_file and result.mosquitto_reloaded:
            console.print(
                _(
                    "MQTT credentials added to {passwd} and {acl}; Mosquitto reloaded ({command}).",
                    passwd=plan.passwd_file,
                    acl=plan.acl_file,
                    command=plan.mosquitto_reload,
                ),
                soft_wrap=True,
            )
        elif plan.passwd_file:
            console.print(
                _(
                    "MQTT credentials added to {passwd} and {acl}. Reload Mosquitto (`sudo "
                    "systemctl reload mosquitto`) to apply them.",
                    passwd=plan.passwd_file,
                    acl=plan.acl_file,
                )
            )

    run(lang=lang)


def calibrate(
    port: Port = None,
    channel: Annotated[int, typer.Option(help=N_("Channel to calibrate."))] = 0,
    reference_w: Annotated[
        float,
        typer.Option(
            help=N_(
                "Known power (W): the kettle's rating plate, or the power read on the household's "
                "utility meter."
            )
        ),
    ] = 2000.0,
    windows: Annotated[int, typer.Option(help=N_("Readings averaged."))] = 5,
    yes: Annotated[bool, typer.Option("--yes", help=N_("Do not wait for Enter."))] = False,
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import pipeline
        from citizenwatt.workshop.board import Board

        if not reference_w or reference_w <= 0:
            raise WorkshopError(
                "cal.bad_reference",
                N_(
                    "The reference power must be positive (got "
                    "{value}). Give the kettle's power in watts (often "
                    "2000)."
                ),
                value=reference_w,
            )
        p = _one_port(port)
        with Board(p) as board:
            # The board answers before anyone is asked to switch the kettle on.
            if not yes:
                console.print(
                    _(
                        "Close the clamp of channel {channel} around the kettle's live wire, switch "
                        "it on, then press Enter.",
                        channel=channel,
                    )
                )
                try:
                    input()
                except EOFError:
                    raise WorkshopError(
                        "cal.no_input",
                        N_(
                            "Nobody could press Enter (no keyboard). Switch "
                            "the load on, then run again with --yes."
                        ),
                    ) from None
            with _Bars() as bars:
                r = pipeline.calibrate(board, channel, reference_w, windows=windows, progress=bars,
                                       ask=None if yes else _asking(bars))
        table = Table(title=_("Calibration"))
        for col in (N_("Channel"), N_("Reference (W)"), N_("Before (W)"), N_("After (W)"), N_("Trim")):
            table.add_column(_(col), justify="right")
        table.add_row(
            str(r.channel),
            f"{r.reference_w:.0f}",
            f"{r.before_w:.0f}",
            f"{r.after_w:.0f}",
            f"{r.old_trim:.3f} → {r.trim:.3f}",
        )
        console.print(table)
        console.print("[green]✓[/] " + _("Trim saved on the board."))

    run(lang=lang)


def check(
    port: Port = None,
    network: Annotated[bool, typer.Option(help=N_("Also test the Wi-Fi and the MQTT server."))] = True,
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import check as wcheck
        from citizenwatt.workshop.board import Board

        with Board(_one_port(port)) as board:
            results = wcheck.run_checks(board, network=network, ask=ask_person)
        table = Table(title=_("Board self-test"))
        for col in (N_("Test"), N_("Result"), N_("Measured"), N_("What to do")):
            table.add_column(_(col))
        style = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        for r in results:
            table.add_row(
                r.name,
                f"[{style[r.status]}]{_(CHECK_STATUS[r.status])}[/]",
                r.value,
                ("→ " + GUIDE_PAGE + "#" + r.section) if r.section else r.advice,
            )
        console.print(table)
        # The advice in full below the table: a narrow terminal would chop it into a cell.
        for r in results:
            if r.status in ("fail", "warn") and r.advice:
                console.print(f"[bold]{r.name}[/] : {r.advice}", soft_wrap=True)
        bad = wcheck.failures(results)
        if bad:
            err_console.print(
                "[bold red]✗[/] "
                + _(
                    'Failed tests: {count}. Follow the "What to do" '
                    "column, then run `citizenwatt check` again.",
                    count=len(bad),
                )
            )
            raise typer.Exit(1)
        console.print("[green]✓[/] " + _("All tests passed."))

    run(lang=lang)


def _households(path: Path | None):
    from citizenwatt.config import DEFAULT_TIMEZONE
    from citizenwatt.workshop.registration import Household

    if path is None:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [
                Household(
                    r["household_ref"],
                    r.get("household_name") or r["household_ref"],
                    r.get("timezone") or DEFAULT_TIMEZONE,
                )
                for r in csv.DictReader(f)
            ]
    except (OSError, UnicodeDecodeError) as e:
        detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise WorkshopError(
            "households.unreadable",
            N_(
                "Cannot read the household list {path} ({detail}). "
                "Check the path given to --households, then try "
                "again."
            ),
            path=path,
            detail=detail,
        ) from None
    except KeyError as e:
        raise WorkshopError(
            "households.columns",
            N_(
                "The household list {path} has no column {column}. Its "
                "first line must be: "
                "household_ref,household_name,timezone"
            ),
            path=path,
            column=e.args[0],
        ) from None


def workshop(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    port: Annotated[
        list[str] | None,
        typer.Option(
            "--port",
            help=N_(
                "Ports to handle (repeat). Without: watch the USB ports and handle each board plugged in."
            ),
        ),
    ] = None,
    count: Annotated[int | None, typer.Option(help=N_("Stop after N boards are ready."))] = None,
    households: Annotated[
        Path | None,
        typer.Option(
            help=N_(
                "CSV of the households (household_ref, household_name, timezone), one per board in order."
            )
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help=N_(
                "Firmware folder (otherwise: compiled from this installation with mpy-cross, in the cache)."
            )
        ),
    ] = None,
    micropython_image: Annotated[
        Path | None, typer.Option("--micropython", help=N_("MicroPython .bin image (otherwise: the cache)."))
    ] = None,
    write_micropython: Annotated[
        str, typer.Option(help=N_("auto: only when the board does not answer as MicroPython; always; never."))
    ] = "auto",
    cache: CacheDir = None,
    wifi_ssid: WifiSsid = None,
    wifi_password: WifiPassword = None,
    mqtt_host: MqttHost = None,
    mqtt_port: MqttPort = None,
    api: Api = None,
    token: Token = None,
    public_url: PublicUrl = None,
    channel_role: Roles = None,
    links_csv: Annotated[
        Path | None,
        typer.Option(
            help=N_(
                "CSV file of the households' links (secret, readable by you only); default: "
                "liens-foyers-YYYYMMDD-HHMMSS.csv in the current folder."
            )
        ),
    ] = None,
    channel_label: Labels = None,
    interval_s: Annotated[float | None, typer.Option(help=N_("One reading every N s."))] = None,
    hass: Hass = None,
    mosquitto_passwd: Passwd = None,
    mosquitto_acl: Acl = None,
    mosquitto_reload: Reload = None,
    run_check: Annotated[
        bool, typer.Option("--check/--no-check", help=N_("Self-test each board once configured."))
    ] = True,
    lang: Lang = None,
) -> None:
    if ctx.invoked_subcommand is not None:  # `citizenwatt workshop links`: not a room run
        return

    @friendly
    def run(lang=None):
        from citizenwatt.workshop import batch
        from citizenwatt.workshop.ports import list_boards

        plan = batch.WorkshopPlan(
            bundle=bundle,
            cache_dir=_cache(cache),
            image=micropython_image,
            micropython=write_micropython,
            run_check=run_check,
            households=_households(households),
            provision=_plan_from(
                profile,
                wifi_ssid=wifi_ssid,
                wifi_password=wifi_password,
                mqtt_host=mqtt_host,
                mqtt_port=mqtt_port,
                api=api,
                token=token,
                public_url=public_url,
                channel_label=channel_label,
                channel_role=channel_role,
                interval_s=interval_s,
                hass=hass,
                mosquitto_passwd=mosquitto_passwd,
                mosquitto_acl=mosquitto_acl,
                mosquitto_reload=mosquitto_reload,
            ),
        )
        for p in port or []:
            if not os.path.exists(p):
                raise WorkshopError(
                    "board.not_found",
                    N_(
                        "No board on {port}. Plug the board in, then "
                        "check the port name with `citizenwatt ports`."
                    ),
                    section="usb-serial",
                    port=p,
                )
        if port:

            def source():
                return [p for p in port if os.path.exists(p)]
        else:

            def source():
                return [b.device for b in list_boards()]

        sheet = links_csv or Path.cwd() / time.strftime("liens-foyers-%Y%m%d-%H%M%S.csv")
        # The room's earlier sheets: a board redone in this run keeps its household and link.
        links = batch.LinkSheet(sheet, earlier=sorted(sheet.parent.glob("liens-foyers-*.csv")))
        rows = batch.run(plan, source, count=count, watch=not port, console=console, links=links)
        if links.error:
            err_console.print("[bold red]✗[/] " + links.error, soft_wrap=True)
        console.print(batch.summary(rows))
        lines = batch.links_lines(rows)
        if lines:  # plain lines: whole in any terminal, to copy or print
            console.print(_("Household links (secret):"))
            for line in lines:
                console.print(line, soft_wrap=True, markup=False, highlight=False)
        if links.written:
            console.print(
                ngettext(
                    "Household links written to {path} ({n} row; readable by you only). They "
                    "are secrets: print them, hand each one to its household, then delete "
                    "the file.",
                    "Household links written to {path} ({n} rows; readable by you only). "
                    "They are secrets: print them, hand each one to its household, then "
                    "delete the file.",
                    links.written,
                    path=links.path.resolve(),
                ),
                soft_wrap=True,
            )
        known = [
            r
            for r in batch.final_rows(rows)
            if r.state == batch.READY and r.household_id is not None and not r.household_link
        ]
        if known:
            console.print(
                _(
                    '"already given": this household existed before this workshop and already has its '
                    "link, which still works. To print it again with its QR sheet: `citizenwatt "
                    "workshop links --household REF` in the folder of the links sheets; if it was lost, "
                    "add --new --api ADDRESS to issue a new one (the old one stops working)."
                ),
                soft_wrap=True,
            )
        if any(r.state != batch.READY for r in batch.final_rows(rows)):
            err_console.print(
                _(
                    'Plug the "to redo" boards back in and run `citizenwatt workshop` again: '
                    "each one starts over from the beginning, with the household and the link "
                    "it already has."
                ),
                soft_wrap=True,
            )
            raise typer.Exit(1)

    run(lang=lang)


def links(
    household: Annotated[
        list[str] | None,
        typer.Option("--household", help=N_("Household reference (repeat); default: every household of "
                                            "the sheets.")),
    ] = None,
    links_csv: Annotated[
        list[Path] | None,
        typer.Option(help=N_("Links sheet(s) to read (repeat); default: the liens-foyers-*.csv of the "
                             "current folder."))
    ] = None,
    new: Annotated[bool, typer.Option("--new", help=N_(
        "Issue a new link through the API (leader or admin token); the older one stops working."))] = False,
    api: Api = None,
    token: Token = None,
    public_url: PublicUrl = None,
    sheets: Annotated[Path | None, typer.Option(help=N_(
        "Folder for the sheets to print (QR code and link), one per household; default: the current "
        "folder."))] = None,
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.config import workshop_settings
        from citizenwatt.workshop import links as wlinks

        files = list(links_csv or sorted(Path.cwd().glob("liens-foyers-*.csv")))
        known = wlinks.from_sheets(files)
        refs = list(household or known)
        if not refs:
            raise WorkshopError("links.none", N_(
                "No links sheet here (liens-foyers-*.csv) and no --household: run the command in the "
                "folder of the workshop's sheets, or give --links-csv FILE, or --household REF with "
                "--new, --api and --token."))
        api_token = token or workshop_settings().api_token
        out_sheet = None
        done = []
        for ref in refs:
            hh = known.get(ref) or wlinks.HouseholdLink(ref, ref, None, "")
            if api and hh.household_id is None:
                hh.household_id = wlinks.find_household_id(api, api_token or "", ref)
            dead = bool(api and hh.link and hh.household_id is not None
                        and not wlinks.still_works(api, hh.household_id, hh.link))
            if new or not hh.link or dead:
                if not api or not api_token:
                    raise WorkshopError("links.need_api", N_(
                        "{ref}: {why} A new link needs the API: give --api and the token of a leader's "
                        "account (--token or CITIZENWATT_WORKSHOP__API_TOKEN), with --new."), ref=ref,
                        why=_("no sheet holds its link.") if not hh.link else _("a new link was asked for."))
                if hh.household_id is None:
                    hh.household_id = wlinks.find_household_id(api, api_token, ref)
                hh.link = wlinks.issue(api, api_token, hh.household_id, public_url)
                hh.new = True
                if out_sheet is None:
                    from citizenwatt.workshop import batch
                    out_sheet = batch.LinkSheet(Path.cwd() / time.strftime("liens-foyers-%Y%m%d-%H%M%S.csv"))
                out_sheet.add(batch.BoardRow("", meter_id=hh.meter_id, household_ref=ref,
                                             household_name=hh.household_name,
                                             household_id=hh.household_id, household_link=hh.link))
            path = wlinks.write_sheet(sheets or Path.cwd(), hh)
            done.append((hh, path))
        for hh, path in done:
            if hh.new:
                note = _("new link, the older one no longer works")
            elif api:
                note = _("checked: it opens the household")
            else:
                note = _("from the sheet")
            console.print(f"{hh.household_ref} ({hh.household_name}) : {hh.link}", soft_wrap=True,
                          markup=False, highlight=False)
            console.print("  " + _("{note}; sheet to print: {path}", note=note, path=path),
                          soft_wrap=True, markup=False, highlight=False)
        if out_sheet is not None and out_sheet.written:
            console.print(_("New links also written to {path} (readable by you only).",
                            path=out_sheet.path.resolve()), soft_wrap=True)

    run(lang=lang)


def rehearse(
    boards: Annotated[int, typer.Option("--boards", help=N_("Number of simulated boards."))] = 3,
    state_dir: Annotated[
        Path, typer.Option(help=N_("Folder of the simulated meters' own flash (counters, queue)."))
    ] = Path("citizenwatt-rehearsal"),
    wifi_ssid: Annotated[str, typer.Option(help=N_("Name of the simulated room's Wi-Fi."))] = "atelier",
    wifi_password: Annotated[str, typer.Option(help=N_("Its password."))] = "motdepasse",
    lang: Lang = None,
) -> None:
    @friendly
    def run(lang=None):
        from citizenwatt.workshop import rehearse as rh

        rehearsal = rh.start(boards, state_dir, wifi_ssid, wifi_password)
        try:
            table = Table(title=_("Simulated boards plugged in"))
            for col in (N_("Board"), N_("Port"), N_("Meter")):
                table.add_column(_(col))
            for i, (b, meter_id) in enumerate(zip(rehearsal.boards, rehearsal.meter_ids, strict=True)):
                table.add_row(str(i + 1), b.port or "", meter_id)
            console.print(table)
            console.print(
                _(
                    "Leave this terminal open: the boards stay plugged in until Ctrl-C (their flash "
                    "is then lost). In another terminal: 1) `citizenwatt ports` lists them, marked "
                    "\"simulated\"; 2) `citizenwatt workshop --wifi-ssid {ssid} --wifi-password {password} "
                    "--mqtt-host 127.0.0.1 ...` flashes, provisions and checks them, offline; 3) once "
                    "a board is reset, its meter publishes from here, and this terminal says so. The "
                    "guide's chapter \"Rehearsing without hardware\" walks you through it.",
                    ssid=wifi_ssid,
                    password=wifi_password,
                ),
                soft_wrap=True,
            )

            def say(event, number, meter_id, broker):
                if event == "firmware":
                    console.print(_("Board {number}: meter {meter_id} started, it publishes to {broker}.",
                                    number=number, meter_id=meter_id, broker=broker), soft_wrap=True)
                else:
                    console.print("[green]✓[/] " + _(
                        "Board {number}: meter {meter_id} published its first reading. Open its "
                        "household's link (in the workshop's summary) to see it.",
                        number=number, meter_id=meter_id), soft_wrap=True)

            rh.watch(rehearsal, say)
        except KeyboardInterrupt:
            console.print(_("Simulated boards unplugged. Run `citizenwatt rehearse` again for a new "
                            "rehearsal (blank boards)."))
        finally:
            rehearsal.close()

    run(lang=lang)


# each command's help, said in the reader's language when the CLI runs
HELP: dict[Callable[..., Any], str] = {
    ports: N_("List the ESP32 boards plugged in (CP210x, CH340, FTDI, native USB)."),
    flash: N_("Write MicroPython, install the meter's firmware and its libraries, check."),
    provision: N_("Write the meter's configuration, register it with the API, create its MQTT access."),
    calibrate: N_(
        "Calibrate a channel against a known load (a 2 kW kettle or the household's utility meter)."
    ),
    check: N_("Self-test: ADC, bias, noise, clamp direction, Wi-Fi, MQTT server."),
    rehearse: N_(
        "Rehearse a workshop without hardware: simulated boards that every command sees, until Ctrl-C."
    ),
}
WORKSHOP_HELP = N_(
    "Workshop: write, configure and test the boards one after another, as they are "
    "plugged in; a summary table at the end."
)
LINKS_HELP = N_(
    "A household's link again, whole, and its sheet to print with the QR code: from the room's "
    "links sheets, checked against the API; --new issues a new one (leader or admin token)."
)


def register(app: typer.Typer) -> None:
    for f, help_msgid in HELP.items():
        app.command(help=help_msgid)(f)
    # `citizenwatt workshop` runs the room; `citizenwatt workshop links` reprints a link.
    room = typer.Typer(add_completion=False, rich_markup_mode=None)
    room.callback(invoke_without_command=True, help=WORKSHOP_HELP)(workshop)
    room.command("links", help=LINKS_HELP)(links)
    app.add_typer(room, name="workshop")
