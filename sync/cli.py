"""The `leadq` command line."""

from __future__ import annotations

import typer

from sync.cli_check import check
from sync.cli_config import init
from sync.cli_demo import demo
from sync.cli_model import model_app, report
from sync.cli_ops import audit_app, explain, history, review_app, runs, sync
from sync.cli_run import run
from sync.cli_sandbox import sandbox_app
from sync.cli_setup import setup

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
app.command("sync")(sync)
app.command("run")(run)
app.command("runs")(runs)
app.command("explain")(explain)
app.command("history")(history)
app.add_typer(audit_app, name="audit")
app.add_typer(review_app, name="review")
app.add_typer(model_app, name="model")
app.command("report")(report)
app.command("demo")(demo)
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    app()
