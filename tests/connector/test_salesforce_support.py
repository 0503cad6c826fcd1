"""Helpers the Salesforce connector tests share (no tests here): settings and connectors for the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connector.protocol import FieldSpec
from connector.salesforce import SalesforceConnector, SalesforceSettings
from sandbox import SandboxServer

T0 = datetime(2031, 3, 1, 9, 0, 0, tzinfo=UTC)
SCORE = FieldSpec("Lead", "leadq_Score__c", "leadq Score", "number", precision=3, scale=0)
KEY = FieldSpec("Task", "leadq_Key__c", "leadq Key", "text", length=100, external_id=True)
FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.01, "bulk_poll_seconds": 0}


def settings_for(sandbox: SandboxServer, **overrides: Any) -> SalesforceSettings:
    """OAuth client credentials against the sandbox, trusted by its CA bundle only; fast retries."""
    values: dict[str, Any] = {
        "instance_url": sandbox.url,
        "auth": "client_credentials",
        "client_id": sandbox.state.client_id,
        "client_secret": sandbox.state.client_secret,
        "ca_bundle": sandbox.ca_path,
        **FAST,
        **overrides,
    }
    return SalesforceSettings(**values)


_OPEN: list[SalesforceConnector] = []


def connector_for(sandbox: SandboxServer, **overrides: Any) -> SalesforceConnector:
    """A connector closed by `close_connectors()` (an open keep-alive connection slows sandbox shutdown)."""
    conn = SalesforceConnector(settings_for(sandbox, **overrides))
    _OPEN.append(conn)
    return conn


def close_connectors() -> None:
    while _OPEN:
        _OPEN.pop().close()


def leads(n: int, **values: Any) -> list[dict[str, Any]]:
    return [
        {"FirstName": f"Ada{i}", "LastName": f"Lovelace{i}", "Company": "Acme", **values} for i in range(n)
    ]


def freeze(sandbox: SandboxServer, at: datetime = T0) -> datetime:
    sandbox.store.clock.freeze(at)
    return at


def later(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)


def all_records(pages: Any) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]
