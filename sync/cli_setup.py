"""`leadq setup`: create the writeback fields leadq.yaml names, and write their SFDX source.

`--dry-run` shows the plan and changes nothing (no field, no file). A second run finds everything present
and creates nothing. A CRM that cannot be reached is reported without stopping the other one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connector.errors import ConnectorError
from mappings import ConfigError, LeadqConfig, load_config
from sync.cli_check import CHECK_TUNING, ConnectorFactory, connection_error
from sync.connectors import CRM_NAMES, CachedDescriber, ConnectionSetupError, build_connector, redact
from sync.setup import FAILING, Planned, Step, apply, describe_type, plan
from sync.sfdx import sfdx_files, write_sfdx

STYLE = {
    Step.CREATE: "cyan", Step.PRESENT: "green", Step.CREATED: "bold green", Step.CONFLICT: "bold red",
    Step.FAILED: "bold red", Step.HIDDEN: "yellow",
}  # fmt: skip
FLS_NOTE = (
    "Salesforce: a new field is invisible to the integration user until field-level security grants it. "
    "Give the integration user read and edit access to the leadq fields (the leadq permission set, shipped "
    "in a later release, will do it; until then: Setup > Object Manager > <object> > Fields > <field> > "
    "Set Field-Level Security), then run `leadq check`."
)


def setup_crm(
    config: LeadqConfig, crm: str, *, dry_run: bool, factory: ConnectorFactory = build_connector
) -> tuple[list[Planned], str | None]:
    """The plan for one CRM (applied unless `dry_run`), or the error that stopped it."""
    block = config.crm(crm)
    assert block is not None
    tuning = {**CHECK_TUNING[crm], "max_retries": 2}
    try:
        connector = factory(config, crm, **tuning)
    except (ConnectionSetupError, ConnectorError) as exc:
        return [], connection_error(config, crm, exc).message
    try:
        planned = plan(crm, block, CachedDescriber(connector))
        return (planned if dry_run else apply(connector, planned)), None
    except ConnectorError as exc:
        return [], connection_error(config, crm, exc).message
    finally:
        connector.close()


def _table(rows: list[Planned], dry_run: bool, config: LeadqConfig) -> Table:
    title = "leadq setup: plan (dry run, nothing changed)" if dry_run else "leadq setup"
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("CRM", "object", "field", "type", "step", "note"):
        table.add_column(column, overflow="fold")
    for p in rows:
        step = "would create" if p.step is Step.CREATE else p.step.value
        table.add_row(
            CRM_NAMES[p.crm], p.target.object, p.spec.name, describe_type(p.target.spec),
            Text(step, style=STYLE[p.step]), Text(redact(p.message, config)),
        )  # fmt: skip
    return table


def _sfdx(config: LeadqConfig, out: Path | None, config_path: Path, dry_run: bool, console: Console) -> None:
    if config.salesforce is None:
        return
    root = out or config_path.resolve().parent / "salesforce"
    files = sfdx_files(config.salesforce, config.salesforce.connection.api_version)
    if dry_run:
        console.print(f"would write {len(files)} SFDX source files under {root}")
        return
    total, changed = write_sfdx(files, root)
    console.print(
        f"SFDX source: {total} files under {root} ({changed} changed); to deploy with the Salesforce CLI: "
        f"sf project deploy start --source-dir {root / 'force-app'}",
        markup=False,
        highlight=False,
    )


def setup(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The config naming the fields.", dir_okay=False)
    ] = Path("leadq.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    sfdx_out: Annotated[
        Path | None,
        typer.Option(
            "--sfdx-out",
            help="SFDX project folder to write (default: salesforce/ next to the config).",
            file_okay=False,
        ),
    ] = None,
    no_sfdx: Annotated[bool, typer.Option("--no-sfdx", help="Do not write SFDX source.")] = False,
) -> None:
    """Create the writeback fields and properties leadq.yaml names (only the missing ones)."""
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        Console(stderr=True).print(Text("error: ", style="red") + Text(str(exc)))
        raise typer.Exit(2) from None
    console = Console(width=max(Console().width, 160))
    rows: list[Planned] = []
    errors: list[str] = []
    for crm in loaded.crms:
        planned, error = setup_crm(loaded, crm, dry_run=dry_run)
        rows += planned
        if error:
            errors.append(error)
    console.print(_table(rows, dry_run, loaded))
    for error in errors:
        console.print(Text("error: ", style="bold red") + Text(error))
    created = [p for p in rows if p.step is Step.CREATED]
    if dry_run:
        todo = sum(p.step is Step.CREATE for p in rows)
        console.print(f"{todo} to create, {sum(p.step is Step.PRESENT for p in rows)} present")
    else:
        console.print(f"{len(created)} created, {sum(p.step is Step.PRESENT for p in rows)} present")
    if not no_sfdx:
        _sfdx(loaded, sfdx_out, config, dry_run, console)
    if any(p.crm == "salesforce" and p.step in (Step.CREATED, Step.HIDDEN, Step.CREATE) for p in rows):
        console.print(Text(FLS_NOTE, style="yellow"))
    if errors or any(p.step in FAILING for p in rows):
        raise typer.Exit(1)
