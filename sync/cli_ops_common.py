"""What the operator commands share: the `--config` option, opening the state store without a CRM, the
`--crm` choice, and how times, durations and values are shown.

The read-only commands (`runs`, `explain`, `history`, `audit export`, `review list`) load the config without
resolving its secrets and open only the state store, so they work on a machine without the CRM
credentials and while the CRM is unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from mappings import CRMS, ConfigError, Crm, LeadqConfig, load_config
from sync.bootstrap import ContextError, open_store
from sync.connectors import CRM_NAMES
from sync.state import StateStore

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The leadq config file.", dir_okay=False)]
CrmOption = Annotated[
    str | None, typer.Option("--crm", help="salesforce or hubspot (default: every configured CRM).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
WIDE = 160


def console() -> Console:
    """A console wide enough for the tables (a narrow terminal folds cells instead of cutting them)."""
    return Console(width=max(Console().width, WIDE))


def fail(message: str, code: int) -> typer.Exit:
    """Print `error: message` on stderr; return the `typer.Exit` to raise."""
    # soft_wrap: a config error's `file:line:column` must stay on one line, whole, to be copied.
    Console(stderr=True).print(Text("error: ", style="red") + Text(message), soft_wrap=True)
    return typer.Exit(code)


def load_unresolved(config_path: Path) -> LeadqConfig:
    """The config without its secrets; a config error is printed and exits 2."""
    try:
        return load_config(config_path, resolve=False)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


@contextmanager
def read_store(config_path: Path) -> Iterator[tuple[LeadqConfig, StateStore]]:
    """The config (secrets unresolved) and its state store, closed on exit; no CRM is contacted."""
    config = load_unresolved(config_path)
    try:
        store = open_store(config, config_path)
    except ContextError as exc:
        raise fail(str(exc), exc.code) from None
    try:
        yield config, store
    finally:
        store.close()


def crms_of(config: LeadqConfig, crm: str | None) -> tuple[Crm, ...]:
    """The CRMs a `--crm` option selects: the one named (exit 2 if unknown), else the configured ones."""
    if crm is None:
        return config.crms
    name = crm.strip().lower()
    for known in CRMS:
        if known == name:
            return (known,)
    raise fail(f"unknown CRM {crm!r}: use --crm salesforce or --crm hubspot", 2)


def crm_name(crm: str) -> str:
    return CRM_NAMES.get(crm, crm)


def when(value: datetime | str | None) -> str:
    """A time in UTC for tables: `2024-05-01 09:30:12`."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC for JSON."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def seconds(value: float | None) -> str:
    """`0.4 s`, `12.3 s`, `2 min 5 s`."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def shown(value: Any) -> str:
    """A field value as a person reads it: text as is, empty as `(empty)`, anything else as JSON."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def as_dict(value: Any) -> dict[str, Any]:
    """A stored JSON object (a dict, or JSON text of one); anything else is an empty dict."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A stored JSON list; a single value is a list of one, nothing is an empty list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
