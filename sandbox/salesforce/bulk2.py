"""Salesforce Bulk API 2.0: query jobs (CSV results paged by `Sforce-Locator`) and ingest jobs.

Query jobs snapshot their result when created, as the real service does once the job runs; on a file-backed
store the snapshot is rendered to CSV a results page at a time (`sandbox.soql.lazy`), off the event loop,
and a job whose snapshot was released (idle while writes went on, or evicted; see
`sandbox.store_base.Snapshots`) refuses further results reads. Ingest jobs
collect uploaded CSV until closed, then process every row through the same validated write path as the
REST API, keeping per-row successful and failed results.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.clock import sf_datetime
from sandbox.errors import JSONResponse, SfApiError
from sandbox.ids import sf_id
from sandbox.soql.result import QueryResult
from sandbox.state import SandboxState
from sandbox.store import integration_user_id
from sandbox.store_base import SnapshotExpired

_JOB_NUMBER = iter(range(1, 10**9))
_JOB_LOCK = threading.Lock()
DEFAULT_MAX_RECORDS = 50_000
_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_OPERATIONS_QUERY = ("query", "queryAll")
_OPERATIONS_INGEST = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class BulkJob:
    """One Bulk API 2.0 job and everything it holds."""

    id: str
    kind: str  # "query" | "ingest"
    operation: str
    object: str
    api_version: float
    created: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    modstamp: str = ""
    query: str | None = None
    external_id: str | None = None
    columns: list[str] = field(default_factory=list)
    result: QueryResult | None = None  # a query job's answer
    uploads: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    upload_header: list[str] = field(default_factory=list)
    processed: int = 0
    error_message: str | None = None

    def info(self, *, detail: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": integration_user_id(),
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
        }
        if self.external_id:
            out["externalIdFieldName"] = self.external_id
        out.update(
            {
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": self.api_version,
            }
        )
        if self.kind == "ingest":
            out["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        out.update({"lineEnding": self.line_ending, "columnDelimiter": self.column_delimiter})
        if detail:
            out["jobType"] = "V2Query" if self.kind == "query" else "V2Ingest"
            out["numberRecordsProcessed"] = self.processed
            if self.kind == "ingest":
                out["numberRecordsFailed"] = len(self.failed)
            out["retries"] = 0
            out["totalProcessingTime"] = 0
            if self.kind == "ingest":
                out["apiActiveProcessingTime"] = 0
                out["apexProcessingTime"] = 0
            else:
                out["isPkChunkingSupported"] = True
            if self.error_message:
                out["errorMessage"] = self.error_message
        return out


def _version(request: Request) -> float:
    return float(request.path_params["version"])


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise SfApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc.msg}") from exc
    if not isinstance(body, dict):
        raise SfApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of job info from array value")
    return body


def _new_job(
    st: SandboxState, kind: str, operation: str, obj: str, version: float, body: dict[str, Any]
) -> BulkJob:
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    ending = str(body.get("lineEnding") or "LF")
    if delimiter not in _DELIMITERS:
        raise SfApiError(400, "INVALIDJOB", f"Invalid column delimiter: {delimiter}")
    if ending not in _LINE_ENDINGS:
        raise SfApiError(400, "INVALIDJOB", f"Invalid line ending: {ending}")
    with _JOB_LOCK:
        number = next(_JOB_NUMBER)
    now = sf_datetime(st.store.clock.now())
    job = BulkJob(sf_id("750", number), kind, operation, obj, version, now, delimiter, ending)
    st.bulk_jobs[job.id] = job
    return job


def _job(st: SandboxState, job_id: str, kind: str) -> BulkJob:
    job = st.bulk_jobs.get(job_id)
    if not isinstance(job, BulkJob) or job.kind != kind:
        raise SfApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return job


# ---------------------------------------------------------------- query jobs
async def create_query_job(request: Request) -> Response:
    st = sandbox_state(request)
    body = await _json_body(request)
    operation = body.get("operation")
    if operation not in _OPERATIONS_QUERY:
        raise SfApiError(400, "INVALIDJOB", f"Invalid operation: {operation}; expected query or queryAll")
    soql = body.get("query")
    if not isinstance(soql, str) or not soql.strip():
        raise SfApiError(400, "INVALIDJOB", "Query is required for a query job")
    result = await run_in_threadpool(_run_query, st, soql, operation == "queryAll")
    try:
        job = _new_job(st, "query", operation, result.object_name, _version(request), body)
    except BaseException:
        result.close()
        raise
    job.query = soql
    job.columns = list(result.columns)
    job.result = result
    job.state = "UploadComplete"
    response = job.info(detail=False)
    job.state = "JobComplete"
    job.processed = len(result)
    job.modstamp = sf_datetime(st.store.clock.now())
    return JSONResponse(response)


def _run_query(st: SandboxState, soql: str, include_deleted: bool) -> QueryResult:
    from sandbox.soql import execute

    result = execute(st.store, soql, include_deleted=include_deleted)
    try:
        len(result)  # the count, while still in the worker thread
    except BaseException:
        result.close()
        raise
    return result


def _csv_value(value: Any) -> str:
    kind = type(value)  # most cells are text: asked first, and by exact type
    if kind is str:
        text: str = value
        if len(text) == 28 and text[10] == "T" and text.endswith("+0000"):
            return text[:-5] + "Z"  # Bulk API 2.0 writes datetimes in UTC with a Z
        return text
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is float and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


async def query_results(request: Request) -> Response:
    st = sandbox_state(request)
    job = _job(st, request.path_params["job_id"], "query")
    if job.state != "JobComplete":
        raise SfApiError(400, "INVALIDJOB", f"Job {job.id} is not complete: {job.state}")
    try:
        max_records = int(request.query_params.get("maxRecords", DEFAULT_MAX_RECORDS))
        start = (
            int(request.query_params.get("locator") or "0", 36) if request.query_params.get("locator") else 0
        )
    except ValueError as exc:
        raise SfApiError(400, "INVALID_LOCATOR", "The locator is invalid") from exc
    if max_records <= 0 or start < 0 or start > job.processed:
        raise SfApiError(400, "INVALID_LOCATOR" if start else "INVALIDJOB", "Invalid maxRecords or locator")
    body, count = await run_in_threadpool(_results_csv, job, start, max_records)
    end = start + count
    locator = _to36(end) if end < job.processed else "null"
    return Response(
        body, media_type="text/csv", headers={"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)}
    )


def _results_csv(job: BulkJob, start: int, max_records: int) -> tuple[bytes, int]:
    """Rows `start:start+max_records` of a query job as its CSV (header first), and how many there are."""
    assert job.result is not None
    try:
        page = job.result.rows_between(start, start + max_records)
    except SnapshotExpired:
        raise SfApiError(
            400, "INVALIDJOB", f"The results of job {job.id} are no longer available: create the job again"
        ) from None
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=_DELIMITERS[job.column_delimiter], lineterminator=_LINE_ENDINGS[job.line_ending],
        quoting=csv.QUOTE_ALL,
    )  # fmt: skip
    writer.writerow(job.columns)
    writer.writerows([_csv_value(v) for v in row] for row in page)
    return out.getvalue().encode("utf-8"), len(page)


def _to36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# ---------------------------------------------------------------- ingest jobs
async def create_ingest_job(request: Request) -> Response:
    st = sandbox_state(request)
    body = await _json_body(request)
    operation = body.get("operation")
    if operation not in _OPERATIONS_INGEST:
        raise SfApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    obj_name = body.get("object")
    obj = st.store.sf_object(str(obj_name)) if obj_name else None
    if obj is None:
        raise SfApiError(400, "INVALIDJOB", f"Entity '{obj_name}' is not supported by the Bulk API.")
    if body.get("contentType", "CSV") != "CSV":
        raise SfApiError(400, "INVALIDJOB", "Only CSV content is supported")
    ext = body.get("externalIdFieldName")
    if operation == "upsert":
        if not ext:
            raise SfApiError(400, "INVALIDJOB", "External ID was blank for upsert")
        field_ = st.store.sf_field(obj.name, str(ext))
        if field_ is None or not (field_.external_id or field_.name == "Id"):
            raise SfApiError(400, "INVALIDJOB", f"Field {ext} is not an external id field on {obj.name}")
        ext = field_.name
    job = _new_job(st, "ingest", operation, obj.name, _version(request), body)
    job.external_id = str(ext) if ext else None
    return JSONResponse(job.info(detail=False))


async def upload_batch(request: Request) -> Response:
    st = sandbox_state(request)
    job = _job(st, request.path_params["job_id"], "ingest")
    if job.state != "Open":
        raise SfApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is not open for data upload: {job.state}")
    data = (await request.body()).decode("utf-8-sig", errors="replace")
    if not data.strip():
        raise SfApiError(400, "INVALIDJOB", "Found no data to upload")
    job.uploads.append(data)
    return Response(status_code=201)


async def patch_job(request: Request) -> Response:
    st = sandbox_state(request)
    kind = "query" if "/jobs/query/" in request.url.path else "ingest"
    job = _job(st, request.path_params["job_id"], kind)
    body = await _json_body(request)
    wanted = body.get("state")
    if wanted == "Aborted":
        if job.state in ("JobComplete", "Failed"):
            raise SfApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is already {job.state}")
        job.state = "Aborted"
    elif wanted == "UploadComplete" and kind == "ingest":
        if job.state != "Open":
            raise SfApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is not open: {job.state}")
        job.state = "UploadComplete"
        response = job.info(detail=False)
        from sandbox.salesforce import bulk2_ingest  # the validated write path loads with the REST routes

        bulk2_ingest.process(st, job)
        job.modstamp = sf_datetime(st.store.clock.now())
        return JSONResponse(response)
    else:
        raise SfApiError(400, "INVALIDJOBSTATE", f"Cannot change the job state to {wanted}")
    job.modstamp = sf_datetime(st.store.clock.now())
    return JSONResponse(job.info(detail=False))


async def get_job(request: Request) -> Response:
    st = sandbox_state(request)
    kind = "query" if "/jobs/query/" in request.url.path else "ingest"
    job = _job(st, request.path_params["job_id"], kind)
    if request.method == "DELETE":
        if job.state in ("Open", "UploadComplete", "InProgress"):
            raise SfApiError(400, "INVALIDJOBSTATE", "Only jobs that are closed or aborted can be deleted")
        del st.bulk_jobs[job.id]
        if job.result is not None:
            job.result.close()
        return Response(status_code=204)
    return JSONResponse(job.info(detail=True))


async def list_jobs(request: Request) -> Response:
    st = sandbox_state(request)
    kind = "query" if request.url.path.rstrip("/").endswith("query") else "ingest"
    jobs = [j.info(detail=False) for j in st.bulk_jobs.values() if isinstance(j, BulkJob) and j.kind == kind]
    return JSONResponse({"done": True, "records": jobs, "nextRecordsUrl": None})


async def ingest_results(request: Request) -> Response:
    st = sandbox_state(request)
    job = _job(st, request.path_params["job_id"], "ingest")
    which = request.path_params["which"].lower()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    if which == "successfulresults":
        writer.writerow(["sf__Id", "sf__Created", *job.upload_header])
        writer.writerows(job.successful)
    elif which == "failedresults":
        writer.writerow(["sf__Id", "sf__Error", *job.upload_header])
        writer.writerows(job.failed)
    elif which == "unprocessedrecords":
        writer.writerow(job.upload_header)
    else:
        raise SfApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv")


_V = "/services/data/v{version:float}/jobs"
ROUTES: list[BaseRoute] = [
    Route(f"{_V}/query", create_query_job, methods=["POST"]),
    Route(f"{_V}/query", list_jobs, methods=["GET"]),
    Route(f"{_V}/query/{{job_id}}/results", query_results, methods=["GET"]),
    Route(f"{_V}/query/{{job_id}}", get_job, methods=["GET", "DELETE"]),
    Route(f"{_V}/query/{{job_id}}", patch_job, methods=["PATCH"]),
    Route(f"{_V}/ingest", create_ingest_job, methods=["POST"]),
    Route(f"{_V}/ingest", list_jobs, methods=["GET"]),
    Route(f"{_V}/ingest/{{job_id}}/batches", upload_batch, methods=["PUT"]),
    Route(f"{_V}/ingest/{{job_id}}/{{which}}", ingest_results, methods=["GET"]),
    Route(f"{_V}/ingest/{{job_id}}", get_job, methods=["GET", "DELETE"]),
    Route(f"{_V}/ingest/{{job_id}}", patch_job, methods=["PATCH"]),
]
