"""Helpers the HubSpot connector tests share (no tests here): settings and connectors for the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from connector.hubspot import HubSpotConnector, HubSpotSettings
from connector.protocol import ChangePage, FieldSpec
from sandbox import LimitConfig, SandboxServer

T0 = datetime(2031, 3, 1, 9, 0, 0, tzinfo=UTC)
KEY = FieldSpec("tasks", "leadq_key", "leadq key", "text")
NOTE_KEY = FieldSpec("notes", "leadq_key", "leadq key", "text")
# fast retries, and pacing out of the way unless a test is about pacing
FAST: dict[str, Any] = {
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "requests_per_10s": 100_000,
    "search_per_second": 10_000,
}


def settings_for(sandbox: SandboxServer, **overrides: Any) -> HubSpotSettings:
    """A private-app token against the sandbox, trusted by its CA bundle only; fast retries."""
    values: dict[str, Any] = {
        "base_url": sandbox.url,
        "token": SecretStr(sandbox.token),
        "ca_bundle": str(sandbox.ca_path),
        **FAST,
        **overrides,
    }
    return HubSpotSettings(**values)


def connector_for(sandbox: SandboxServer, **overrides: Any) -> HubSpotConnector:
    return HubSpotConnector(settings_for(sandbox, **overrides))


def unlimited(sandbox: SandboxServer) -> None:
    """Lift the sandbox's rate limits (tests about volume, not pacing)."""
    sandbox.state.set_limits(LimitConfig(hs_ten_second_limit=1_000_000, hs_search_per_second=1_000_000))


def freeze(sandbox: SandboxServer, at: datetime = T0) -> datetime:
    sandbox.store.clock.freeze(at)
    return at


def later(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)


def contacts(n: int, prefix: str = "ada", **values: str) -> list[dict[str, str | None]]:
    return [{"email": f"{prefix}{i}@example.com", "firstname": f"Ada{i}", **values} for i in range(n)]


def all_records(pages: Iterable[ChangePage]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def settle_log(sandbox: SandboxServer, total: int, timeout: float = 5.0) -> None:
    """Wait until the sandbox has logged `total` requests (it logs after the answer is sent)."""
    deadline = time.monotonic() + timeout
    while sandbox.state.log.snapshot()["total"] < total and time.monotonic() < deadline:
        time.sleep(0.01)


def sandbox_statuses(
    sandbox: SandboxServer, path_part: str = "", *, at_least: int = 0
) -> list[tuple[str, str, int, str | None]]:
    """(method, path, status, injected fault) of every request the sandbox saw, optionally filtered.

    `at_least`: how many requests in all the sandbox must have logged first (it logs after answering).
    """
    settle_log(sandbox, at_least)
    return [
        (r["method"], r["path"], r["status"], r["fault"])
        for r in sandbox.state.log.snapshot()["requests"]
        if path_part in r["path"]
    ]
