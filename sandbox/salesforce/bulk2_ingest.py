"""Processing a closed Bulk API 2.0 ingest job: every CSV row through the validated write path.

Each row succeeds or fails on its own (as in the real service); failures carry the real
`CODE:message:fields --` text in `sf__Error`.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from sandbox.salesforce import records
from sandbox.state import SandboxState

if TYPE_CHECKING:
    from sandbox.salesforce.bulk2 import BulkJob

_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
CHUNK = 2_000  # rows per SQLite transaction


def _error_text(exc: records.RecordError) -> str:
    fields = ",".join(exc.fields or [])
    return f"{exc.code}:{exc.message}:{fields} --"


def _rows(job: BulkJob) -> tuple[list[str], list[list[str]]]:
    header: list[str] = []
    rows: list[list[str]] = []
    for upload in job.uploads:
        reader = csv.reader(io.StringIO(upload, newline=""), delimiter=_DELIMITERS[job.column_delimiter])
        this_header = next(reader, [])
        if not header:
            header = this_header
        elif this_header != header:
            raise records.RecordError(400, "InvalidBatch", "Field names in every upload must match", None)
        rows.extend(r for r in reader if r)
    return header, rows


def _apply_one(st: SandboxState, job: BulkJob, values: dict[str, Any]) -> tuple[str, bool]:
    store = st.store
    if job.operation == "insert":
        return records.create(store, job.object, values, from_csv=True), True
    if job.operation == "upsert":
        assert job.external_id is not None
        key = values.pop(job.external_id, None)
        return records.upsert(store, job.object, job.external_id, str(key or ""), values, from_csv=True)
    return records.delete(store, job.object, str(values.get("Id", "") or "")), False


def _run_chunk(st: SandboxState, job: BulkJob, header: list[str], chunk: list[list[str]]) -> None:
    """Apply one chunk of rows; updates go through the batch fast path, the rest row by row."""
    outcomes: list[tuple[str, bool] | records.RecordError] = []
    pending: list[tuple[int, str, dict[str, Any]]] = []
    for row in chunk:
        values: dict[str, Any] = dict(zip(header, row, strict=False))
        row_id = str(values.get("Id", "") or "")
        if st.faults.draw("lock_row"):
            outcomes.append(records.unable_to_lock(1, row_id))
        elif job.operation == "update":
            values.pop("Id", None)
            pending.append((len(outcomes), row_id, values))
            outcomes.append(records.RecordError(500, "UNKNOWN_EXCEPTION", "not processed", []))
        else:
            try:
                outcomes.append(_apply_one(st, job, values))
            except records.RecordError as exc:
                outcomes.append(exc)
    if pending:
        results = records.update_many(
            st.store, job.object, [(rid, v) for _, rid, v in pending], from_csv=True
        )
        for (position, _, _), result in zip(pending, results, strict=True):
            outcomes[position] = result if isinstance(result, records.RecordError) else (result, False)
    for row, outcome in zip(chunk, outcomes, strict=True):
        if isinstance(outcome, records.RecordError):
            job.failed.append(
                [str(dict(zip(header, row, strict=False)).get("Id", "") or ""), _error_text(outcome), *row]
            )
        else:
            record_id, created = outcome
            job.successful.append([record_id, "true" if created else "false", *row])
        job.processed += 1


def process(st: SandboxState, job: BulkJob) -> None:
    """Run every uploaded row; the job ends JobComplete (or Failed if the upload itself is unreadable)."""
    try:
        header, rows = _rows(job)
    except (records.RecordError, csv.Error) as exc:
        job.state = "Failed"
        job.error_message = f"InvalidBatch : {exc}"
        return
    job.upload_header = header
    if job.operation in ("delete", "hardDelete") and header != ["Id"]:
        job.state = "Failed"
        job.error_message = "InvalidBatch : The 'delete' batch must contain only 'Id' field"
        return
    job.state = "InProgress"
    for start in range(0, len(rows), CHUNK):
        with st.store.transaction():
            _run_chunk(st, job, header, rows[start : start + CHUNK])
    job.state = "JobComplete"
