"""`leadq sandbox ...`: serve, seed and load data into the local Salesforce + HubSpot sandbox."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sandbox.server import DEFAULT_STATE_DIR, SandboxOptions, SandboxServer
from sandbox.state import DEFAULT_TOKEN
from sync.progress import progress_bar

sandbox_app = typer.Typer(help="The local Salesforce + HubSpot sandbox CRM.", no_args_is_help=True)
console = Console(stderr=True)


@sandbox_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    db: Annotated[
        str | None, typer.Option(help="SQLite file (default: sandbox.db in the state folder; ':memory:').")
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the CA and the database are kept.")
    ] = DEFAULT_STATE_DIR,
    seed_leads: Annotated[int, typer.Option(help="Seed an org with this many leads (0: no seeding).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed of the generated org and of fault injection.")] = 7,
    token: Annotated[
        str, typer.Option(help="Bearer token both APIs accept.", envvar="LEADQ_SANDBOX_TOKEN")
    ] = DEFAULT_TOKEN,
    faults: Annotated[
        str | None,
        typer.Option(help='Fault injection as JSON, e.g. \'{"error_5xx": 0.1, "lock_row": 0.05}\'.'),
    ] = None,
    daily_quota: Annotated[int, typer.Option(help="Salesforce daily API request quota.")] = 15_000,
) -> None:
    """Serve the Salesforce REST and HubSpot CRM v3 APIs over HTTPS on one port."""
    from sandbox.faults import FaultConfig
    from sandbox.limits import LimitConfig

    db_path = None if db == ":memory:" else str(db or state_dir / "sandbox.db")
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fault_config = FaultConfig.from_dict(json.loads(faults)) if faults else FaultConfig(seed=seed)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(f"--faults: {exc}") from exc
    opts = SandboxOptions(
        host=host, port=port, db=db_path, state_dir=state_dir, token=token, seed_leads=0, seed=seed,
        faults=fault_config, limits=LimitConfig(sf_daily_quota=daily_quota),
    )  # fmt: skip
    server = SandboxServer(opts)
    if seed_leads:
        _seed_store(server.store, seed_leads, seed)
    console.print(f"[bold]leadq sandbox[/] listening on [cyan]{server.url}[/]")
    console.print(f"  CA bundle:   {server.ca_path.resolve()}")
    console.print(f"  database:    {db_path or ':memory:'}")
    console.print(
        f"  Salesforce:  {server.url}/services/data/v59.0/  (Bearer token: {'<custom>' if token != DEFAULT_TOKEN else token})"
    )
    console.print(f"  HubSpot:     {server.url}/crm/v3/")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _seed_store(store: object, leads: int, seed: int) -> None:
    from sandbox.seed import seed_org
    from sandbox.store import Store

    assert isinstance(store, Store)
    with progress_bar() as progress:
        summary = seed_org(store, leads=leads, seed=seed, progress=progress)
    console.print(f"seeded: {summary}")


@sandbox_app.command("seed")
def seed_cmd(
    db: Annotated[Path, typer.Option(help="SQLite file to create or extend.")] = DEFAULT_STATE_DIR
    / "sandbox.db",
    leads: Annotated[
        int, typer.Option("--leads", "--seed-leads", help="How many leads to generate.")
    ] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same org.")] = 7,
) -> None:
    """Generate a realistic B2B org in both CRMs (deterministic under --seed)."""
    from sandbox.store import Store

    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(str(db))
    try:
        _seed_store(store, leads, seed)
    finally:
        store.close()


@sandbox_app.command("load-csv")
def load_csv_cmd(
    file: Annotated[Path, typer.Argument(help="CSV file to load.", exists=True, dir_okay=False)],
    object_name: Annotated[str, typer.Option("--object", help="Lead (Salesforce) or contacts (HubSpot).")],
    mapping: Annotated[Path, typer.Option(help="YAML mapping of CSV columns to fields.", exists=True)],
    db: Annotated[Path, typer.Option(help="SQLite file of the sandbox to load into.")] = DEFAULT_STATE_DIR
    / "sandbox.db",
) -> None:
    """Load any CSV into the sandbox, creating custom fields or properties for unmapped columns."""
    from sandbox.csv_loader import CsvLoadError, load_csv, read_mapping
    from sandbox.store import Store

    try:
        spec = read_mapping(mapping)
    except CsvLoadError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(str(db))
    try:
        with progress_bar() as progress:
            report = load_csv(store, file, object_name=object_name, mapping=spec, progress=progress)
    except CsvLoadError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    console.print(report.summary())
    if report.rejected:
        raise typer.Exit(1)
