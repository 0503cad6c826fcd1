"""Field updates: sObject Collections (`PATCH composite/sobjects`, 200 a call, `allOrNone=false`), or a
Bulk API 2.0 ingest job (update) above `bulk_threshold` records.

Only the given fields are sent. Several updates of one record in one call are merged in order (a
collections request may not name an Id twice), and each gets the merged record's outcome. Records that
fail transiently (`UNABLE_TO_LOCK_ROW`) are sent again with backoff; what is still undecided after that
is reported RETRYABLE. When the quota runs out mid-way, the records not yet sent are reported RETRYABLE
with the quota's code, and the connector raises `QuotaExhaustedError` on its next call.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import JobState, Operation, ResultsType

from connector.errors import (
    ConnectorError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordRejectedError,
    RetryableError,
)
from connector.protocol import RecordUpdate, WriteOutcome, WriteStatus
from connector.salesforce.client import SalesforceClient, bulk_jobs
from connector.salesforce.describe import DescribeCache
from connector.salesforce.outcomes import (
    for_error,
    from_bulk_error,
    from_collection_entry,
    retry_pending,
    written,
)
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.values import to_csv, to_json

COLLECTION_SIZE = 200
# A Bulk API 2.0 job takes 100 MB of CSV (less what base64 would add; simple-salesforce keeps 1 MB spare).
MAX_UPLOAD_BYTES = 99 * 1024 * 1024
_ABORTABLE = frozenset({JobState.open, JobState.upload_complete, JobState.in_progress})
_CALL_FAILURES = (RetryableError, RateLimitedError, RecordRejectedError, QuotaExhaustedError)


class _Batch:
    """The state of one `apply_updates` call: merged values per Id and the outcome decided so far."""

    def __init__(self, obj: str, values: dict[str, dict[str, Any]]) -> None:
        self.obj = obj
        self.values = values
        self.outcomes: dict[str, WriteOutcome] = {}
        self.transient: list[str] = list(values)  # to send (again): not yet sent, or failed transiently
        self.quota: QuotaExhaustedError | None = None

    def decide(self, outcome: WriteOutcome, *, per_record: bool = True) -> None:
        self.outcomes[outcome.key] = outcome
        if per_record and outcome.status is WriteStatus.RETRYABLE:
            self.transient.append(outcome.key)

    def fail_all(self, ids: Sequence[str], exc: ConnectorError) -> None:
        for record_id in ids:
            self.decide(for_error(record_id, record_id, exc), per_record=False)


class Writer:
    """Writes field values for one connector."""

    def __init__(
        self, client: SalesforceClient, describes: DescribeCache, settings: SalesforceSettings
    ) -> None:
        self.client = client
        self.describes = describes
        self.settings = settings

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        """One outcome per update, in input order."""
        if not updates:
            return []
        described = self.describes.get(obj)
        merged: dict[str, dict[str, Any]] = {}
        for update in updates:
            values = {described.writable(name): value for name, value in update.values.items()}
            merged.setdefault(update.id, {}).update(values)
        batch = _Batch(described.name, merged)

        def send() -> bool:
            ids, batch.transient = batch.transient, []
            if batch.quota is None and ids:
                self._send(batch, ids)
            return bool(batch.transient) and batch.quota is None

        retry_pending(self.settings, send)
        return [batch.outcomes[u.id] for u in updates]

    def _send(self, batch: _Batch, ids: list[str]) -> None:
        if len(ids) > self.settings.bulk_threshold:
            self._bulk(batch, ids)
            return
        for start in range(0, len(ids), COLLECTION_SIZE):
            chunk = ids[start : start + COLLECTION_SIZE]
            if batch.quota is not None:
                batch.fail_all(chunk, batch.quota)
                continue
            try:
                self._collection(batch, chunk)
            except QuotaExhaustedError as exc:
                batch.quota = exc
                batch.fail_all(chunk, exc)
            except _CALL_FAILURES as exc:
                batch.fail_all(chunk, exc)

    def _collection(self, batch: _Batch, ids: list[str]) -> None:
        body = json.dumps(
            {
                "allOrNone": False,
                "records": [
                    {
                        "attributes": {"type": batch.obj},
                        "id": i,
                        **{k: to_json(v) for k, v in batch.values[i].items()},
                    }
                    for i in ids
                ],
            }
        )

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            return list(sf.restful("composite/sobjects", method="PATCH", data=body) or [])

        results = self.client.call(f"update {len(ids)} {batch.obj} records (sObject Collections)", run)
        for i, entry in zip(ids, results, strict=False):
            batch.decide(from_collection_entry(i, i, entry))
        for i in ids[len(results) :]:  # the API answers every record; guard against a short answer anyway
            batch.decide(for_error(i, i, RetryableError("no result for this record", code="NO_RESULT")))

    def _bulk(self, batch: _Batch, ids: list[str]) -> None:
        uploads = _uploads(ids, batch.values)
        poll = self.settings.bulk_poll_seconds

        # Rows in neither result set were not processed: no need to ask for `unprocessedrecords` too.
        def run(sf: Salesforce) -> list[tuple[str, str]]:
            jobs = bulk_jobs(sf, batch.obj)
            return [_ingest(jobs, upload, poll) for upload in uploads]

        try:
            reports = self.client.call(f"Bulk API 2.0 update of {len(ids)} {batch.obj} records", run)
        except QuotaExhaustedError as exc:
            batch.quota = exc
            batch.fail_all(ids, exc)
            return
        except _CALL_FAILURES as exc:
            batch.fail_all(ids, exc)
            return
        seen: set[str] = set()
        for successful, failed_rows in reports:
            for record_id, _ in _result_rows(successful):
                seen.add(record_id)
                batch.decide(written(record_id, record_id))
            for record_id, error in _result_rows(failed_rows):
                seen.add(record_id)
                batch.decide(from_bulk_error(record_id, record_id, error))
        for record_id in ids:
            if record_id not in seen:
                batch.decide(
                    WriteOutcome(
                        record_id,
                        WriteStatus.RETRYABLE,
                        crm_id=record_id,
                        code="NOT_PROCESSED",
                        message="the Bulk API job did not process this record",
                    ),
                    per_record=False,
                )


def _uploads(
    ids: Sequence[str], values: dict[str, dict[str, Any]], limit: int = MAX_UPLOAD_BYTES
) -> list[str]:
    """The records as Bulk API 2.0 CSV uploads, one job's each: an `Id` column, then every field any of
    them sets; a record's empty cell leaves that field alone (`#N/A` clears one). More than a job's 100 MB
    is halved until each part fits (`limit` bytes)."""
    columns = list(dict.fromkeys(name for i in ids for name in values[i]))

    def row(record_id: str) -> list[str]:
        fields = values[record_id]
        return [record_id, *(to_csv(fields[c]) if c in fields else "" for c in columns)]

    out = io.StringIO()
    # Every cell quoted: the writer would leave a carriage return bare (it is not in "\n"), and a bare one
    # ends the row for the reader; a quoted empty cell is still empty (the field left alone).
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["Id", *columns])
    writer.writerows(map(row, ids))
    text = out.getvalue()
    if len(ids) > 1 and len(text.encode()) > limit:
        half = len(ids) // 2
        return [*_uploads(ids[:half], values, limit), *_uploads(ids[half:], values, limit)]
    return [text]


def _ingest(jobs: Any, upload: str, poll: float) -> tuple[str, str]:
    """Run one update job to its end: (successful results, failed results), each CSV. A job that fails
    part-way is aborted, so that it never runs after the call is retried."""
    job_id = str(jobs.create_job(Operation.update)["id"])
    try:
        jobs.upload_job_data(job_id, upload)
        jobs.close_job(job_id)
        jobs.wait_for_job(job_id, False, poll)
    except Exception:
        with contextlib.suppress(Exception):  # the job's own error is the one worth reporting
            if jobs.get_job(job_id, False)["state"] in _ABORTABLE:
                jobs.abort_job(job_id, False)
        raise
    return (
        jobs.get_ingest_results(job_id, ResultsType.successful),
        jobs.get_ingest_results(job_id, ResultsType.failed),
    )


def _result_rows(text: str) -> Iterator[tuple[str, str]]:
    """(record id, `sf__Error`) of each row of an ingest job's results CSV; the id is the row's `Id` cell,
    else its `sf__Id`, else empty, and the error empty where there is none (as `csv.DictReader` reads
    them: a name's last column, missing cells empty, blank lines skipped)."""
    reader = csv.reader(io.StringIO(text or "", newline=""))
    columns = {name: n for n, name in enumerate(next(reader, []))}
    picks = [columns.get(name) for name in ("Id", "sf__Id", "sf__Error")]

    def cell(cells: list[str], at: int | None) -> str:
        return cells[at] if at is not None and at < len(cells) else ""

    for cells in reader:
        if cells:
            own, given, error = (cell(cells, at) for at in picks)
            yield own or given, error
