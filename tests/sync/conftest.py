"""Helpers for the admin-command tests: configs wired to the in-process sandbox, and the CLI runner."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mappings import SANDBOX_TOKEN_ENV, Crm, load_config, write_default_config
from sandbox import SandboxServer
from sync.cli import app
from sync.connectors import build_connector
from sync.state import StateStore
from tests.connector.test_hubspot_support import FAST as HS_FAST
from tests.connector.test_hubspot_support import unlimited
from tests.connector.test_salesforce_support import FAST as SF_FAST
from tests.sync.cli_ops_support import make_app
from tests.sync.review_support import ReviewOrg, review_context
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


# ---- the review lifecycle tests (test_review*.py): one SQLite store, and a CRM set up for review tasks -----


@pytest.fixture()
def review_store(tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    """An empty SQLite state store on `clock`."""
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state' / 'leadq.db'}", clock=clock)
    yield opened
    opened.close()


@pytest.fixture(params=["salesforce", "hubspot"])
def review_org(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    init_config: Callable[..., Path],
    invoke: Invoke,
    review_store: StateStore,
    tmp_path: Path,
) -> Iterator[ReviewOrg]:
    """Each CRM of the sandbox after `leadq setup`, with a person to review and a connector to it."""
    crm: Crm = request.param
    path = init_config(crm)
    assert invoke("setup", "--config", str(path)).exit_code == 0
    unlimited(sandbox)
    config = load_config(path)
    connector = build_connector(config, crm, **(SF_FAST if crm == "salesforce" else HS_FAST))
    ctx = review_context(config, review_store, tmp_path, {crm: connector})
    try:
        yield ReviewOrg(crm, sandbox, config, ctx)
    finally:
        connector.close()


# ---- the operator command tests (test_cli_ops*.py): the commands, on a config nothing answers -------------


@pytest.fixture()
def ops() -> Invoke:
    """Run the operator commands in-process, 220 columns wide; stdout and stderr are kept apart."""
    runner = CliRunner()
    app = make_app()

    def run(*args: str) -> Result:
        result = runner.invoke(app, list(args), env={"COLUMNS": "220"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


@pytest.fixture()
def offline_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both CRMs configured at an address nothing listens on, secrets unset, CA file absent."""
    monkeypatch.delenv(SANDBOX_TOKEN_ENV, raising=False)
    return write_default_config(
        tmp_path / "leadq.yaml", sandbox_url="https://127.0.0.1:9", ca_bundle=tmp_path / "absent-ca.pem"
    )


@pytest.fixture()
def offline_store(offline_config: Path) -> Iterator[StateStore]:
    """The state store `offline_config` names, for seeding what the read-only commands show."""
    opened = StateStore.open(load_config(offline_config, resolve=False).state.url)
    yield opened
    opened.close()
