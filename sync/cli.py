"""The `leadq` command line."""

from __future__ import annotations

import typer

from sync import cli_ops
from sync.cli_check import check
from sync.cli_config import init
from sync.cli_demo import demo
from sync.cli_model import model_app, report
from sync.cli_run import run
from sync.cli_sandbox import sandbox_app
from sync.cli_setup import setup
from sync.memory import keep_large_blocks_apart

app = typer.Typer(
    name="leadq",
    help="AI lead qualification inside Salesforce and HubSpot, with people in control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(init)
app.command("check")(check)
app.command("setup")(setup)
app.command("run")(run)
cli_ops.register(app)
app.add_typer(model_app, name="model")
app.command("report")(report)
app.command("demo")(demo)
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    keep_large_blocks_apart()  # before anything big is allocated: see sync/memory.py
    app()
