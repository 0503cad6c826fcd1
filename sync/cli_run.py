"""`leadq run`: the daemon. Loads leadq.yaml, opens the state store, connects to each CRM, serves `/healthz`
and `/metrics`, and runs sync cycles on the config's schedule until SIGTERM or SIGINT.

Nothing starts half-configured: a config error exits 2, a CRM whose connector cannot be built exits 2, a
state store that cannot be opened or a port already taken exits 1, all before the first cycle.

`LEADQ_STATE_DIR`, when set, is where models and reports go instead of `.leadq/` next to the config, and
where the default state database (`leadq.db` next to the config) goes; an explicit other `state.url` is
kept. The Docker image sets it to `/state`, so the config can be mounted read-only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import ConnectorError
from connector.protocol import CRMConnector
from connector.salesforce import SalesforceConnector
from mappings import ConfigError, Crm, LeadqConfig, load_config
from sync.cli_check import connection_error
from sync.connectors import ConnectionSetupError, build_connector, secret_refs
from sync.context import CycleContext, state_dir_for
from sync.daemon import Daemon
from sync.health import HealthServer
from sync.logs import configure_logging, parse_level, redact
from sync.metrics import Metrics, QuotaReading
from sync.report import RunReport
from sync.state import DEFAULT_DB_NAME, StateStore, default_url
from sync.validate import validate_startup

log = logging.getLogger(__name__)

STATE_DIR_ENV = "LEADQ_STATE_DIR"
DEFAULT_PORT = 9464
CycleFactory = Callable[[CycleContext], RunReport]


class StartupError(Exception):
    """The daemon cannot start; `code` is the exit code (2: configuration, 1: environment)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def state_dir(config_path: Path) -> Path:
    """`$LEADQ_STATE_DIR` if set, else `.leadq/` next to the config."""
    override = os.environ.get(STATE_DIR_ENV, "").strip()
    return Path(override).resolve() if override else state_dir_for(config_path)


def state_url(config_path: Path, config: LeadqConfig) -> str:
    """`state.url`, except that the default database (`leadq.db` next to the config) moves into
    `$LEADQ_STATE_DIR` when that is set, so a stock config works with a read-only config mount."""
    override = os.environ.get(STATE_DIR_ENV, "").strip()
    if override and config.state.url == default_url(config_path):
        return f"sqlite:///{Path(override).resolve() / DEFAULT_DB_NAME}"
    return config.state.url


def config_secrets(config: LeadqConfig) -> list[str]:
    """Secret values the log filter must mask: the CRMs' credentials and the database password."""
    values = [ref.reveal() for crm in config.crms for ref in secret_refs(config, crm) if ref.resolved]
    password = make_url(config.state.url).password
    if password:
        values.append(str(password))
    # Masking a very short value (the sandbox's documented `sandbox` token) would shred ordinary words.
    return [v for v in values if len(v) >= 8]


def _default_cycle(ctx: CycleContext) -> RunReport:
    # Imported on first use: the cycle module pulls in the whole scoring stack.
    from sync.cycle import run_cycle

    return run_cycle(ctx)


@contextmanager
def open_context(
    config_path: Path, config: LeadqConfig, stop_event: threading.Event
) -> Iterator[CycleContext]:
    """The `CycleContext` of the daemon: state store and connectors, closed on exit."""
    url = state_url(config_path, config)
    folder = state_dir(config_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"cannot create the state folder {folder} ({exc.strerror or type(exc).__name__}): mount it "
            f"writable or point {STATE_DIR_ENV} elsewhere",
            1,
        ) from None
    with ExitStack() as stack:
        try:
            store = StateStore.open(url)
        except (SQLAlchemyError, OSError) as exc:
            shown = make_url(url).render_as_string(hide_password=True)
            message = redact(f"cannot open the state store {shown}: {exc}", config_secrets(config))
            raise StartupError(f"{message}; check state.url in {config_path}", 1) from None
        stack.callback(store.close)
        connectors: dict[Crm, CRMConnector] = {}
        for crm in config.crms:
            try:
                connector = build_connector(config, crm)
            except (ConnectionSetupError, ConnectorError) as exc:
                raise StartupError(connection_error(config, crm, exc).message, 2) from None
            stack.callback(connector.close)
            connectors[crm] = connector
        yield CycleContext(
            config=config,
            store=store,
            connectors=connectors,
            state_dir=folder,
            stop_requested=stop_event.is_set,
        )


def backlog_of(ctx: CycleContext) -> Callable[[], dict[str, int]]:
    """Open (and escalated) review tasks per CRM, for the backlog gauge."""

    def read() -> dict[str, int]:
        return {
            crm: len(ctx.store.review_tasks(crm, "open")) + len(ctx.store.review_tasks(crm, "escalated"))
            for crm in ctx.crms
        }

    return read


def quota_of(ctx: CycleContext) -> Callable[[], dict[str, QuotaReading]]:
    """The org's API quota per CRM as last reported (Salesforce's `Sforce-Limit-Info`)."""

    def read() -> dict[str, QuotaReading]:
        out: dict[str, QuotaReading] = {}
        for crm, connector in ctx.connectors.items():
            if isinstance(connector, SalesforceConnector):
                usage = connector.quota
                out[crm] = (usage.org_used, usage.org_limit)
        return out

    return read


def serve(
    config_path: Path,
    *,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    log_level: str = "INFO",
    json_logs: bool = True,
    cycle: CycleFactory | None = None,
    stop_event: threading.Event | None = None,
    max_cycles: int | None = None,
    on_start: Callable[[Daemon, CycleContext], None] | None = None,
) -> int:
    """Load, connect and run the daemon until stopped; returns the exit code. Raises `StartupError`.

    `cycle`, `stop_event`, `max_cycles` and `on_start` are seams for tests and embedding.
    """
    try:
        config = load_config(config_path)
        validate_startup(config, path=config_path)
    except ConfigError as exc:
        raise StartupError(str(exc), 2) from None
    try:
        level = parse_level(log_level)
    except ValueError as exc:
        raise StartupError(str(exc), 2) from None
    configure_logging(level, json=json_logs, secrets=config_secrets(config))
    stop = stop_event if stop_event is not None else threading.Event()
    run_one = cycle or _default_cycle
    with open_context(config_path, config, stop) as ctx:
        metrics = Metrics(backlog=backlog_of(ctx), quota=quota_of(ctx))
        try:
            daemon = Daemon(lambda: run_one(ctx), config.schedule, metrics, stop)
        except ValueError as exc:  # a cron expression with an impossible value
            raise StartupError(f"{exc} (in {config_path})", 2) from None
        try:
            daemon.health = HealthServer(daemon.health_state, metrics, host=host, port=port)
        except OSError as exc:
            raise StartupError(
                f"cannot serve /healthz and /metrics on {host}:{port}: {exc.strerror}", 1
            ) from None
        if on_start is not None:
            on_start(daemon, ctx)
        log.info("leadq run: %s, CRMs %s, state in %s", config_path, ", ".join(ctx.crms), ctx.state_dir)
        return daemon.run(max_cycles=max_cycles)


def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The config to run with.", dir_okay=False)
    ] = Path("leadq.yaml"),
    port: Annotated[
        int, typer.Option("--port", help="Port of /healthz and /metrics (0: any free one).")
    ] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to serve /healthz and /metrics on.")
    ] = "0.0.0.0",
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.", case_sensitive=False)
    ] = "INFO",
    text_logs: Annotated[
        bool, typer.Option("--text-logs", help="Plain text logs instead of JSON lines.")
    ] = False,
) -> None:
    """Run sync cycles on the config's schedule until stopped (SIGTERM finishes the current batch first)."""
    try:
        code = serve(config, host=host, port=port, log_level=log_level, json_logs=not text_logs)
    except StartupError as exc:
        Console(stderr=True).print(Text("error: ", style="red") + Text(str(exc)))
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)
