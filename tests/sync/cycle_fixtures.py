"""A seeded sandbox org with leadq set up on it, and cycle contexts over it, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mappings import SANDBOX_TOKEN_ENV, LeadqConfig, load_config, write_default_config
from sandbox import SandboxOptions, SandboxServer
from sandbox.server import running_sandbox
from sync.cli_setup import setup_crm
from sync.connectors import build_connector
from sync.context import CycleContext
from sync.state import StateStore

FAST: dict[str, dict[str, Any]] = {
    "salesforce": {"max_retries": 2, "connect_timeout": 5.0},
    "hubspot": {"max_retries": 2},
}


@contextmanager
def seeded_sandbox(state_dir: Path, *, leads: int = 120, seed: int = 7) -> Iterator[SandboxServer]:
    """A sandbox serving a freshly seeded org in both CRMs (in-memory database)."""
    with running_sandbox(SandboxOptions(state_dir=state_dir, seed_leads=leads, seed=seed)) as server:
        yield server


def sandbox_config(
    folder: Path, server: SandboxServer, *crms: str, extra: str = "", replace: dict[str, str] | None = None
) -> Path:
    """The config `leadq init --sandbox` writes, with `replace` substitutions and `extra` YAML appended."""
    path = write_default_config(
        folder / "leadq.yaml",
        crms=crms or ("salesforce", "hubspot"),
        sandbox_url=server.url,
        ca_bundle=server.ca_path,
        overwrite=True,
    )
    text = path.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text + ("\n" + extra if extra else ""), encoding="utf-8")
    return path


def load(path: Path, server: SandboxServer, monkeypatch: object) -> LeadqConfig:
    setenv = getattr(monkeypatch, "setenv")  # noqa: B009
    setenv(SANDBOX_TOKEN_ENV, server.token)
    return load_config(path)


def set_up(config: LeadqConfig) -> None:
    """`leadq setup`: the writeback fields and properties leadq needs."""
    for crm in ("salesforce", "hubspot"):
        if config.crm(crm) is not None:
            _, error = setup_crm(config, crm, dry_run=False)
            assert error is None, error


def ahead() -> datetime:
    """Our clock two seconds ahead of the sandbox's: a query window ends on a whole second (SOQL drops the
    fraction), so an edit made just before a cycle would otherwise wait for the next cycle."""
    return datetime.now(UTC) + timedelta(seconds=2)


def context(config: LeadqConfig, folder: Path, *, clock: object = ahead) -> CycleContext:
    """A fresh process's context: new connectors, the store next to the config, empty worlds."""
    connectors = {
        crm: build_connector(config, crm, **FAST[crm])
        for crm in ("salesforce", "hubspot")
        if config.crm(crm) is not None
    }
    store = StateStore.open(config.state.url)
    ctx = CycleContext(config=config, store=store, connectors=connectors, state_dir=folder / ".leadq")  # type: ignore[arg-type]
    if clock is not None:
        ctx.clock = clock  # type: ignore[assignment]
    return ctx


def set_up_context(
    folder: Path, server: SandboxServer, crm: str, monkeypatch: object, replace: dict[str, str] | None = None
) -> CycleContext:
    """The `leadq init --sandbox` config for `crm` (with `replace` substitutions), `leadq setup` run, and a
    fresh process's context on it."""
    config = load(sandbox_config(folder, server, crm, replace=replace), server, monkeypatch)
    set_up(config)
    return context(config, folder)


def close(ctx: CycleContext) -> None:
    for connector in ctx.connectors.values():
        connector.close()
    ctx.store.close()


def now() -> datetime:
    return datetime.now(UTC)
