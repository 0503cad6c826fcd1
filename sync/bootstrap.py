"""Build the `CycleContext` of a command from leadq.yaml: config, state store, one connector per CRM.

`open_context` is what `leadq sync --once` (and anything else that runs a cycle outside the daemon) starts
with; `close_context` releases what it opened. A config error propagates as `ConfigError` (commands print
it and exit 2); a state store or connector that cannot be set up is a `ContextError` whose message names
the CRM or database and what to check, never a secret, and whose `code` is the exit code to use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import ConnectorError
from connector.protocol import CRMConnector
from mappings import Crm, LeadqConfig, load_config
from sync.cli_check import connection_error
from sync.connectors import ConnectionSetupError, build_connector, redact
from sync.context import CycleContext, state_dir_for
from sync.state import StateStore
from sync.validate import validate_startup

STATE_DIR_ENV = "LEADQ_STATE_DIR"
ConnectorFactory = Callable[..., CRMConnector]


class ContextError(Exception):
    """The context cannot be built; `code` is the exit code (2: configuration, 1: environment)."""

    def __init__(self, message: str, code: int, *, crm: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.crm = crm


def resolve_state_dir(config_path: Path, state_dir: Path | None = None) -> Path:
    """`state_dir` if given, else `$LEADQ_STATE_DIR` if set, else `.leadq/` next to the config."""
    if state_dir is not None:
        return state_dir
    override = os.environ.get(STATE_DIR_ENV, "").strip()
    return Path(override).resolve() if override else state_dir_for(config_path)


def tuning_for(crm: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The connector settings overrides of one CRM.

    Top-level keys apply to every CRM; a `salesforce:` or `hubspot:` key holds a mapping that applies to
    that CRM only and wins over the top-level ones: `{"max_retries": 1, "salesforce": {"bulk_threshold": 0}}`.
    """
    if not overrides:
        return {}
    shared = {k: v for k, v in overrides.items() if k not in ("salesforce", "hubspot")}
    own = overrides.get(crm) or {}
    if not isinstance(own, Mapping):
        raise TypeError(
            f"connector_overrides[{crm!r}] must be a mapping of settings, not {type(own).__name__}"
        )
    return {**shared, **own}


def open_store(config: LeadqConfig, config_path: Path) -> StateStore:
    """The state store of `config` (migrated to the newest schema); `ContextError` (code 1) if it cannot open."""
    url = config.state.url
    try:
        return StateStore.open(url)
    except (SQLAlchemyError, OSError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        # The driver's text may quote the URL with its password; redact masks the CRM secrets as well.
        password = make_url(url).password
        detail = str(exc) if not password else str(exc).replace(str(password), "***")
        message = redact(f"cannot open the state store {shown}: {detail}", config)
        raise ContextError(f"{message}; check state.url in {config_path}", 1) from None


def open_context(
    config_path: Path,
    *,
    state_dir: Path | None = None,
    connector_overrides: Mapping[str, Any] | None = None,
    config: LeadqConfig | None = None,
    factory: ConnectorFactory = build_connector,
) -> CycleContext:
    """Load `config_path` (secrets resolved), open its state store and build one connector per CRM.

    `state_dir` defaults to `$LEADQ_STATE_DIR` or `.leadq/` next to the config; `connector_overrides`
    tune the connectors (see `tuning_for`). `config` skips loading when the caller has the config already;
    `factory` builds a connector (tests inject their own). Close the result with `close_context`.

    Raises `ConfigError` for a config that cannot be used and `ContextError` when the store or a connector
    cannot be set up (whatever was opened before is closed again).
    """
    loaded = config if config is not None else load_config(config_path)
    validate_startup(loaded, path=config_path)
    store = open_store(loaded, config_path)
    connectors: dict[Crm, CRMConnector] = {}
    try:
        for crm in loaded.crms:
            try:
                connectors[crm] = factory(loaded, crm, **tuning_for(crm, connector_overrides))
            except (ConnectionSetupError, ConnectorError) as exc:
                raise ContextError(connection_error(loaded, crm, exc).message, 2, crm=crm) from None
    except BaseException:
        with suppress(Exception):  # the build failure is the error to report, not a failed close
            _close_all(connectors.values(), store)
        raise
    return CycleContext(
        config=loaded,
        store=store,
        connectors=connectors,
        state_dir=resolve_state_dir(config_path, state_dir),
    )


def close_context(ctx: CycleContext) -> None:
    """Close every connector of `ctx`, then its state store (each even if an earlier one fails)."""
    _close_all(ctx.connectors.values(), ctx.store)


def _close_all(connectors: Iterable[CRMConnector], store: StateStore) -> None:
    errors: list[BaseException] = []
    for connector in list(connectors):
        try:
            connector.close()
        except Exception as exc:  # keep closing the others; report the first failure
            errors.append(exc)
    try:
        store.close()
    except Exception as exc:
        errors.append(exc)
    if errors:
        raise errors[0]
