"""Build stored readings and households for API tests, as meters and a workshop would."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from citizenwatt.store.port import ChannelReading

PARIS = ZoneInfo("Europe/Paris")


def local_ts(*args, tz=PARIS) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def constant_readings(meter_id: str, t0: float, t1: float, power_w: float, step_s: float = 60,
                      channel: int = 0, boot: int = 1, seq0: int = 0,
                      counter0_wh: float = 0.0) -> list[ChannelReading]:
    """Readings every step_s from t0 + step_s to t1 at a constant power, counter from counter0."""
    out, n = [], int(round((t1 - t0) / step_s))
    for i in range(1, n + 1):
        out.append(ChannelReading(
            meter_id=meter_id, channel=channel, boot=boot, seq=seq0 + i, ts_utc=t0 + i * step_s,
            ts_from_meter=True, interval_s=step_s,
            energy_wh=counter0_wh + power_w * i * step_s / 3600, power_w=power_w,
            irms_a=power_w / 230, apparent=True))
    return out


def household_power_w(t: float, scale: float) -> float:
    """Base load, a morning bump and the evening peak, so the bars have a daily shape."""
    h = datetime.fromtimestamp(t, PARIS).hour
    w = 180.0 + (600.0 if 7 <= h < 9 else 0.0) + (1400.0 if 19 <= h < 22 else 0.0)
    return w * scale


def history(now: float, scale: float, days: int, step_s: int = 1800) -> list[tuple[float, float, float]]:
    """(ts_utc, power_w, counter_wh) of a meter every step_s over the `days` days before
    `now`; the first half 25 % higher, so that half is a baseline to save against."""
    start = (now // step_s) * step_s - days * 86400
    split = start + days * 86400 / 2
    out, energy_wh, t = [], 0.0, start
    while t + step_s <= now:
        t += step_s
        p = household_power_w(t, scale * (1.25 if t <= split else 1.0))
        energy_wh += p * step_s / 3600
        out.append((t, p, energy_wh))
    return out


def register_neighbours(app, meters: list[str], today: date, days: int,
                        password: str | None = None) -> tuple[dict[str, str], tuple[date, date]]:
    """One deployment where each meter is a household of the same profile ("Famille Martin"
    first, then "Voisin 1"...), measured since before the history and with the first half of
    it as baseline; a leader "animatrice" if a password is given. Returns the links' tokens
    by meter and the baseline."""
    from citizenwatt.api import admin

    baseline = (today - timedelta(days=days - 1), today - timedelta(days=days // 2 + 1))
    links = {}
    with app.state.sessionmaker() as db:
        dep = admin.create_deployment(db, "Atelier Belleville")
        for i, meter in enumerate(meters):
            hh, token = admin.create_household(
                db, dep, "Famille Martin" if i == 0 else f"Voisin {i}", profile="appartement",
                baseline_start=baseline[0], baseline_end=baseline[1])
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, today - timedelta(days=days + 1))
            links[meter] = token
        if password:
            admin.create_staff(db, "animatrice", password, "leader", dep)
        db.commit()
    return links, baseline


def kwh_shown(text: str) -> float:
    """10.5 from "10,5 kWh" (French) or "10.5 kWh"."""
    return float(text.split()[0].replace("\u202f", "").replace(",", "."))


def check_comparison_shown(own_text: str, median_text: str, verdict: str, ratio: float) -> None:
    """The comparison as shown, for a group whose median household uses `ratio` times what
    this one uses. The median is rounded to half a kWh a day (so that it is no one's exact
    figure) and the household's own figure to 0.1 kWh: the shown median is within
    0.25 + ratio x 0.05 of ratio x the shown own figure. The verdict compares the unrounded
    own figure with the shown median: its percentage is what an own figure that rounds to
    the shown one gives."""
    own, median = kwh_shown(own_text), kwh_shown(median_text)
    assert median * 2 == round(median * 2), median_text
    assert abs(median - ratio * own) <= 0.25 + ratio * 0.05 + 1e-9, (own_text, median_text)
    low, high = (round(100 * (1 - o / median)) for o in (own + 0.05, own - 0.05))
    said = re.search(r"(\d+)\s% de moins", verdict)
    assert said, verdict
    assert low <= int(said.group(1)) <= high, (verdict, own_text, median_text)
