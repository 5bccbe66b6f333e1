# SPDX-License-Identifier: AGPL-3.0-or-later
"""What the guide shows from the firmware: design-calculator results and firmware defaults.

The maths lives in the firmware (one function turns a hardware design into calibration
constants); this module only calls it and shapes the results into named constants and
tables for the guide. Nothing here is typed by hand from the firmware.
"""

from __future__ import annotations

import html
import inspect
import json
from dataclasses import dataclass

from citizenwatt.i18n import N_, _, format_number


@dataclass(frozen=True)
class Constant:
    key: str
    value: float | int | str
    unit: str
    digits: int  # decimals shown; ignored for text values
    source: str  # where the value comes from, e.g. "citizenwatt.firmware.calib.design_constants"

    def display(self, lang: str, with_unit: bool = True, percent: bool = False) -> str:
        unit = self.unit
        if percent and not isinstance(self.value, str):
            # A ratio such as margin = 0.05 read as "5 %"; the value itself stays the firmware's.
            shown = format_number(self.value * 100, max(self.digits - 2, 0), lang=lang)
            return f"{shown}\u00a0%" if with_unit else shown
        if isinstance(self.value, str):
            shown = self.value
        elif unit == "Ω" and self.value >= 1000:
            # Resistors are bought as "16 kΩ", not "16 000 Ω".
            shown = format_number(self.value / 1000, self.digits, lang=lang)
            unit = "kΩ"
        else:
            shown = format_number(self.value, self.digits, lang=lang)
        if with_unit and unit:
            return f"{shown}\u00a0{unit}"
        return shown


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # English, marked with N_: said in the page's language by title()
    unit: str = ""
    digits: int = 0

    def title(self, lang: str) -> str:
        text = _(self.label, lang=lang)
        # Resistances carry their unit in each cell (15 Ω, 16 kΩ), the others in the header.
        return f"{text} ({self.unit})" if self.unit and self.unit != "Ω" else text


@dataclass(frozen=True)
class GeneratedTable:
    """A table whose every number comes from one call of the design calculator per row."""

    name: str
    source: str
    columns: tuple[Column, ...]
    rows: tuple[dict[str, float | int | str], ...]
    inputs: tuple[dict[str, float | int | str], ...]  # the design() arguments of each row

    def cell(self, column: Column, value: float | int | str, lang: str) -> str:
        if isinstance(value, str):
            return html.escape(value)
        if column.unit == "Ω":
            if value == 0:
                return "—"
            return html.escape(Constant(column.key, value, "Ω", column.digits, SOURCE).display(lang))
        return format_number(value, column.digits, lang=lang)

    def to_html(self, lang: str) -> str:
        head = "".join(f"<th>{html.escape(column.title(lang))}</th>" for column in self.columns)
        body = []
        for row, inputs in zip(self.rows, self.inputs, strict=True):
            cells = []
            for column in self.columns:
                value = row[column.key]
                css = "" if isinstance(value, str) else ' class="num"'
                cells.append(
                    f'<td{css} data-key="{column.key}" data-value="{html.escape(str(value))}">'
                    f"{self.cell(column, value, lang)}</td>"
                )
            body.append(f"<tr data-inputs=\"{html.escape(json.dumps(inputs))}\">{''.join(cells)}</tr>")
        return (
            f'<table class="cw-generated" data-table="{self.name}" data-source="{html.escape(self.source)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


@dataclass(frozen=True)
class DesignSheet:
    """The standard design, one quantity per row: label, value (from design()), unit."""

    name: str
    source: str
    rows: tuple[tuple[str, Constant], ...]  # (English label marked with N_, constant)

    def to_html(self, lang: str) -> str:
        head = (_("Quantity", lang=lang), _("Value", lang=lang))
        body = "".join(
            f'<tr><td>{html.escape(_(label, lang=lang))}</td>'
            f'<td class="num" data-key="{c.key}" data-value="{html.escape(str(c.value))}">'
            f"{html.escape(c.display(lang))}</td></tr>"
            for label, c in self.rows
        )
        return (
            f'<table class="cw-generated" data-table="{self.name}" data-source="{html.escape(self.source)}">'
            f"<thead><tr><th>{head[0]}</th><th>{head[1]}</th></tr></thead><tbody>{body}</tbody></table>"
        )


@dataclass(frozen=True)
class DesignData:
    constants: dict[str, Constant]
    tables: dict[str, GeneratedTable | DesignSheet]
    design: dict  # the standard design() result
    inputs: dict  # the standard design() arguments (the firmware's own defaults)


SOURCE = "citizenwatt.firmware.calib.design"

# Unit and decimals shown for each key of design()'s result and arguments. Presentation
# only: the values themselves always come from the firmware.
_SHOWN = {
    "turns": ("", 0),
    "max_current_a": ("A", 0),
    "peak_current_a": ("A", 1),
    "atten_db": ("dB", 0),
    "adc_lo_v": ("V", 2),
    "adc_hi_v": ("V", 2),
    "bias_v": ("V", 2),
    "bias_r_top_ohm": ("Ω", 0),
    "bias_r_bottom_ohm": ("Ω", 0),
    "bias_c_uf": ("µF", 0),
    "swing_v": ("V", 2),
    "burden_ideal_ohm": ("Ω", 1),
    "burden_ohm": ("Ω", 0),
    "burden_power_mw": ("mW", 1),
    "ical_a_per_v": ("A/V", 1),
    "measurable_current_a": ("A", 0),
    "pin_min_v": ("V", 2),
    "pin_max_v": ("V", 2),
    "lsb_v": ("V", 4),
    "lsb_a": ("A", 2),
    "noise_a": ("A", 2),
    "floor_a": ("A", 3),
    "vdiv_r_top_ohm": ("Ω", 0),
    "vdiv_r_bottom_ohm": ("Ω", 0),
    "vcal_v_per_v": ("V/V", 1),
    "phasecal": ("", 2),
    "supply_v": ("V", 1),
    "mains_v": ("V", 0),
    "mains_hz": ("Hz", 0),
    "adapter_v": ("V", 0),
    "sample_rate_hz": ("Hz", 0),
    "adapter_phase_deg": ("°", 1),
    "margin": ("", 2),
    "adc_noise_v": ("V", 4),
}


def _calib():
    # Imported here so that a broken firmware module is reported as the guide's build error.
    from citizenwatt.firmware import calib

    return calib


def firmware_config_defaults() -> dict:
    from citizenwatt.firmware import config

    return config.DEFAULTS


def firmware_pins() -> dict[str, int]:
    """The reference board's wiring as the firmware reads it (firmware/config.py
    CURRENT_PINS, VOLTAGE_PIN), keyed by hardware/pinout.csv's signal names."""
    from citizenwatt.firmware import config

    pins = {f"current_{n}": gpio for n, gpio in enumerate(config.CURRENT_PINS, start=1)}
    pins["voltage"] = config.VOLTAGE_PIN
    return pins


def adc1_channel(gpio: int) -> str | None:
    """"ADC1_CHn" for an ESP32 ADC1 input, None for any other GPIO (firmware/config.py ADC1_PINS)."""
    from citizenwatt.firmware import config

    return f"ADC1_CH{config.ADC1_PINS.index(gpio)}" if gpio in config.ADC1_PINS else None


def standard_inputs() -> dict:
    """The design() arguments of the standard meter, as the firmware would call it: the
    function's own defaults, overridden by the meter's default configuration where they overlap."""
    signature = inspect.signature(_calib().design)
    inputs = {name: p.default for name, p in signature.parameters.items()
              if p.default is not inspect.Parameter.empty}
    config = firmware_config_defaults()
    first_channel = config["channels"][0]
    overrides = {
        "clamp": first_channel.get("clamp"),
        "max_current_a": first_channel.get("max_current_a"),
        "atten_db": config.get("atten_db"),
        "mains_hz": config.get("mains_hz"),
        "mains_v": config.get("nominal_v"),
        "sample_rate_hz": config.get("sample_rate_hz"),
    }
    if isinstance(config.get("voltage"), dict) and "adapter_v" in config["voltage"]:
        overrides["adapter_v"] = config["voltage"]["adapter_v"]
    inputs.update({key: value for key, value in overrides.items() if key in inputs and value is not None})
    return inputs


def config_constants() -> dict[str, Constant]:
    """The meter's default configuration (firmware/config.py DEFAULTS) as guide constants."""
    config = firmware_config_defaults()
    units = {
        "interval_s": ("s", 0),
        "measure_period_s": ("s", 0),
        "mains_hz": ("Hz", 0),
        "nominal_v": ("V", 0),
        "sample_rate_hz": ("Hz", 0),
        "cycles": ("", 0),
        "atten_db": ("dB", 0),
        "queue_hours": ("h", 0),
        "wdt_s": ("s", 0),
        "mqtt_port": ("", 0),
        "keepalive_s": ("s", 0),
        "backoff_max_s": ("s", 0),
        "safe_mode_strikes": ("", 0),
    }
    source = "citizenwatt.firmware.config.DEFAULTS"
    constants = {}
    for key, (unit, digits) in units.items():
        if isinstance(config.get(key), (int, float)) and not isinstance(config.get(key), bool):
            constants[f"config.{key}"] = Constant(f"config.{key}", config[key], unit, digits, source)
    constants["config.channel_pin"] = Constant(
        "config.channel_pin", config["channels"][0]["pin"], "", 0, source
    )
    for signal, gpio in firmware_pins().items():
        key = f"config.pin_{signal}"
        constants[key] = Constant(key, gpio, "", 0, "citizenwatt.firmware.config")
    return constants


def _constant(key: str, value) -> Constant:
    unit, digits = _SHOWN.get(key, ("", 2))
    if isinstance(value, float) and value.is_integer() and digits == 0:
        value = int(value) if unit != "Ω" else value
    return Constant(key=key, value=value, unit=unit, digits=digits, source=SOURCE)


def derived_constants(calib, inputs: dict) -> dict[str, Constant]:
    """Figures the guide quotes that the firmware keeps as module data rather than design() keys."""
    kind, rated_a, rated_out = calib.CLAMPS[inputs["clamp"]]
    source = "citizenwatt.firmware.calib"
    constants = {
        "mains_tolerance": Constant("mains_tolerance", calib.MAINS_TOLERANCE, "", 2, source),
        "clamp_rated_a": Constant("clamp_rated_a", rated_a, "A", 0, source),
    }
    if kind == "current":
        constants["clamp_secondary_ma"] = Constant(
            "clamp_secondary_ma", round(rated_out * 1000, 6), "mA", 0, source
        )
    return constants


def _row_table(name: str, columns: tuple[Column, ...], inputs: list[dict]) -> GeneratedTable:
    design = _calib().design
    rows = []
    base = standard_inputs()
    inputs = [{**base, **arguments} for arguments in inputs]
    for arguments in inputs:
        result = design(**arguments)
        row = {}
        for column in columns:
            value = arguments.get(column.key, result.get(column.key))
            row[column.key] = value
        rows.append(row)
    return GeneratedTable(name=name, source=SOURCE, columns=columns, rows=tuple(rows), inputs=tuple(inputs))


def _col(key: str, label: str) -> Column:
    unit, digits = _SHOWN.get(key, ("", 0))
    return Column(key=key, label=label, unit=unit, digits=digits)


def design_data() -> DesignData:
    """Constants and tables for the guide, computed now by the firmware's design calculator."""
    calib = _calib()
    inputs = standard_inputs()
    result = calib.design(**inputs)
    constants = {key: _constant(key, value) for key, value in inputs.items()}
    constants.update(
        {key: _constant(key, value) for key, value in result.items() if isinstance(value, (int, float, str))}
    )
    constants.update(config_constants())
    constants.update(derived_constants(calib, inputs))
    sheet_rows = (
        (N_("Clamp"), "clamp"),
        (N_("Turns (clamp ratio)"), "turns"),
        (N_("Maximum measured current (RMS)"), "max_current_a"),
        (N_("Matching peak current"), "peak_current_a"),
        (N_("ADC attenuation"), "atten_db"),
        (N_("Start of the ADC's linear range"), "adc_lo_v"),
        (N_("End of the ADC's linear range"), "adc_hi_v"),
        (N_("Supply of the bias divider"), "supply_v"),
        (N_("Bias divider top resistor"), "bias_r_top_ohm"),
        (N_("Bias divider bottom resistor"), "bias_r_bottom_ohm"),
        (N_("Midpoint capacitor"), "bias_c_uf"),
        (N_("Bias voltage (midpoint)"), "bias_v"),
        (N_("Swing available either side"), "swing_v"),
        (N_("Margin kept for tolerances"), "margin"),
        (N_("Ideal burden resistor"), "burden_ideal_ohm"),
        (N_("Chosen burden resistor (E24, rounded down)"), "burden_ohm"),
        (N_("Power in the burden at maximum current"), "burden_power_mw"),
        (N_("ICAL: amps per volt across the burden"), "ical_a_per_v"),
        (N_("Current measurable before clipping"), "measurable_current_a"),
        (N_("Lowest pin voltage at maximum current"), "pin_min_v"),
        (N_("Highest pin voltage at maximum current"), "pin_max_v"),
        (N_("One ADC step, in amps"), "lsb_a"),
        (N_("Noise floor (below it: 0 W)"), "floor_a"),
    )
    sheet = DesignSheet(
        name="design",
        source=SOURCE,
        rows=tuple((label, constants[key]) for label, key in sheet_rows),
    )
    voltage_rows = (
        (N_("Nominal mains voltage"), "mains_v"),
        (N_("Mains frequency"), "mains_hz"),
        (N_("AC-AC adapter output at nominal mains"), "adapter_v"),
        (N_("Divider top resistor"), "vdiv_r_top_ohm"),
        (N_("Divider bottom resistor"), "vdiv_r_bottom_ohm"),
        (N_("VCAL: mains volts per pin volt"), "vcal_v_per_v"),
        (N_("PHASECAL (1 = no correction)"), "phasecal"),
        (N_("Voltage/current pairs per second"), "sample_rate_hz"),
    )
    voltage_sheet = DesignSheet(
        name="voltage",
        source=SOURCE,
        rows=tuple((label, constants[key]) for label, key in voltage_rows),
    )
    by_current = _row_table(
        "burden_by_current",
        (
            _col("max_current_a", N_("Maximum current")),
            _col("burden_ideal_ohm", N_("Ideal burden")),
            _col("burden_ohm", N_("Burden to solder")),
            _col("ical_a_per_v", N_("ICAL")),
            _col("measurable_current_a", N_("Measurable up to")),
            _col("lsb_a", N_("ADC step")),
            _col("floor_a", N_("Noise floor")),
        ),
        [{"max_current_a": float(amps)} for amps in (100, 80, 60, 50, 40, 30, 20)],
    )
    by_atten = _row_table(
        "attenuation",
        (
            _col("atten_db", N_("Attenuation")),
            _col("adc_lo_v", N_("Linear from")),
            _col("adc_hi_v", N_("Linear to")),
            _col("bias_r_top_ohm", N_("Bias top resistor")),
            _col("bias_v", N_("Bias")),
            _col("burden_ohm", N_("Burden at 100 A")),
            _col("lsb_a", N_("ADC step")),
        ),
        [{"atten_db": atten} for atten in sorted(calib.ADC_LINEAR_V)],
    )
    clamps = _row_table(
        "clamps",
        (
            _col("clamp", N_("Clamp")),
            _col("max_current_a", N_("Rating")),
            _col("burden_ohm", N_("Burden to solder")),
            _col("ical_a_per_v", N_("ICAL")),
            _col("measurable_current_a", N_("Measurable up to")),
        ),
        [{"clamp": name, "max_current_a": float(spec[1])} for name, spec in sorted(calib.CLAMPS.items())],
    )
    adapters = _row_table(
        "adapters",
        (
            _col("adapter_v", N_("Adapter output")),
            _col("vdiv_r_top_ohm", N_("Divider top resistor")),
            _col("vdiv_r_bottom_ohm", N_("Bottom resistor")),
            _col("vcal_v_per_v", N_("VCAL")),
        ),
        [{"adapter_v": float(volts)} for volts in (9, 12)],
    )
    tables = {t.name: t for t in (sheet, voltage_sheet, by_current, by_atten, clamps, adapters)}
    return DesignData(constants=constants, tables=tables, design=result, inputs=inputs)


def bom_mismatches(bom, data: DesignData) -> list[str]:
    """BOM lines whose value disagrees with the design calculator, as sentences to act on."""
    problems = []
    for line in bom.lines:
        key = line.design_key
        if not key:
            continue
        if key in data.design:
            expected = data.design[key]
        elif key in data.inputs:
            expected = data.inputs[key]
        else:
            problems.append(
                f"BOM line {line.reference}: design_key {key!r} is not a key of design(); fix the column."
            )
            continue
        if isinstance(expected, str):
            if line.value != expected:
                problems.append(
                    f"BOM line {line.reference}: value {line.value!r} but the design uses {expected!r}."
                )
            continue
        number, unit = line.value_si()
        if key.endswith("_uf"):
            number = number * 1e6
        if abs(number - expected) > 1e-9 * max(1.0, abs(expected)):
            problems.append(
                f"BOM line {line.reference}: value {line.value!r} but the design calculator gives "
                f"{_constant(key, expected).display('en')}; update hardware/bom.csv (value and part number)."
            )
    return problems
