"""`leadq sync --once`: one cycle now, on every configured CRM.

`--dry-run` plans everything and changes nothing: it prints the exact field writes and review tasks the
cycle would make, a table per CRM. Otherwise a summary table per CRM says what was pulled, scored, written
and rejected, the tasks created and completed, the API calls and how long it took. `--json` prints the run
report as one JSON object. Exit code 0 when the run succeeded or was partial, 1 when it failed, 2 when the
config or a connection block cannot be used.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connector.errors import ConnectorError
from mappings import ConfigError
from sync.bootstrap import ContextError, close_context, open_context
from sync.cli_ops_common import ConfigOption, console, crm_name, fail, seconds, shown
from sync.connectors import ConnectionSetupError, redact
from sync.context import CycleContext
from sync.report import CrmReport, PlannedWrite, RunReport

Cycle = Callable[..., RunReport]  # run_cycle(ctx, *, dry_run=...)
OK_STATUSES = ("succeeded", "partial")
NOT_ONCE = "leadq runs one cycle with `leadq sync --once`; use `leadq run` for the scheduled daemon"
TASK_SUBJECT_KEYS = ("subject", "Subject", "hs_task_subject")


def default_cycle() -> Cycle:
    """`sync.cycle.run_cycle`, imported on first use (it pulls in the whole scoring stack)."""
    run_cycle: Cycle = importlib.import_module("sync.cycle").run_cycle
    return run_cycle


def change_text(write: PlannedWrite) -> str:
    """`Field -> value` lines of a field update; `task: subject` of a task or note."""
    if write.kind == "field_update":
        lines = [f"{name} -> {shown(value)}" for name, value in write.values.items()]
        return "\n".join(lines) or "(no fields)"
    subject = next((write.values[k] for k in TASK_SUBJECT_KEYS if write.values.get(k)), None)
    return f"{write.kind}: {subject if subject is not None else shown(write.values)}"


def planned_table(crm: CrmReport, config_redact: Callable[[str], str]) -> Table:
    """The exact writes and tasks a dry run planned for one CRM."""
    title = f"{crm_name(crm.crm)}: {len(crm.planned)} planned (dry run)"
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("kind", "object", "record id", "field -> value / task", "reason"):
        table.add_column(column, overflow="fold")
    for write in crm.planned:
        table.add_row(
            write.kind,
            write.object,
            write.record_id or "(new)",
            Text(config_redact(change_text(write))),
            Text(config_redact(write.reason)),
        )
    return table


SUMMARY_COLUMNS = (
    "CRM", "pulled", "scored", "written", "rejected", "parked", "tasks created", "tasks completed",
    "API calls", "duration", "stopped",
)  # fmt: skip


def summary_table(report: RunReport) -> Table:
    """What the run did, a row per CRM."""
    title = f"leadq sync: run {report.run_id or '-'} {report.status} in {seconds(report.duration_s)}"
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, overflow="fold", justify="left" if column in ("CRM", "stopped") else "right")
    for r in report.crms.values():
        table.add_row(
            crm_name(r.crm), str(sum(r.pulled.values())), str(r.scored), str(r.written), str(r.rejected),
            str(r.parked), str(r.tasks_created), str(r.tasks_completed), str(r.api_total),
            seconds(sum(r.phases.values())), Text(r.stopped or ""),
        )  # fmt: skip
    return table


def render(report: RunReport, out: Console, config_redact: Callable[[str], str]) -> None:
    """The report for a person: planned writes (dry run) or the summary, then problems and errors."""
    if report.dry_run:
        for crm in report.crms.values():
            if crm.planned:
                out.print(planned_table(crm, config_redact))
            else:
                out.print(f"{crm_name(crm.crm)}: nothing to write", highlight=False)
        writes = sum(1 for r in report.crms.values() for w in r.planned if w.kind == "field_update")
        tasks = sum(1 for r in report.crms.values() for w in r.planned if w.kind != "field_update")
        out.print(
            f"dry run: nothing was changed ({writes} record updates and {tasks} tasks/notes planned)",
            highlight=False,
        )
    else:
        out.print(summary_table(report))
    for r in report.crms.values():
        for problem in r.problems:
            out.print(Text(f"{crm_name(r.crm)}: ", style="yellow") + Text(config_redact(problem)))
    if report.error:
        out.print(Text("error: ", style="bold red") + Text(config_redact(report.error)))


def run_once(
    config_path: Path, *, dry_run: bool, as_json: bool, cycle: Cycle | None = None, out: Console | None = None
) -> int:
    """Open the context, run one cycle, print the report; returns the exit code (see the module docstring).

    `cycle` replaces `sync.cycle.run_cycle` (tests and embedding).
    """
    try:
        ctx: CycleContext = open_context(config_path)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    except ContextError as exc:
        raise fail(str(exc), exc.code) from None
    config = ctx.config

    def scrub(text: str) -> str:
        return redact(text, config)

    try:
        report = (cycle or default_cycle())(ctx, dry_run=dry_run)
    except (ConnectorError, ConnectionSetupError) as exc:
        raise fail(scrub(f"the cycle stopped: {exc}"), 1) from None
    finally:
        close_context(ctx)
    if as_json:
        typer.echo(scrub(json.dumps(report.to_json(), ensure_ascii=False, default=str)))
    else:
        render(report, out or console(), scrub)
    return 0 if report.status in OK_STATUSES else 1


def sync(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle now and exit (required).")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan the writes and tasks, print them, change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as one JSON object.")] = False,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """Run one sync cycle on every configured CRM: pull, score, write back, create review tasks."""
    if not once:
        raise fail(NOT_ONCE, 2)
    raise typer.Exit(run_once(config, dry_run=dry_run, as_json=as_json))
