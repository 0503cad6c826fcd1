"""Shared pieces of the operator command tests (tests/sync/test_cli_ops*.py): the commands as `sync.cli`
registers them, and the values the seeded stores use. The fixtures (`ops`, `offline_config`,
`offline_store`) are in tests/sync/conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from sync.cli_ops import register

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
LEAD = "00Q000000000001AAA"


def make_app() -> typer.Typer:
    """The commands registered the way `sync.cli` registers them."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    return app
