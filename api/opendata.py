"""Open data: a deployment's consumption as a Frictionless Data Package a city can publish.

What is published, per period (local hour or day): the energy of groups of households,
never of one. The rules, which the tests attack (tests/api/test_opendata.py):

- A group counts only households whose period is fully measured (no partial day that
  would tell when a household was away), and is published only with at least
  `min_households` of them (k, a setting: api.opendata_min_households, default 5).
- The groups of one period are disjoint and there is no total beside them: households are
  grouped by their profile ("appartement, chauffage électrique"); profiles with fewer than k
  households that period are pooled into "other profiles"; if that pool itself is below k,
  the period is published as one group of all its households instead (or not at all below
  k). No sum of published figures leaves one household out.
- No differencing between two exports: every published cell is kept in the households
  database (table opendata_cell); a later export of an overlapping range repeats what was
  published for the periods already published (even if a household was deleted since, or a
  late reading arrived), and computes only the new periods. Only settled periods are
  published (ended at least `settle_days` ago), so late readings rarely matter.
- No household or meter identifier, name, or finer geography than the deployment.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.i18n import N_, _
from citizenwatt.store.port import ReadingStore

from .consumption import check_dates, check_span
from .energy import bucket_bounds
from .errors import ApiError
from .household_data import household_buckets
from .models import Deployment, Household, OpenDataCell

OpenResolution = Literal["hour", "day"]
ALL = "all"  # group codes besides "profile:<text>"
OTHERS = "others"
NOTHING = ""  # a period with no group published (kept, so that it stays unpublished)

LICENCES = {
    "etalab-2.0": ("Licence Ouverte / Open Licence 2.0",
                   "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0",
                 "https://opendatacommons.org/licenses/odbl/1-0/"),
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
}
MAX_DAYS = {"hour": 400, "day": 3700}


@dataclass(frozen=True)
class Cell:
    period_start_utc: int
    group: str
    households: int
    energy_wh: float


@dataclass
class ExportSummary:
    periods: int = 0  # periods in the asked range
    published: int = 0  # periods with at least one group in the package
    repeated: int = 0  # periods taken from earlier exports as they were published
    withheld: int = 0  # periods with fewer than k fully measured households
    unsettled: int = 0  # recent periods left for a later export
    rows: int = 0
    files: list[Path] = field(default_factory=list)


def partition(members: Sequence[tuple[str, float]], k: int) -> list[tuple[str, int, float]]:
    """The disjoint groups published for one period, from its fully measured households as
    (profile, energy_wh): [(group code, households, energy_wh)], every group of k or more."""
    if len(members) < k:
        return []
    by_profile: dict[str, list[float]] = defaultdict(list)
    for profile, wh in members:
        by_profile[profile.strip()].append(wh)
    big = {p: v for p, v in by_profile.items() if p and len(v) >= k}
    rest = [wh for p, v in by_profile.items() if p not in big for wh in v]
    if rest and len(rest) < k:  # pooled leftovers too few to stand alone: one group for all
        return [(ALL, len(members), sum(wh for _, wh in members))]
    groups = [(f"profile:{p}", len(v), sum(v)) for p, v in sorted(big.items())]
    if rest:
        groups.append((OTHERS if big else ALL, len(rest), sum(rest)))
    return groups


def group_label(code: str) -> str:
    if code.startswith("profile:"):
        return code.removeprefix("profile:")
    return _("all households") if code == ALL else _("other profiles")


def check_request(start: date, end: date, resolution: str, licence: str, k: int) -> None:
    check_dates(start, end)
    if resolution not in MAX_DAYS:
        raise ApiError(422, "opendata_resolution", N_("The resolution \"{value}\" is not offered for open "
                                                      "data: use hour or day."), value=resolution)
    check_span(start, end, MAX_DAYS[resolution], resolution)
    if licence not in LICENCES:
        raise ApiError(422, "opendata_licence", N_("The licence \"{value}\" is not known: use one of "
                                                   "{known}."), value=licence, known=", ".join(LICENCES))
    if k < 2:
        raise ApiError(422, "opendata_k", N_("Groups must hold at least 2 households (k = {k})."), k=k)


def _published(db: Session, dep: Deployment, resolution: str, lo: int, hi: int) -> dict[int, list[Cell]]:
    rows = db.scalars(select(OpenDataCell).where(
        OpenDataCell.deployment_id == dep.id, OpenDataCell.resolution == resolution,
        OpenDataCell.period_start_utc >= lo, OpenDataCell.period_start_utc < hi))
    out: dict[int, list[Cell]] = defaultdict(list)
    for r in rows:
        out[r.period_start_utc].append(Cell(r.period_start_utc, r.grp, r.households, r.energy_wh))
    return out


def compute_cells(db: Session, store: ReadingStore, dep: Deployment, start: date, end: date,
                  resolution: OpenResolution, k: int, now_s: float, settle_s: float,
                  summary: ExportSummary) -> list[Cell]:
    """Every cell of [start, end]: the published ones repeated, the new settled ones computed
    (and kept in opendata_cell; the caller commits)."""
    tz = ZoneInfo(dep.timezone)
    bounds = bucket_bounds(start, end, tz, resolution)
    summary.periods = len(bounds) - 1
    known = _published(db, dep, resolution, bounds[0], bounds[-1])
    todo = [i for i in range(len(bounds) - 1)
            if bounds[i] not in known and bounds[i + 1] <= now_s - settle_s]
    summary.unsettled = sum(1 for i in range(len(bounds) - 1)
                            if bounds[i] not in known and bounds[i + 1] > now_s - settle_s)
    summary.repeated = sum(1 for cells in known.values() if any(c.group != NOTHING for c in cells))
    members: dict[int, list[tuple[str, float]]] = defaultdict(list)
    if todo:
        households = db.scalars(select(Household).where(Household.deployment_id == dep.id)).all()
        for hh in households:
            buckets, _totals = household_buckets(store, hh, start, end, resolution)
            for i in todo:
                b = buckets[i]
                if b.energy_wh is not None and b.complete:
                    members[i].append((hh.profile, b.energy_wh))
    cells = [c for cs in known.values() for c in cs]
    for i in todo:
        groups = partition(members[i], k)
        new = [Cell(bounds[i], g, n, wh) for g, n, wh in groups] or [Cell(bounds[i], NOTHING, 0, 0.0)]
        for c in new:
            db.add(
                OpenDataCell(
                    deployment_id=dep.id,
                    resolution=resolution,
                    period_start_utc=c.period_start_utc,
                    grp=c.group,
                    households=c.households,
                    energy_wh=c.energy_wh,
                    published_utc=now_s,
                )
            )
        cells.extend(new)
    summary.withheld = sum(1 for i in todo if not members[i] or len(members[i]) < k)
    return sorted((c for c in cells if c.group != NOTHING), key=lambda c: (c.period_start_utc, c.group))


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "deployment"


def write_package(
    out: Path,
    dep: Deployment,
    start: date,
    end: date,
    resolution: OpenResolution,
    cells: Sequence[Cell],
    k: int,
    licence: str,
    now_s: float,
    source_url: str | None,
    summary: ExportSummary,
) -> None:
    """consumption.csv and datapackage.json (Frictionless Data Package v1) in `out`."""
    tz = ZoneInfo(dep.timezone)
    step = 3600 if resolution == "hour" else None
    bounds = bucket_bounds(start, end, tz, resolution)
    ends = dict(zip(bounds[:-1], bounds[1:], strict=True))
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "consumption.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            ["period_start", "period_end", "group", "households", "energy_kwh", "mean_kwh_per_household"]
        )
        for c in cells:
            t1 = ends.get(c.period_start_utc, c.period_start_utc + (step or 86400))
            w.writerow(
                [
                    datetime.fromtimestamp(c.period_start_utc, tz).isoformat(),
                    datetime.fromtimestamp(t1, tz).isoformat(),
                    group_label(c.group),
                    c.households,
                    f"{c.energy_wh / 1000:.3f}",
                    f"{c.energy_wh / 1000 / c.households:.3f}",
                ]
            )
    summary.rows = len(cells)
    summary.published = len({c.period_start_utc for c in cells})
    title, path = LICENCES[licence]
    source = {"title": _("Citizen Watt meters of {deployment}", deployment=dep.name)}
    if source_url:
        source["path"] = source_url
    package = {
        "name": f"citizenwatt-{_slug(dep.name)}-{resolution}-{start.isoformat()}-{end.isoformat()}",
        "title": _("Electricity use of the households of {deployment}, by group", deployment=dep.name),
        "description": _(
            "Energy drawn from the grid by groups of at least {k} households measured by Citizen Watt "
            "meters, per {period} ({zone} local time). Only fully measured households count; no group "
            "smaller than {k} is published, and groups of one period do not overlap.",
            k=k,
            period=_("hour") if resolution == "hour" else _("day"),
            zone=dep.timezone,
        ),
        "created": datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),
        "licenses": [{"name": licence, "title": title, "path": path}],
        "sources": [source],
        "resources": [
            {
                "name": "consumption",
                "path": csv_path.name,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {
                            "name": "period_start",
                            "type": "datetime",
                            "description": _("Start of the period, local time with its UTC offset."),
                        },
                        {
                            "name": "period_end",
                            "type": "datetime",
                            "description": _("End of the period (excluded), local time with its UTC offset."),
                        },
                        {
                            "name": "group",
                            "type": "string",
                            "description": _(
                                "The households' profile, or all households, or the other profiles pooled."
                            ),
                        },
                        {
                            "name": "households",
                            "type": "integer",
                            "constraints": {"minimum": k},
                            "description": _("Fully measured households in the group over the period."),
                        },
                        {
                            "name": "energy_kwh",
                            "type": "number",
                            "constraints": {"minimum": 0},
                            "description": _("Energy of the group over the period, kWh."),
                        },
                        {
                            "name": "mean_kwh_per_household",
                            "type": "number",
                            "constraints": {"minimum": 0},
                            "description": _("The group's energy divided by its households, kWh."),
                        },
                    ],
                    "primaryKey": ["period_start", "group"],
                },
            }
        ],
    }
    (out / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    summary.files = [csv_path, out / "datapackage.json"]


def export_opendata(
    db: Session,
    store: ReadingStore,
    deployment: str,
    start: date,
    end: date,
    resolution: OpenResolution,
    out: Path,
    *,
    k: int,
    licence: str,
    now_s: float,
    settle_days: int = 2,
    source_url: str | None = None,
) -> ExportSummary:
    check_request(start, end, resolution, licence, k)
    dep = db.scalar(select(Deployment).where(Deployment.name == deployment))
    if dep is None:
        raise ApiError(
            404,
            "deployment_unknown",
            N_('There is no deployment named "{name}": check its name on the staff pages.'),
            name=deployment,
        )
    if out.exists() and any(out.iterdir()):
        raise ApiError(
            409,
            "opendata_out",
            N_("The folder {path} is not empty: give a new folder for the package."),
            path=str(out),
        )
    summary = ExportSummary()
    cells = compute_cells(db, store, dep, start, end, resolution, k, now_s, settle_days * 86400.0, summary)
    write_package(out, dep, start, end, resolution, cells, k, licence, now_s, source_url, summary)
    db.commit()  # the ledger after the files: a failed write publishes nothing
    return summary
