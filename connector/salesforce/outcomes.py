"""Per-record results (sObject Collections entries, Bulk API 2.0 result rows) to `WriteOutcome`s.

Also the retry loop for records that failed transiently (`UNABLE_TO_LOCK_ROW`): the still-pending ones are
sent again with backoff (tenacity) until they are decided or the attempts run out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential, wait_random
from tenacity.wait import wait_base

from connector.classify import Action, classify
from connector.errors import ConnectorError, QuotaExhaustedError
from connector.protocol import WriteOutcome, WriteStatus
from connector.salesforce.failures import CRM
from connector.salesforce.settings import SalesforceSettings


def written(key: str, crm_id: str | None, *, created: bool = False) -> WriteOutcome:
    return WriteOutcome(key, WriteStatus.WRITTEN, crm_id=crm_id, created=created)


def failed(
    key: str, crm_id: str | None, code: str | None, message: str, fields: tuple[str, ...] = ()
) -> WriteOutcome:
    """REJECTED or RETRYABLE, as the outcome table says for this per-record error code."""
    rule = classify(CRM, 400, code)
    if rule.action in (Action.RETRY, Action.RATE_LIMIT, Action.QUOTA, Action.REFRESH):
        return WriteOutcome(
            key, WriteStatus.RETRYABLE, crm_id=crm_id, code=code, message=message, fields=fields
        )
    text = f"{message}. {rule.hint}" if rule.action is Action.CONFIG and rule.hint else message
    return WriteOutcome(key, WriteStatus.REJECTED, crm_id=crm_id, code=code, message=text, fields=fields)


def from_collection_entry(
    key: str, crm_id: str | None, entry: dict[str, Any], *, created: bool = False
) -> WriteOutcome:
    """One entry of a collections response: `{"id", "success", "errors": [{"statusCode", ...}]}`."""
    if entry.get("success"):
        return written(key, str(entry.get("id") or crm_id or "") or None, created=created)
    errors = entry.get("errors") or [{}]
    first = errors[0]
    fields = tuple(str(f) for e in errors for f in e.get("fields") or ())
    return failed(key, crm_id, first.get("statusCode"), str(first.get("message") or "rejected"), fields)


def from_bulk_error(key: str, crm_id: str | None, text: str) -> WriteOutcome:
    """A Bulk API 2.0 `sf__Error` cell: `CODE:message:Field1,Field2 --`."""
    code, _, rest = text.partition(":")
    message, _, fields_part = rest.rpartition(":")
    if not message:  # no field list: "CODE:message"
        message, fields_part = rest, ""
    fields = tuple(f.strip() for f in fields_part.replace("--", "").split(",") if f.strip())
    return failed(key, crm_id, code.strip() or None, message.strip(), fields)


def for_error(key: str, crm_id: str | None, exc: ConnectorError) -> WriteOutcome:
    """The outcome of a record whose whole call failed with `exc` (after the call's own retries)."""
    status = (
        WriteStatus.REJECTED if exc.status is not None and 400 <= exc.status < 500 else WriteStatus.RETRYABLE
    )
    if isinstance(exc, QuotaExhaustedError) or exc.status in (401, 403, 408, 429):
        status = WriteStatus.RETRYABLE
    return WriteOutcome(key, status, crm_id=crm_id, code=exc.code, message=str(exc.args[0]))


def backoff_of(settings: SalesforceSettings) -> wait_base:
    """Exponential backoff from `backoff_initial` up to `backoff_max`, plus up to `backoff_initial` of jitter."""
    return wait_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max) + wait_random(
        0, settings.backoff_initial
    )


def retry_pending(settings: SalesforceSettings, send: Callable[[], bool]) -> None:
    """Call `send()` (which sends what is still pending, returning True while some remain) with backoff."""
    Retrying(
        stop=stop_after_attempt(settings.max_retries + 1),
        wait=backoff_of(settings),
        retry=retry_if_result(bool),
        retry_error_callback=lambda state: None,
    )(send)
