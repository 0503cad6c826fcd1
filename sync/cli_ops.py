"""The operator commands: `sync --once`, `runs`, `explain`, `history`, `audit export`, `review list`.

Registered on the `leadq` app by `sync.cli` through `register` (the tests register them the same way).

`sync --once` connects to the CRMs; every other command reads only the state store (no secrets needed, and
they work while the CRM is unreachable).
"""

from __future__ import annotations

import typer

from sync.cli_ops_audit import audit_app, review_app
from sync.cli_ops_lead import explain, history
from sync.cli_ops_runs import runs
from sync.cli_ops_sync import sync

__all__ = ["audit_app", "explain", "history", "register", "review_app", "runs", "sync"]


def register(app: typer.Typer) -> None:
    """Add the operator commands to `app`."""
    app.command("sync")(sync)
    app.command("runs")(runs)
    app.command("explain")(explain)
    app.command("history")(history)
    app.add_typer(audit_app, name="audit")
    app.add_typer(review_app, name="review")
