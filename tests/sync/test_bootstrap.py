"""`sync.bootstrap`: the cycle context built from leadq.yaml against the in-process sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import AuthConfigError
from connector.hubspot import HubSpotConnector
from connector.salesforce import SalesforceConnector
from mappings import SANDBOX_TOKEN_ENV, ConfigError, LeadqConfig
from sandbox import SandboxServer
from sync.bootstrap import STATE_DIR_ENV, ContextError, close_context, open_context, tuning_for
from sync.connectors import build_connector
from sync.context import state_dir_for


def test_context_has_one_working_connector_per_crm_and_the_store(
    sandbox: SandboxServer, init_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    config = init_config()
    ctx = open_context(config)
    try:
        assert ctx.crms == ["salesforce", "hubspot"]
        assert isinstance(ctx.connectors["salesforce"], SalesforceConnector)
        assert isinstance(ctx.connectors["hubspot"], HubSpotConnector)
        # The connectors reach the sandbox through its CA: a describe is a real HTTPS round trip.
        assert "Email" in ctx.connectors["salesforce"].describe("Lead").fields
        assert "email" in ctx.connectors["hubspot"].describe("contacts").fields
        run = ctx.store.start_run()
        assert ctx.store.get_run(run.id) is not None
        assert ctx.state_dir == state_dir_for(config) == config.parent / ".leadq"
        assert (config.parent / "leadq.db").is_file(), "the default SQLite file lives next to the config"
    finally:
        close_context(ctx)


def test_state_dir_comes_from_the_argument_then_the_environment(
    sandbox: SandboxServer, init_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = init_config("salesforce")
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "from-env"))
    ctx = open_context(config)
    close_context(ctx)
    assert ctx.state_dir == (tmp_path / "from-env").resolve()
    assert list(ctx.connectors) == ["salesforce"]
    ctx = open_context(config, state_dir=tmp_path / "explicit")
    close_context(ctx)
    assert ctx.state_dir == tmp_path / "explicit"


def test_overrides_tune_every_crm_and_one_crm(
    sandbox: SandboxServer, init_config: Callable[..., Path]
) -> None:
    config = init_config()
    overrides = {"max_retries": 1, "hubspot": {"max_retries": 0, "connect_timeout": 2.5}}
    ctx = open_context(config, connector_overrides=overrides)
    try:
        sf, hs = ctx.connectors["salesforce"], ctx.connectors["hubspot"]
        assert isinstance(sf, SalesforceConnector) and isinstance(hs, HubSpotConnector)
        assert sf.settings.max_retries == 1
        assert (hs.settings.max_retries, hs.settings.connect_timeout) == (0, 2.5)
    finally:
        close_context(ctx)


@given(
    shared=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers()),
    own=st.dictionaries(st.sampled_from(["b", "c", "d"]), st.integers()),
)
def test_per_crm_overrides_win_over_shared_ones(shared: dict[str, int], own: dict[str, int]) -> None:
    tuning = tuning_for("hubspot", {**shared, "hubspot": own, "salesforce": {"a": -1}})
    assert tuning == {**shared, **own}
    assert tuning_for("salesforce", {**shared, "hubspot": own}) == shared


def test_a_config_error_propagates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_context(tmp_path / "missing.yaml")


def test_a_missing_secret_is_a_config_error_naming_the_variable(
    sandbox: SandboxServer, init_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = init_config()
    monkeypatch.delenv(SANDBOX_TOKEN_ENV)
    with pytest.raises(ConfigError, match=SANDBOX_TOKEN_ENV):
        open_context(config)


class _Recorder:
    """A stand-in connector that only records being closed."""

    crm = "salesforce"

    def __init__(self, closed: list[str]) -> None:
        self._closed = closed

    def close(self) -> None:
        self._closed.append(self.crm)


def test_a_connector_that_cannot_be_built_closes_what_was_opened(
    sandbox: SandboxServer, init_config: Callable[..., Path]
) -> None:
    config = init_config()
    closed: list[str] = []
    secret = "hs-private-app-token-0123456789"

    def factory(cfg: LeadqConfig, crm: str, **tuning: Any) -> Any:
        if crm == "hubspot":
            raise AuthConfigError(f"token {secret} lacks the crm.objects.contacts scope", crm="HubSpot")
        return _Recorder(closed)

    with pytest.raises(ContextError) as raised:
        open_context(config, factory=factory)
    assert raised.value.code == 2 and raised.value.crm == "hubspot"
    assert "HubSpot" in str(raised.value) and "refused the credentials" in str(raised.value)
    assert secret not in str(raised.value)
    assert closed == ["salesforce"]


def test_a_state_store_that_cannot_open_is_an_environment_error(
    sandbox: SandboxServer, init_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = init_config("hubspot")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be", encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace(
        "sqlite:///leadq.db", f"sqlite:///{blocker}/db/leadq.db"
    )
    config.write_text(text, encoding="utf-8")
    built: list[str] = []

    def factory(cfg: LeadqConfig, crm: str, **tuning: Any) -> Any:
        built.append(crm)
        return build_connector(cfg, crm, **tuning)

    with pytest.raises(ContextError) as raised:
        open_context(config, factory=factory)
    assert raised.value.code == 1
    assert "cannot open the state store" in str(raised.value) and "state.url" in str(raised.value)
    assert built == [], "no connector is built when the store cannot open"
