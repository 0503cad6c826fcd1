"""`leadq init`: write a starting leadq.yaml that validates as written."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mappings import SANDBOX_TOKEN_ENV, ConfigError, load_config, write_default_config
from sandbox.server import DEFAULT_STATE_DIR

console = Console(stderr=True)


class CrmChoice(StrEnum):
    """The CRMs `--crm` accepts."""

    salesforce = "salesforce"
    hubspot = "hubspot"


def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the config.")] = Path("leadq.yaml"),
    sandbox: Annotated[
        str | None, typer.Option("--sandbox", help="Wire the config to a running sandbox at this URL.")
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--ca-bundle",
            help="CA bundle to trust (default with --sandbox: the sandbox's CA, when it exists).",
            dir_okay=False,
        ),
    ] = None,
    crm: Annotated[
        list[CrmChoice] | None,
        typer.Option(
            "--crm", help="CRM to configure; repeat for both (default: both).", case_sensitive=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented leadq.yaml with the default mappings, ready to use or edit."""
    crms = [choice.value for choice in crm] if crm else ["salesforce", "hubspot"]
    bundle = ca_bundle
    if bundle is None and sandbox:
        candidate = DEFAULT_STATE_DIR / "ca.pem"
        bundle = candidate if candidate.is_file() else None
    try:
        target = write_default_config(
            path,
            crms=crms,
            sandbox_url=sandbox,
            ca_bundle=bundle.resolve() if bundle else None,
            overwrite=force,
        )
    except FileExistsError:
        console.print(f"[red]error:[/] {path} already exists; pass --force to replace it")
        raise typer.Exit(1) from None
    try:
        # The file is ours, so a failure here is a leadq bug; say so rather than leave a broken file unnoticed.
        load_config(target, resolve=False)
    except ConfigError as exc:
        console.print(f"[red]internal error:[/] the config written does not validate:\n{exc}")
        raise typer.Exit(2) from None
    console.print(f"wrote [cyan]{target}[/] ({', '.join(crms)})")
    if sandbox:
        console.print(
            f"  the sandbox token is read from ${SANDBOX_TOKEN_ENV} (the sandbox's default is 'sandbox')"
        )
        if bundle is None:
            console.print("  [yellow]no CA bundle found[/]: pass --ca-bundle PATH to the sandbox's ca.pem")
    else:
        console.print("  next: fill in the connection placeholders and export the secrets it names")
