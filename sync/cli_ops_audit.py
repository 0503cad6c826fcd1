"""`leadq audit export` and `leadq review list`: the audit log for compliance, the review queue for people.

Both read only the state store. The export streams page by page, so a long log never sits in memory.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any, cast

import typer
from rich.table import Table
from rich.text import Text

from sync.cli_ops_common import (
    ConfigOption,
    CrmOption,
    JsonOption,
    as_dict,
    console,
    crm_name,
    crms_of,
    fail,
    iso,
    read_store,
    when,
)
from sync.state import ReviewState, ReviewTask, StateStore
from sync.state.decisions import AUDIT_FIELDS
from sync.state.records import REVIEW_STATES

audit_app = typer.Typer(help="The audit log: every decision and write leadq made.", no_args_is_help=True)
review_app = typer.Typer(
    help="Review tasks: the leads a person was asked to decide on.", no_args_is_help=True
)
SINCE_FORMAT = (
    "a date (2024-05-01, midnight UTC) or an ISO datetime (2024-05-01T09:30:00Z, 2024-05-01T11:30+02:00)"
)
JSON_COLUMNS = ("old", "new", "detail")
OPEN_STATES = ("open", "escalated")


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def parse_since(text: str) -> datetime:
    """`--since` as an aware UTC datetime; a date means its midnight UTC, a naive datetime is UTC.

    Raises ValueError naming the expected format.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {text!r} is not {SINCE_FORMAT}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def jsonl_line(entry: dict[str, Any]) -> str:
    """One audit entry as a JSON line (`at` in ISO 8601 UTC)."""
    return json.dumps({**entry, "at": iso(entry["at"])}, ensure_ascii=False, default=str)


def csv_cell(name: str, value: Any) -> str:
    """A CSV cell: `at` in ISO 8601; old/new/detail as text when they are text, else as JSON; None empty."""
    if value is None:
        return ""
    if name == "at" and isinstance(value, datetime):
        return iso(value) or ""
    if name in JSON_COLUMNS and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def write_export(entries: Iterable[dict[str, Any]], fmt: Format, out: IO[str]) -> int:
    """Write the entries as JSON lines or CSV (with a header row); returns how many were written."""
    count = 0
    if fmt is Format.csv:
        # RFC 4180 line ends: with them the writer quotes any value holding a lone CR or LF.
        writer = csv.writer(out)
        writer.writerow(AUDIT_FIELDS)
        for entry in entries:
            writer.writerow([csv_cell(name, entry.get(name)) for name in AUDIT_FIELDS])
            count += 1
    else:
        for entry in entries:
            out.write(jsonl_line(entry) + "\n")
            count += 1
    out.flush()
    return count


@audit_app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option("--since", help=f"Only entries at or after this time: {SINCE_FORMAT}.")
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="jsonl (one JSON object a line) or csv.")
    ] = Format.jsonl,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """Export the audit log (who, what, old -> new, model and policy version), oldest first."""
    try:
        lower = None if since is None else parse_since(since)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    with read_store(config) as (_, store), ExitStack() as stack:
        target: IO[str] = sys.stdout
        if out is not None:
            target = stack.enter_context(out.open("w", encoding="utf-8", newline=""))
        count = write_export(store.audit_export(lower), fmt, target)
    if out is not None:
        typer.echo(f"exported {count} audit entries to {out}", err=True)


def review_row(task: ReviewTask, now: datetime) -> dict[str, Any]:
    """A review task as JSON; `overdue` when it is still open (or escalated) past its due time."""
    detail = as_dict(task.detail)
    overdue = task.state in OPEN_STATES and task.due is not None and task.due < now
    return {
        "crm": task.crm,
        "lead_id": task.lead_id,
        "reviewer": task.reviewer,
        "due": iso(task.due),
        "overdue": overdue,
        "state": task.state,
        "decision": task.decision,
        "decided_at": iso(task.decided_at),
        "task_id": task.task_id,
        "score": detail.get("score"),
        "subject": detail.get("subject"),
        "created_at": iso(task.created_at),
    }


def review_rows(
    store: StateStore, crms: Iterable[str], state: str, now: datetime
) -> Iterator[dict[str, Any]]:
    for crm in crms:
        selected = None if state == "all" else cast(ReviewState, state)
        for task in store.review_tasks(crm, selected):
            yield review_row(task, now)


def review_table(rows: list[dict[str, Any]], state: str) -> Table:
    table = Table(title=f"review tasks ({state}; times in UTC)", title_justify="left", header_style="bold")
    for column in ("CRM", "lead", "score", "reviewer", "due", "state", "decision", "CRM task id", "subject"):
        table.add_column(column, overflow="fold")
    for r in rows:
        due = Text(when(r["due"]))
        if r["overdue"]:
            due.append(" OVERDUE", style="bold red")
        table.add_row(
            crm_name(r["crm"]), r["lead_id"], "" if r["score"] is None else str(r["score"]),
            r["reviewer"] or "(record owner)", due, r["state"], r["decision"] or "", r["task_id"] or "(not created)",
            Text(str(r["subject"] or "")),
        )  # fmt: skip
    return table


@review_app.command("list")
def review_list(
    crm: CrmOption = None,
    state: Annotated[
        str, typer.Option("--state", help="open, completed, escalated, cancelled or all.")
    ] = "open",
    as_json: JsonOption = False,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """Review tasks with their lead, reviewer, due time (overdue marked), state, decision and CRM task id."""
    wanted = state.strip().lower()
    if wanted not in (*REVIEW_STATES, "all"):
        raise fail(f"--state {state!r} is not one of {', '.join((*REVIEW_STATES, 'all'))}", 2)
    with read_store(config) as (loaded, store):
        rows = list(review_rows(store, crms_of(loaded, crm), wanted, store.now()))
    if as_json:
        typer.echo(json.dumps({"tasks": rows}, ensure_ascii=False, default=str))
    elif rows:
        console().print(review_table(rows, wanted))
    else:
        console().print(f"no review tasks ({wanted})", highlight=False)
