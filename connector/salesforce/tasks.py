"""Review tasks and notes as Salesforce Tasks, idempotent by the key in the custom field `leadq_Key__c`.

Before creating, the keys are looked up (with `queryAll`, so a task someone deleted is not created again);
existing ones are reported WRITTEN with their id and `created=False`. Creation goes through sObject
Collections (`POST composite/sobjects`, 200 a call). A create whose answer was lost (timeout, 5xx) is not
simply re-sent: the next attempt looks the keys up again first, so a retry never duplicates a task.
Notes are completed Tasks whose key is stored as `note:<key>`, which keeps them out of `completed_tasks`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from connector.errors import QuotaExhaustedError, RateLimitedError, RecordRejectedError, RetryableError
from connector.protocol import ChangePage, NoteSpec, RawRecord, TaskSpec, WriteOutcome, WriteStatus
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import DescribeCache, Described
from connector.salesforce.outcomes import for_error, from_collection_entry, retry_pending, written
from connector.salesforce.pull import Puller
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.values import to_json

TASK = "Task"
KEY_FIELD = "leadq_Key__c"
NOTE_PREFIX = "note:"
LOOKUP_CHUNK = 100  # keys per `IN (...)`: keeps the query URL well under the 16 KB limit
CREATE_CHUNK = 200
SUBJECT_MAX = 255


class Tasks:
    """Creates and reads leadq's Tasks for one connector."""

    def __init__(
        self, client: SalesforceClient, describes: DescribeCache, settings: SalesforceSettings, puller: Puller
    ) -> None:
        self.client = client
        self.describes = describes
        self.settings = settings
        self.puller = puller

    def _task_object(self) -> tuple[Described, str]:
        described = self.describes.get(TASK)
        return described, described.writable(KEY_FIELD, create=True)

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
        """One outcome per task, in order; duplicates of a key share the first one's outcome."""
        if not tasks:
            return []
        described, key_field = self._task_object()
        records: dict[str, dict[str, Any]] = {}
        for spec in tasks:
            record = {
                "Subject": spec.subject[:SUBJECT_MAX],
                "Description": spec.body,
                "ActivityDate": spec.due.date().isoformat(),
                "Priority": spec.priority,
                "Status": "Not Started",
                key_field: spec.idempotency_key,
            }
            if spec.who_id:  # a task about no person (a drift alert for the admin) has no WhoId
                record["WhoId"] = spec.who_id
            if spec.owner_id:
                record["OwnerId"] = spec.owner_id
            record.update({described.writable(k, create=True): to_json(v) for k, v in spec.extra.items()})
            records.setdefault(spec.idempotency_key, record)
        outcomes = self._create(records, key_field)
        return [outcomes[spec.idempotency_key] for spec in tasks]

    def create_notes(self, notes: Sequence[NoteSpec]) -> list[WriteOutcome]:
        """Notes as completed Tasks; one outcome per note, keyed by the note's own idempotency key."""
        if not notes:
            return []
        _, key_field = self._task_object()
        records: dict[str, dict[str, Any]] = {}
        for note in notes:
            first_line = next((line.strip() for line in note.body.splitlines() if line.strip()), "leadq note")
            records.setdefault(
                NOTE_PREFIX + note.idempotency_key,
                {
                    "WhoId": note.who_id,
                    "Subject": first_line[:SUBJECT_MAX],
                    "Description": note.body,
                    "ActivityDate": note.at.date().isoformat(),
                    "Status": "Completed",
                    key_field: NOTE_PREFIX + note.idempotency_key,
                },
            )
        outcomes = self._create(records, key_field)
        out = []
        for note in notes:
            o = outcomes[NOTE_PREFIX + note.idempotency_key]
            out.append(
                WriteOutcome(note.idempotency_key, o.status, o.crm_id, o.code, o.message, o.fields, o.created)
            )
        return out

    def completed_tasks(
        self, fields: Sequence[str], cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[ChangePage]:
        """leadq review tasks closed in the window (`leadq_Key__c != null AND IsClosed = true`)."""

        def is_review_task(record: RawRecord) -> bool:
            return not str(record.get(KEY_FIELD) or "").startswith(NOTE_PREFIX)

        return self.puller.changes(
            TASK,
            [*fields, KEY_FIELD],
            cursor,
            run_started=run_started,
            conditions=(f"{KEY_FIELD} != {{no_key}}", "IsClosed = {closed}"),
            params={"no_key": None, "closed": True},
            keep=is_review_task,
        )

    # ------------------------------------------------------------------ create, idempotently
    def _create(self, records: Mapping[str, dict[str, Any]], key_field: str) -> dict[str, WriteOutcome]:
        outcomes: dict[str, WriteOutcome] = {}
        state: dict[str, Any] = {"pending": list(records), "quota": None}

        def fail(keys: Sequence[str], exc: Exception) -> None:
            assert isinstance(
                exc, RetryableError | RateLimitedError | RecordRejectedError | QuotaExhaustedError
            )
            for key in keys:
                outcomes[key] = for_error(key, None, exc)

        def send() -> bool:
            pending: list[str] = state["pending"]
            try:
                existing = self._existing(pending, key_field)
            except (QuotaExhaustedError, RetryableError, RateLimitedError) as exc:
                state["quota"] = exc if isinstance(exc, QuotaExhaustedError) else None
                fail(pending, exc)
                return False
            for key, task_id in existing.items():
                outcomes[key] = written(key, task_id, created=False)
            retry: list[str] = []
            to_create = [k for k in pending if k not in existing]
            for start in range(0, len(to_create), CREATE_CHUNK):
                chunk = to_create[start : start + CREATE_CHUNK]
                if state["quota"] is not None:
                    fail(chunk, state["quota"])
                    continue
                try:
                    results = self._post([records[k] for k in chunk])
                except QuotaExhaustedError as exc:
                    state["quota"] = exc
                    fail(chunk, exc)
                    continue
                except (RetryableError, RateLimitedError) as exc:
                    fail(chunk, exc)
                    retry.extend(
                        chunk
                    )  # the answer may be lost, not the create: look the keys up again first
                    continue
                except RecordRejectedError as exc:
                    fail(chunk, exc)
                    continue
                for key, entry in zip(chunk, results, strict=False):
                    outcomes[key] = from_collection_entry(key, None, entry, created=True)
                    if outcomes[key].status is WriteStatus.RETRYABLE:
                        retry.append(key)
            state["pending"] = retry
            return bool(retry) and state["quota"] is None

        retry_pending(self.settings, send)
        return outcomes

    def _existing(self, keys: Sequence[str], key_field: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = list(keys[start : start + LOOKUP_CHUNK])
            soql = format_soql(
                "SELECT Id, {key:literal} FROM Task WHERE {key:literal} IN {keys}", key=key_field, keys=chunk
            )

            def run(sf: Salesforce, soql: str = soql) -> list[dict[str, Any]]:
                return list(sf.query_all(soql, include_deleted=True)["records"])

            for row in self.client.call(f"look up {len(chunk)} Task keys", run):
                key = str(row.get(key_field) or "")
                found.setdefault(key, str(row["Id"]))
        return found

    def _post(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = json.dumps(
            {"allOrNone": False, "records": [{"attributes": {"type": TASK}, **r} for r in records]}
        )

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            return list(sf.restful("composite/sobjects", method="POST", data=body) or [])

        # Not retried here: a retry must look the keys up again first (see `_create`).
        return self.client.call(f"create {len(records)} Tasks (sObject Collections)", run, retry=False)
