"""The connector's errors, grouped by what the caller does about them.

| class | the caller ... |
| --- | --- |
| `RetryableError` | retries later (the connector already retried with backoff) |
| `AuthError` | re-authenticates, or stops and asks for new credentials (`AuthConfigError`) |
| `RateLimitedError` | waits `retry_after` seconds |
| `QuotaExhaustedError` | stops the cycle early, keeps what is done, resumes next cycle |
| `RecordRejectedError` | rejects one record, never the batch |
| `ConnectorConfigError` | stops: the config or the CRM setup must be fixed (the message says how) |

Messages say what happened, to which object or record, and what to do; they never contain secrets.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    def __init__(
        self, message: str, *, crm: str = "", status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.crm = crm
        self.status = status
        self.code = code

    def __str__(self) -> str:
        prefix = f"{self.crm}: " if self.crm else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{prefix}{self.args[0]}{code}"


class RetryableError(ConnectorError):
    """A transient failure that persisted through the connector's own retries; try again later."""


class AuthError(ConnectorError):
    """The session expired or was refused and could not be renewed."""


class AuthConfigError(AuthError):
    """Credentials are wrong or missing: an admin must fix them."""


class RateLimitedError(ConnectorError):
    """The CRM asked us to slow down; `retry_after` says for how long."""

    def __init__(self, message: str, *, retry_after: float, policy: str = "", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.policy = policy


class QuotaExhaustedError(ConnectorError):
    """The daily API quota (or the share of it a cycle may use) is spent: stop now, resume next cycle."""


class RecordRejectedError(ConnectorError):
    """The CRM refused one record; the rest of the batch is unaffected."""

    def __init__(
        self, message: str, *, record_id: str | None = None, fields: list[str] | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.record_id = record_id
        self.fields = fields or []


class ConnectorConfigError(ConnectorError):
    """The config or the CRM's setup is wrong (missing field, field-level security, unknown object)."""
