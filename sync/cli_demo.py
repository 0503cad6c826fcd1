"""`leadq demo`: the product end to end on the embedded sandbox org (what `make demo` runs).

Seeded org in both CRMs -> config -> `setup` -> a first cycle -> a reviewer decides a few review tasks in
the CRM -> a second cycle picks the decisions up -> what a rep sees, what was written, API calls, and the
model report when there was enough history to train a model.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mappings import SANDBOX_TOKEN_ENV, LeadqConfig, load_config, write_default_config
from sandbox.server import DEFAULT_STATE_DIR, SandboxOptions, SandboxServer
from sync.cli_setup import setup_crm
from sync.context import CycleContext
from sync.demo_org import decide, rep_view
from sync.progress import progress_bar
from sync.report import RunReport

console = Console()
# Review more than the default band so the demo has tasks to decide, whatever the seeded scores are.
DEMO_REVIEW = {
    "borderline: [45, 60]": "borderline: [20, 45]",
    "max_open_per_reviewer: 25": "max_open_per_reviewer: 5",
}
DECISIONS = ("approve", "override", "reject")


def _cycle_table(title: str, report: RunReport) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("CRM", "pulled", "scored", "written", "tasks+", "decided", "API", "s", "model"):
        table.add_column(column, justify="left" if column in ("CRM", "model") else "right", no_wrap=True)
    for crm, r in report.crms.items():
        table.add_row(
            crm, f"{sum(r.pulled.values()):,}", f"{r.scored:,}", f"{r.written:,}", str(r.tasks_created),
            str(r.tasks_completed), str(r.api_total), f"{sum(r.phases.values()):.0f}",
            "rules (cold start)" if r.rule_based else r.model_version,
        )  # fmt: skip
    return table


def _write_config(folder: Path, server: SandboxServer) -> Path:
    path = write_default_config(
        folder / "leadq.yaml", crms=("salesforce", "hubspot"), sandbox_url=server.url,
        ca_bundle=server.ca_path.resolve(), overwrite=True,
    )  # fmt: skip
    text = path.read_text(encoding="utf-8")
    for old, new in DEMO_REVIEW.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def _review_a_few(ctx: CycleContext, server: SandboxServer, config: LeadqConfig) -> list[list[str]]:
    """Decide the first open review task of each CRM three ways, as reviewers would in the CRM."""
    done: list[list[str]] = []
    for crm in ctx.crms:
        for task, decision in zip(ctx.store.review_tasks(crm, state="open"), DECISIONS, strict=False):
            if task.task_id is None:
                continue
            decide(server, config, crm, task.task_id, task.lead_id, decision, 88)
            done.append(
                [crm, task.lead_id, task.reviewer or "", decision + (" 88" if decision == "override" else "")]
            )
    return done


def _show_reps(server: SandboxServer, config: LeadqConfig) -> None:
    for crm in ("salesforce", "hubspot"):
        for row in rep_view(server, config, crm, limit=2):
            console.print(
                f"[bold]{crm}[/] {row['name']} ({row['company'] or '-'}): score [bold]{row['score']}[/], "
                f"tier {row['tier']}, {row['action']}"
            )
            for line in str(row["reasons"]).splitlines()[:5]:
                console.print(f"    {line}")


def _report_line(ctx: CycleContext) -> str:
    from sync.cli_model import write_champion_report

    lines = []
    for crm in ctx.crms:
        written = write_champion_report(ctx.state_dir, ctx.config, crm)
        lines.append(f"{crm}: {written}")
    return "; ".join(lines)


def demo(
    leads: Annotated[int, typer.Option(help="Leads (and HubSpot contacts) in the seeded org.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed of the seeded org.")] = 7,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Keep the config, state and report here (default: a temp folder)."),
    ] = None,
) -> None:
    """Run leadq end to end on the embedded sandbox: seed, setup, cycle, review, cycle, summary."""
    # Imported here: the cycle pulls in the whole scoring stack, which other commands need not load.
    from sandbox.seed import seed_org
    from sync.bootstrap import close_context, open_context
    from sync.cycle import run_cycle

    started = time.perf_counter()
    server = SandboxServer(SandboxOptions(state_dir=DEFAULT_STATE_DIR))
    with progress_bar() as progress:
        counts = seed_org(server.store, leads=leads, seed=seed, progress=progress)
    server.start()
    temporary = tempfile.TemporaryDirectory(prefix="leadq-demo-") if folder is None else None
    work = Path(temporary.name) if temporary is not None else folder
    assert work is not None
    work.mkdir(parents=True, exist_ok=True)
    try:
        console.print(f"[bold]sandbox[/] {server.url}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        os.environ[SANDBOX_TOKEN_ENV] = server.token
        path = _write_config(work, server)
        config = load_config(path)
        for crm in ("salesforce", "hubspot"):
            planned, error = setup_crm(config, crm, dry_run=False)
            if error is not None:
                raise typer.Exit(1)
            console.print(
                f"setup {crm}: {sum(1 for p in planned if p.step.value == 'created')} fields created"
            )
        ctx = open_context(path, config=config)
        try:
            first = run_cycle(ctx)
            console.print(_cycle_table("First cycle", first))
            decided = _review_a_few(ctx, server, config)
            table = Table(title="A reviewer decides in the CRM", title_justify="left", header_style="bold")
            for column in ("CRM", "lead", "reviewer", "decision"):
                table.add_column(column)
            for row in decided:
                table.add_row(*row)
            console.print(table)
            second = run_cycle(ctx)
            console.print(_cycle_table("Second cycle (picks the decisions up)", second))
            console.print("[bold]What a rep sees on the record[/]")
            _show_reps(server, config)
            console.print(f"model report: {_report_line(ctx)}")
            console.print(
                f"config, state and audit log in {work}"
                + (" (a temporary folder: pass --dir to keep them)" if temporary is not None else "")
            )
        finally:
            close_context(ctx)
        console.print(f"demo took {time.perf_counter() - started:.1f} s")
    finally:
        server.stop()
        if temporary is not None:
            temporary.cleanup()
