"""Helpers for the admin-command tests: configs wired to the in-process sandbox, and the CLI runner."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mappings import SANDBOX_TOKEN_ENV, write_default_config
from sandbox import SandboxServer
from sync.cli import app
from sync.state import StateStore
from tests.sync.test_state_support import BACKENDS, FakeClock, open_store

Invoke = Callable[..., Result]


@pytest.fixture()
def token_env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sandbox token in the variable `leadq init --sandbox` configs read it from."""
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, sandbox.token)
    return sandbox.token


@pytest.fixture()
def invoke() -> Invoke:
    """Run `leadq ARGS...` in-process; stdout and stderr are kept apart."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


@pytest.fixture()
def init_config(tmp_path: Path, sandbox: SandboxServer, token_env: str) -> Callable[..., Path]:
    """What `leadq init --sandbox URL --ca-bundle CA [--crm ...]` writes, in a temporary folder."""

    def write(*crms: str) -> Path:
        return write_default_config(
            tmp_path / "leadq.yaml",
            crms=crms or ("salesforce", "hubspot"),
            sandbox_url=sandbox.url,
            ca_bundle=sandbox.ca_path,
            overwrite=True,
        )

    return write


def salesforce_config(tmp_path: Path, sandbox: SandboxServer, mapping: str = "") -> Path:
    """A Salesforce-only config on the sandbox; `mapping` (YAML at block level) replaces default keys."""
    text = textwrap.dedent(
        f"""\
        salesforce:
          connection:
            instance_url: "{sandbox.url}"
            ca_bundle: "{sandbox.ca_path}"
            auth:
              method: access_token
              access_token: {{env: {SANDBOX_TOKEN_ENV}}}
        """
    ) + textwrap.indent(textwrap.dedent(mapping), "  ")
    path = tmp_path / "leadq.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def findings(result: Result) -> list[dict[str, Any]]:
    """The findings of a `leadq check --json` run."""
    doc = json.loads(result.stdout)
    found: list[dict[str, Any]] = doc["findings"]
    return found


def only(items: list[dict[str, Any]], **match: str) -> list[dict[str, Any]]:
    """The findings whose keys equal `match`."""
    return [f for f in items if all(f.get(k) == v for k, v in match.items())]


# ---- the state store tests: one store per test, on SQLite and (when configured) PostgreSQL ----------------


@pytest.fixture()
def clock() -> FakeClock:
    """A clock the test moves by hand (the store's `now`)."""
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    """An empty state store on each configured backend, on `clock`."""
    with open_store(request.param, tmp_path, clock) as opened:
        yield opened
