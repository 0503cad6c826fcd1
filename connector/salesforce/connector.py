"""`SalesforceConnector`: the `CRMConnector` protocol over simple-salesforce.

A sync cycle brackets its work with `begin_cycle()` and `end_cycle()`:

* `begin_cycle()` starts the cycle's quota share afresh (counted from the cycle's first response) and
  forgets cached describes, so a field added in Salesforce between cycles is seen;
* `end_cycle()` returns the cycle's `CycleReport`: API calls per endpoint (taken from `calls`) and the
  quota figures from the last `Sforce-Limit-Info` header.

Without `begin_cycle()`, the share is counted from the connector's first response.

Quota: pulls, describes and `create_fields` raise `QuotaExhaustedError` when the share (code
`LEADQ_QUOTA_SHARE`) or the org's daily limit (`REQUEST_LIMIT_EXCEEDED`) is spent; the pages yielded
before are valid. Writes (`apply_updates`, `create_tasks`, `create_notes`) never lose outcomes to it:
records not sent are RETRYABLE with the quota's code, and the next call raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from simple_salesforce.api import Salesforce

from connector.accounting import CallLog
from connector.errors import ConnectorConfigError
from connector.protocol import (
    ChangePage,
    Deletion,
    FieldSpec,
    NoteSpec,
    ObjectDescription,
    RecordUpdate,
    TaskSpec,
    WriteOutcome,
)
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import DescribeCache
from connector.salesforce.fields import FieldCreator
from connector.salesforce.pull import Puller
from connector.salesforce.quota import QuotaUsage
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.tasks import Tasks
from connector.salesforce.write import Writer


@dataclass(frozen=True)
class CycleReport:
    """What one cycle cost: calls per endpoint, and the org's quota as last reported."""

    calls: dict[str, int]
    quota: QuotaUsage


class SalesforceConnector:
    """Salesforce behind the `CRMConnector` protocol (see the module docstring for the cycle contract)."""

    crm = "salesforce"
    # Batches of up to 10,000 updates: an object's share above `bulk_threshold` (2,000) goes as one Bulk API
    # 2.0 job (~6 calls) instead of 200-record sObject Collections (50 calls for 10,000).
    write_batch = 10_000

    def __init__(self, settings: SalesforceSettings, *, calls: CallLog | None = None) -> None:
        self.settings = settings
        self.calls = calls or CallLog()
        self._client = SalesforceClient(settings, self.calls)
        self._describes = DescribeCache(self._client)
        self._puller = Puller(self._client, self._describes, settings)
        self._writer = Writer(self._client, self._describes, settings)
        self._tasks = Tasks(self._client, self._describes, settings, self._puller)
        self._fields = FieldCreator(self._client, self._describes)

    def __repr__(self) -> str:
        where = self.settings.instance_url or self.settings.login_url or "login.salesforce.com"
        return f"SalesforceConnector({where!r}, auth={self.settings.method.value!r})"

    # ------------------------------------------------------------------ cycle
    def begin_cycle(self) -> None:
        """Start a cycle: a fresh quota share, fresh describes."""
        self._client.begin_cycle()
        self._describes.clear()

    def end_cycle(self) -> CycleReport:
        """End a cycle: its calls per endpoint (the `CallLog` starts afresh) and the quota figures."""
        return CycleReport(self.calls.take(), self._client.usage())

    @property
    def sf(self) -> Salesforce:
        """The signed-in simple-salesforce client, for calls the protocol does not cover (setup, tests).

        Its calls are counted in `calls` and their `Sforce-Limit-Info` read, but they are neither retried
        nor stopped by the quota share.
        """
        return self._client.sf

    @property
    def quota(self) -> QuotaUsage:
        """The org's API usage as last reported, and this cycle's share of it."""
        return self._client.usage()

    # ------------------------------------------------------------------ reads
    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        """Records of `obj` with `SystemModstamp` in `[cursor - lookback, run_started)`, oldest first.

        Every record carries the requested fields plus `Id` and `SystemModstamp`; relationship paths come
        flattened (`"Account.Name"`). The cursor is never advanced here: see `connector.cursor.advance`.
        Salesforce has no associations: relationships are read as fields (`Account.Name`).
        """
        if associations:
            raise ConnectorConfigError(
                f"Salesforce has no associations to read with {obj} ({', '.join(associations)}); "
                "name relationship fields such as Account.Name instead",
                crm="salesforce",
            )
        return self._puller.changes(obj, fields, cursor, run_started=run_started)

    def pull_deletions(
        self, obj: str, cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[list[Deletion]]:
        """Records of `obj` deleted (recycle bin) in the window, via `queryAll`."""
        return self._puller.deletions(obj, cursor, run_started=run_started)

    def describe(self, obj: str) -> ObjectDescription:
        """The object's fields as the integration user sees them (cached for the cycle)."""
        return self._describes.get(obj).description

    def completed_tasks(
        self, fields: Sequence[str], cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[ChangePage]:
        """leadq review Tasks closed in the window, with `fields` and `leadq_Key__c`."""
        return self._tasks.completed_tasks(fields, cursor, run_started=run_started)

    # ------------------------------------------------------------------ writes
    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        """Write field values (collections, or Bulk API 2.0 above the threshold); one outcome per update."""
        return self._writer.apply_updates(obj, updates)

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
        """Create review Tasks, skipping keys that exist (WRITTEN, `created=False`)."""
        return self._tasks.create_tasks(tasks)

    def create_notes(self, notes: Sequence[NoteSpec]) -> list[WriteOutcome]:
        """Create notes as completed Tasks, idempotent by key."""
        return self._tasks.create_notes(notes)

    def create_fields(self, specs: Sequence[FieldSpec]) -> list[WriteOutcome]:
        """Create custom fields with the Tooling API; existing ones are WRITTEN, `created=False`."""
        return self._fields.create_fields(specs)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SalesforceConnector:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
