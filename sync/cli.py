"""The `leadq` command line."""

from __future__ import annotations

import typer

from sync.cli_check import check
from sync.cli_config import init
from sync.cli_demo import demo
from sync.cli_sandbox import sandbox_app
from sync.cli_setup import setup

app = typer.Typer(
    name="leadq",
    help="AI lead qualification inside Salesforce and HubSpot, with people in control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.command("init")(init)
app.command("demo")(demo)
app.command("check")(check)
app.command("setup")(setup)


def main() -> None:
    """Console-script entry point."""
    app()
