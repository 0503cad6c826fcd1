"""`leadq runs`: the run history, and the writes leadq gave up on (parked) with the reason.

Read from the state store only: it works while the CRM is unreachable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mappings import CRMS
from sync.cli_ops_common import (
    ConfigOption,
    JsonOption,
    as_dict,
    console,
    crm_name,
    iso,
    read_store,
    seconds,
    shown,
    when,
)
from sync.state import LedgerEntry, OutboxItem, Run, StateStore

STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "bold red", "running": "cyan"}
COUNTS = ("pulled", "scored", "written", "rejected", "tasks_created", "tasks_completed")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def run_row(run: Run) -> dict[str, Any]:
    """One run as JSON: its times, status, counters from the stored report, and why it stopped early."""
    report = as_dict(run.report)
    duration = report.get("duration_s")
    if not isinstance(duration, int | float):
        duration = None if run.finished_at is None else (run.finished_at - run.started_at).total_seconds()
    stopped = {
        crm: str(part["stopped"])
        for crm, part in as_dict(report.get("crms")).items()
        if isinstance(part, dict) and part.get("stopped")
    }
    return {
        "id": run.id,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_s": duration,
        "status": run.status,
        "dry_run": bool(report.get("dry_run", False)),
        **{name: _int(report.get(name)) for name in COUNTS},
        "stopped": stopped,
        "error": report.get("error"),
    }


def parked_fields(store: StateStore) -> list[LedgerEntry]:
    """Field writes parked after the retry bound, every CRM."""
    return [entry for crm in CRMS for entry in store.ledger_in_state(crm, "parked")]


def field_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "crm": entry.crm,
        "object": entry.object,
        "record_id": entry.record_id,
        "field": entry.field,
        "value": entry.new_value,
        "attempts": entry.attempts,
        "since": iso(entry.updated_at),
        "reason": entry.last_error,
    }


def item_json(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "crm": item.crm,
        "kind": item.kind,
        "object": item.object,
        "record_id": item.record_id,
        "attempts": item.attempts,
        "since": iso(item.updated_at),
        "reason": item.last_error,
    }


def runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="leadq runs (times in UTC)", title_justify="left", header_style="bold")
    for column in ("id", "started", "duration", "status", "pulled", "scored", "written", "rejected", "tasks"):
        table.add_column(column, justify="right" if column not in ("started", "status") else "left")
    table.add_column("stopped / error", overflow="fold")
    for r in rows:
        status = Text(
            r["status"] + (" (dry run)" if r["dry_run"] else ""), style=STATUS_STYLE.get(r["status"], "")
        )
        why = [f"{crm_name(crm)}: {reason}" for crm, reason in r["stopped"].items()]
        if r["error"]:
            why.append(str(r["error"]))
        table.add_row(
            str(r["id"]), when(r["started_at"]), seconds(r["duration_s"]), status, str(r["pulled"]),
            str(r["scored"]), str(r["written"]), str(r["rejected"]),
            f"{r['tasks_created']} created, {r['tasks_completed']} completed", Text("; ".join(why)),
        )  # fmt: skip
    return table


def parked_table(fields: list[LedgerEntry], items: list[OutboxItem]) -> Table:
    title = (
        f"parked: {len(fields) + len(items)} writes leadq gave up on (fix the reason, they are not retried)"
    )
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("CRM", "what", "record id", "attempts", "since", "reason"):
        table.add_column(column, overflow="fold")
    for entry in fields:
        what = f"{entry.object}.{entry.field} -> {shown(entry.new_value)}"
        table.add_row(crm_name(entry.crm), Text(what), entry.record_id, str(entry.attempts),
                      when(entry.updated_at), Text(entry.last_error or "(no reason recorded)"))  # fmt: skip
    for item in items:
        what = f"{item.kind} on {item.object}"
        table.add_row(crm_name(item.crm), Text(what), item.record_id or "(new)", str(item.attempts),
                      when(item.updated_at), Text(item.last_error or "(no reason recorded)"))  # fmt: skip
    return table


def render(
    rows: list[dict[str, Any]], fields: list[LedgerEntry], items: list[OutboxItem], out: Console
) -> None:
    if rows:
        out.print(runs_table(rows))
    else:
        out.print("no runs yet: `leadq sync --once` runs one cycle", highlight=False)
    if fields or items:
        out.print(parked_table(fields, items))
    else:
        out.print("nothing parked", highlight=False)


def runs(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs to show.")] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """The latest sync runs, newest first, and the writes leadq parked with their reason."""
    with read_store(config) as (_, store):
        rows = [run_row(run) for run in store.recent_runs(limit)]
        fields = parked_fields(store)
        items = store.outbox_items("parked")
    if as_json:
        doc = {
            "runs": rows,
            "parked": {"fields": [field_json(e) for e in fields], "outbox": [item_json(i) for i in items]},
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, default=str))
        return
    render(rows, fields, items, console())
