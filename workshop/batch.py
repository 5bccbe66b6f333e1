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
    household_link: str = ""  # full address; "" when the household had its link before this room
    link_earlier: bool = False  # the link was shown (and written) by an earlier attempt
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


class Ledger:
    """Who got what in this room: the household given to each meter (a redone board keeps
    its own, in this run or from an earlier run's links sheet) and the links already shown,
    so that a link the API shows once is never lost, whatever fails after it."""

    def __init__(self, plan: WorkshopPlan, links: LinkSheet | None = None):
        self.plan = plan
        self.links = links
        self.by_meter: dict[str, Household] = {}
        self.known: dict[str, dict[str, str]] = {}  # meter_id -> its row in a links sheet
        self.show: Callable[[BoardRow], None] | None = None  # prints a new link at once
        if links is not None:
            for row in links.earlier_rows():
                self.known[row["meter_id"]] = row
                self.by_meter.setdefault(row["meter_id"], Household(
                    row["household_ref"], row.get("household_name") or row["household_ref"]))

    def household_for(self, meter_id: str) -> Household | None:
        """The meter's household: the one it already has, else the next unused one of the list."""
        if meter_id in self.by_meter:
            return self.by_meter[meter_id]
        plan = self.plan
        if plan.households:
            taken = {h.ref for h in self.by_meter.values()}
            household = next((h for h in plan.households if h.ref not in taken), None)
        else:
            household = plan.provision.household or Household(ref="ATELIER-" + meter_id,
                                                              name="Foyer " + meter_id)
        if household is not None:
            self.by_meter[meter_id] = household
        return household

    def registered(self, row: BoardRow, household: Household, link: str | None) -> None:
        """The API registered the board: keep the link (or the one shown earlier) in the row,
        and write it to the links sheet at once."""
        row.household_ref, row.household_name = household.ref, household.name
        earlier = self.known.get(row.meter_id)
        if link:
            row.household_link, row.link_earlier = link, False
        elif earlier and earlier.get("household_ref") == household.ref and earlier.get("household_link"):
            row.household_link, row.link_earlier = earlier["household_link"], True
        else:
            row.household_link, row.link_earlier = "", False
        entry = {"meter_id": row.meter_id, "household_ref": household.ref,
                 "household_name": household.name, "household_id": str(row.household_id),
                 "household_link": row.household_link}
        self.known[row.meter_id] = entry
        if self.links is not None and not row.link_earlier and entry != earlier:
            self.links.add(row)
        if self.show is not None and row.household_link and not row.link_earlier:
            self.show(row)


def do_board(port: str, plan: WorkshopPlan, row: BoardRow, ledger: Ledger,
             on_change: Callable[[], None]) -> None:
    """The whole pipeline for one board; raises WorkshopError. Once the API has registered
    the board, its household and link stay in the row and the sheet, even if a later step
    fails: the redo completes the board with the same household."""
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
        household = ledger.household_for(row.meter_id)
        if household is None:
            raise WorkshopError("config.invalid", N_("Invalid meter configuration: {detail}. Fix this value "
                                                     "then try again."), detail="more boards than households")
        row.household_ref, row.household_name = household.ref, household.name
        prov_plan = pipeline.ProvisionPlan(**{**plan.provision.__dict__, "household": household})

        def registered(reg) -> None:
            row.household_id = reg.household_id
            ledger.registered(row, household, prov_plan.household_link(reg))
            on_change()

        result = pipeline.provision(board, prov_plan, progress=progress, on_registered=registered)
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
    # Whole, never folded nor cut: a link with a character missing or a line break in the
    # middle of its token opens nothing (links_text() below prints them on plain lines too).
    table.add_column(_("Household link (secret)"), no_wrap=True, overflow="ignore")
    table.add_column(_("Result"))
    for r in rows:
        table.add_row(r.port, r.meter_id, r.household_ref, _link_cell(r),
                      Text(_("ready"), style="green") if r.state == READY else
                      Text(_("to redo") + " : " + r.message, style="red"))
    return table


def links_lines(rows: list[BoardRow]) -> list[str]:
    """One plain line per household link of the run, to copy whole from any terminal."""
    out = []
    for r in final_rows(rows):
        if r.household_link:
            note = " " + _("(the link shown at an earlier attempt)") if r.link_earlier else ""
            out.append(f"{r.household_ref} ({r.meter_id}) : {r.household_link}{note}")
    return out


def _link_cell(r: BoardRow) -> str:
    if r.household_id is None:
        return ""
    return r.household_link or _("already given (household no. {household_id})", household_id=r.household_id)


class LinkSheet:
    """The room's household links in a CSV file, to print and hand to each household.

    The links are secrets the API shows once: the file is readable by its owner only
    (0600), and a row is written as soon as the API has registered its board (before the
    board's self-test), so a board that fails later, or a run cut short, keeps its link.
    The sheet is also the room's memory: a board redone, in this run or a later one, finds
    its household and its link there (earlier_rows)."""

    FIELDS = ("meter_id", "household_ref", "household_name", "household_id", "household_link")

    def __init__(self, path: Path, earlier: Iterable[Path] = ()):
        self.path = Path(path)
        self.earlier = [Path(p) for p in earlier]  # sheets of earlier runs in the room
        self.written = 0
        self.error: str | None = None  # a sentence, if the file could not be written

    def earlier_rows(self) -> list[dict[str, str]]:
        """The rows already written, in this sheet (appended to) and the earlier ones: a
        board redone in a new run finds its household and its link there."""
        rows: list[dict[str, str]] = []
        for path in dict.fromkeys([*self.earlier, self.path]):
            try:
                with open(path, newline="", encoding="utf-8") as f:
                    rows += [r for r in csv.DictReader(f) if r.get("meter_id") and r.get("household_ref")]
            except (OSError, UnicodeDecodeError, csv.Error):
                continue  # no sheet yet, or not one of ours: nothing to resume from it
        return rows

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
    ledger = Ledger(plan, links)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with Live(render(rows, watch), console=console, refresh_per_second=8, transient=False) as live:

        def show(row: BoardRow) -> None:  # above the live table, on one plain line
            live.console.print(_("Household link of {household_ref} (secret, hand it to the household): "
                                 "{link}", household_ref=row.household_ref, link=row.household_link),
                               soft_wrap=True, highlight=False, markup=False)
        ledger.show = show

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
                        do_board(port, plan, row, ledger, refresh)
                        row.state = READY
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
