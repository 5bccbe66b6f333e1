"""Batch mode for a room: boards are flashed, provisioned and checked one after another
as they are plugged in, with a live table; a board that fails is redone from the start
when it is plugged in again."""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from citizenwatt.i18n import N_, _, ngettext
from citizenwatt.workshop import check as wcheck
from citizenwatt.workshop import pipeline
from citizenwatt.workshop.board import Board
from citizenwatt.workshop.errors import WorkshopError
from citizenwatt.workshop.registration import Household

READY, FAILED, BUSY = "ready", "failed", "busy"


@dataclass
class BoardRow:
    port: str
    state: str = BUSY
    step: str = ""
    fraction: float = 0.0
    meter_id: str = ""
    household_ref: str = ""
    household_name: str = ""
    household_id: int | None = None  # set once the API registered the meter
    household_link: str = ""  # full address; "" when the household already had its link
    message: str = ""
    attempts: int = 0
    seconds: float = 0.0


@dataclass
class WorkshopPlan:
    bundle: Path | None
    cache_dir: Path
    provision: pipeline.ProvisionPlan
    households: list[Household] = field(default_factory=list)
    image: Path | None = None
    micropython: str = "auto"
    run_check: bool = True
    check_network: bool = True


def _household(plan: WorkshopPlan, index: int, meter_id: str) -> Household | None:
    if plan.households:
        return plan.households[index % len(plan.households)] if index < len(plan.households) \
            else None
    return plan.provision.household or Household(ref="ATELIER-" + meter_id,
                                                 name="Foyer " + meter_id)


def do_board(port: str, plan: WorkshopPlan, row: BoardRow, household_index: int,
             on_change: Callable[[], None]) -> None:
    """The whole pipeline for one board; raises WorkshopError."""
    t0 = time.monotonic()

    def progress(step, done, total):
        row.step = step
        row.fraction = done / total if total else 0.0
        on_change()

    pipeline.flash(port, bundle=plan.bundle, cache_dir=plan.cache_dir, image=plan.image,
                   micropython=plan.micropython, progress=progress)
    with Board(port) as board:
        row.meter_id = plan.provision.meter_id or \
            pipeline.wconfig.meter_id_from_mac(board.unique_id())
        household = _household(plan, household_index, row.meter_id)
        if household is None:
            raise WorkshopError("config.invalid", N_("Invalid meter configuration: {detail}. Fix this value "
                                                     "then try again."), detail="more boards than households")
        prov_plan = pipeline.ProvisionPlan(**{**plan.provision.__dict__, "household": household})
        result = pipeline.provision(board, prov_plan, progress=progress)
        row.household_ref, row.household_name = household.ref, household.name
        if result.registration is not None:
            row.household_id = result.registration.household_id
            row.household_link = prov_plan.household_link(result.registration) or ""
        if plan.run_check:
            progress(_("Self-test"), 0, 1)
            results = wcheck.run_checks(board, network=plan.check_network)
            bad = wcheck.failures(results)
            if bad:
                raise WorkshopError("check.summary_fail", N_("Failed tests: {count}. Follow the \"What to "
                                                             "do\" column, then run `citizenwatt check` "
                                                             "again."), section=bad[0].section,
                                    count=len(bad)) if not bad[0].advice else \
                    _AdviceError(bad[0].advice)
        board.reset()  # the meter firmware starts
    row.meter_id = result.meter_id
    row.seconds = time.monotonic() - t0
    progress(_("Done"), 1, 1)


class _AdviceError(WorkshopError):
    def __init__(self, text: str):
        super().__init__("error.unexpected", N_("Unexpected error ({detail}). Unplug and replug the board, "
                                                "try again; if it happens again, report it with the command "
                                                "you ran and this message."), detail=text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def render(rows: list[BoardRow], waiting: bool) -> Group:
    table = Table(title=_("Citizen Watt workshop"), expand=True)
    table.add_column(_("Board"), no_wrap=True)
    table.add_column(_("Meter"), no_wrap=True)
    table.add_column(_("Step"))
    table.add_column(_("Result"), ratio=2)
    for r in rows:
        if r.state == READY:
            result = Text(_("ready") + f" ({r.seconds:.0f} s)", style="green")
        elif r.state == FAILED:
            result = Text(_("to redo") + " : " + r.message, style="red")
        else:
            bar = int(r.fraction * 20)
            result = Text("[" + "#" * bar + "." * (20 - bar) + "] %3.0f %%" % (r.fraction * 100),
                          style="yellow")
        table.add_row(r.port, r.meter_id, r.step, result)
    parts: list[Table | Text] = [table]
    if waiting:
        parts.append(Text(_("Plug in the next board (Ctrl-C to finish)."), style="bold"))
    return Group(*parts)


def final_rows(rows: list[BoardRow]) -> list[BoardRow]:
    """One row per board: a failed attempt redone successfully later is left out."""
    ready = {(r.meter_id or r.port) for r in rows if r.state == READY}
    ready_ports = {r.port for r in rows if r.state == READY}
    out = []
    for r in rows:
        if r.state == FAILED and ((r.meter_id and r.meter_id in ready) or r.port in ready_ports):
            continue
        out.append(r)
    return out


def summary(rows: list[BoardRow]) -> Table:
    rows = final_rows(rows)
    table = Table(title=ngettext("{n} board ready, {failed} to redo.", "{n} boards ready, {failed} to redo.",
                                 sum(r.state == READY for r in rows),
                                 failed=sum(r.state == FAILED for r in rows)))
    table.add_column(_("Board"))
    table.add_column(_("Meter"))
    table.add_column(_("Household"))
    # Folded, never cut: a link with a character missing opens nothing.
    table.add_column(_("Household link (secret)"), overflow="fold")
    table.add_column(_("Result"))
    for r in rows:
        table.add_row(r.port, r.meter_id, r.household_ref, _link_cell(r),
                      Text(_("ready"), style="green") if r.state == READY else
                      Text(_("to redo") + " : " + r.message, style="red"))
    return table


def _link_cell(r: BoardRow) -> str:
    if r.state != READY or r.household_id is None:
        return ""
    return r.household_link or _("already given (household no. {household_id})", household_id=r.household_id)


class LinkSheet:
    """The room's household links in a CSV file, to print and hand to each household.

    The links are secrets the API shows once: the file is readable by its owner only
    (0600), and a row is written as soon as its board is ready, so a run cut short keeps
    the links it already got."""

    FIELDS = ("meter_id", "household_ref", "household_name", "household_id", "household_link")

    def __init__(self, path: Path):
        self.path = Path(path)
        self.written = 0
        self.error: str | None = None  # a sentence, if the file could not be written

    def add(self, row: BoardRow) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", newline="", encoding="utf-8") as f:
                os.chmod(self.path, 0o600)  # an existing file too
                w = csv.writer(f)
                if os.fstat(f.fileno()).st_size == 0:
                    w.writerow(self.FIELDS)
                w.writerow((row.meter_id, row.household_ref, row.household_name,
                            row.household_id, row.household_link))
                f.flush()
                os.fsync(f.fileno())
            self.written += 1
        except OSError as e:
            self.error = _("Cannot write the household links to {path} ({detail}): copy them from the table "
                           "below before closing this terminal, they will not be shown again.",
                           path=self.path, detail=e.strerror or e)


def run(
    plan: WorkshopPlan,
    list_ports: Callable[[], Iterable[str]],
    *,
    count: int | None = None,
    watch: bool = True,
    console: Console | None = None,
    poll_s: float = 0.3,
    timeout_s: float | None = None,
    links: LinkSheet | None = None,
) -> list[BoardRow]:
    """Process boards as list_ports() shows them. A port is processed when it appears; a
    board that failed is redone when its port disappears and comes back. Stops after
    `count` ready boards, when nothing is left to do (watch=False), on timeout or Ctrl-C.
    Each board registered with the API gets its row in `links`, when given."""
    console = console or Console()
    rows: list[BoardRow] = []
    by_port: dict[str, BoardRow] = {}
    pending_redo: set[str] = set()
    households_used = 0
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with Live(render(rows, watch), console=console, refresh_per_second=8, transient=False) as live:

        def refresh():
            live.update(render(rows, watch))

        try:
            while True:
                present = list(dict.fromkeys(list_ports()))
                for port in list(pending_redo):
                    if port not in present:  # unplugged: will be redone when it is back
                        pending_redo.discard(port)
                        by_port.pop(port, None)
                todo = [p for p in present if p not in by_port]
                for port in todo:
                    row = BoardRow(port)
                    by_port[port] = row
                    rows.append(row)
                    row.attempts += 1
                    refresh()
                    try:
                        do_board(port, plan, row, households_used, refresh)
                        row.state = READY
                        households_used += 1
                        if links is not None and row.household_id is not None:
                            links.add(row)
                    except WorkshopError as e:
                        row.state = FAILED
                        row.message = str(e)
                        pending_redo.add(port)
                    except Exception as e:  # noqa: BLE001 - one board never stops the room
                        row.state = FAILED
                        row.message = _(
                            "Unexpected error ({detail}). Unplug and replug the board, try "
                            "again; if it happens again, report it with the command you ran and "
                            "this message.",
                            detail=type(e).__name__,
                        )
                        pending_redo.add(port)
                    refresh()
                    if count is not None and sum(r.state == READY for r in rows) >= count:
                        return rows
                if not watch and not todo:
                    return rows
                if deadline is not None and time.monotonic() > deadline:
                    return rows
                time.sleep(poll_s)
        except KeyboardInterrupt:
            return rows
        finally:
            watch = False
            refresh()
