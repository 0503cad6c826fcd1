"""Salesforce failures to connector errors, through `connector.classify` (never ad-hoc in call sites).

A REST error body is `[{"message": ..., "errorCode": ..., "fields": [...]}]`; simple-salesforce raises it
as a `SalesforceError` with `status` and the parsed `content`. Transport failures (reset, timeout) have no
status and are transient. Messages are built from the CRM's code and message only, never from headers or
request bodies, so they cannot carry a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from connector.classify import Action, Rule, classify
from connector.errors import (
    AuthError,
    ConnectorConfigError,
    ConnectorError,
    RateLimitedError,
    RecordRejectedError,
    RetryableError,
)

CRM = "salesforce"


@dataclass(frozen=True)
class Failure:
    """One failed call, reduced to what the table needs."""

    status: int | None
    code: str | None
    message: str
    fields: tuple[str, ...] = ()

    @property
    def rule(self) -> Rule:
        return classify(CRM, self.status, self.code)


def error_entry(content: Any) -> tuple[str | None, str, tuple[str, ...]]:
    """`(errorCode, message, fields)` of a REST error body (a list of entries, or one entry)."""
    entry = content[0] if isinstance(content, list) and content else content
    if isinstance(entry, dict):
        code = entry.get("errorCode") or entry.get("statusCode") or entry.get("error")
        message = entry.get("message") or entry.get("error_description") or ""
        fields = entry.get("fields") or ()
        return (str(code) if code else None), str(message), tuple(str(f) for f in fields)
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
    return None, text[:500], ()


def failure_of(exc: BaseException) -> Failure | None:
    """The `Failure` behind an exception from simple-salesforce or requests; None if it is neither."""
    if isinstance(exc, SalesforceError):
        code, message, fields = error_entry(exc.content)
        return Failure(int(exc.status), code, message or exc.__class__.__name__, fields)
    if isinstance(exc, requests.RequestException):
        return Failure(None, None, f"no answer from Salesforce ({type(exc).__name__})")
    if isinstance(exc, SalesforceOperationError):
        # A Bulk API 2.0 job ended Failed/Aborted or timed out: the job can be run again.
        return Failure(None, "BULK_JOB_FAILED", str(exc)[:500])
    return None


def tls_error(exc: BaseException, what: str) -> ConnectorConfigError | None:
    """An untrusted certificate is a setup problem, not a transient one: say so instead of retrying."""
    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    return ConnectorConfigError(
        f"{what}: the Salesforce server's TLS certificate could not be verified; if it is signed by a private "
        "CA, set ca_bundle in the Salesforce settings to that CA's PEM file",
        crm=CRM,
        code="TLS_VERIFY_FAILED",
    )


def to_error(failure: Failure, what: str) -> ConnectorError:
    """The connector error for a failure of `what` (a short description of the call)."""
    rule = failure.rule
    code = f" {failure.code}" if failure.code else ""
    status = failure.status if failure.status is not None else "no response"
    text = f"{what}: Salesforce answered {status}{code}: {failure.message}"
    kw: dict[str, Any] = {"crm": CRM, "status": failure.status, "code": failure.code}
    if rule.action is Action.RETRY:
        return RetryableError(text, **kw)
    if rule.action is Action.RATE_LIMIT:
        return RateLimitedError(text, retry_after=5.0, **kw)
    if rule.action is Action.REFRESH:
        return AuthError(text, **kw)
    if rule.action is Action.CONFIG:
        return ConnectorConfigError(f"{text}. {rule.hint}", **kw)
    if rule.action is Action.QUOTA:
        return RetryableError(text, **kw)  # callers turn QUOTA into QuotaExhaustedError with usage figures
    return RecordRejectedError(text, fields=list(failure.fields), **kw)
