"""Salesforce query endpoints: `query`, `queryAll` and their continuation locators.

`GET /services/data/vXX.X/query?q=SOQL` (and `queryAll`, which also sees soft-deleted rows) runs the query
once, answers the first page, and keeps the snapshot under a locator while pages remain:
`nextRecordsUrl` is `/services/data/vXX.X/query/<locator>-<offset>`. As in the real API, that URL says
`query` even for a `queryAll`, and either path reads any locator. Pages hold 2,000 records, or the
`batchSize` asked for in `Sforce-Query-Options` (200 to 2,000).

On a file-backed store an answer is rendered a page at a time from its snapshot (`sandbox.soql.lazy`), so
a page of a million-row answer costs a page; a locator whose snapshot was released (idle while writes went
on, or evicted) answers INVALID_QUERY_LOCATOR, as an expired one does on the real API.
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse, SfApiError, sf_not_found
from sandbox.soql import QueryResult, execute
from sandbox.soql.cursors import QueryCursors
from sandbox.store_base import SnapshotExpired

DEFAULT_BATCH = 2000
MIN_BATCH = 200
_VERSION = re.compile(r"v(\d+\.\d)")
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_LOCATOR = re.compile(r"([A-Za-z0-9]{15,18})-(\d{1,9})")
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def _version(request: Request) -> str:
    m = _VERSION.fullmatch(str(request.path_params["version"]))
    if m is None:
        raise sf_not_found()
    return m.group(1)


def _only_get(request: Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise SfApiError(
            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD"
        )


def _batch_size(request: Request) -> int | None:
    """The page size asked for in `Sforce-Query-Options`, clamped to what the real API allows."""
    m = _BATCH_OPTION.search(request.headers.get("sforce-query-options", ""))
    if m is None:
        return None
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(m.group(1))))


def _page(
    cursors: QueryCursors,
    result: QueryResult,
    version: str,
    start: int,
    batch: int,
    locator: str | None,
) -> Response:
    if result.kind == "count":
        return JSONResponse({"totalSize": result.total_size, "done": True, "records": []})
    try:
        texts = result.texts(start, start + batch)
        total = result.total_size  # known without a count when this page reached the end
    except SnapshotExpired:
        if locator is not None:
            cursors.close(locator)
        raise _invalid_locator() from None
    stop = start + len(texts)
    records = orjson.Fragment("[" + ",".join(texts) + "]")
    del texts
    done = stop >= total
    body: dict[str, object] = {"totalSize": total, "done": done}
    if not done:
        locator = locator or cursors.open(result, batch)
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{stop}"
    elif locator is not None:
        cursors.close(locator)  # fully read: the real API forgets a locator once its last batch is fetched
    else:
        result.close()  # answered in one page
    body["records"] = records
    return JSONResponse(body)


def _run(request: Request, *, include_deleted: bool) -> Response:
    _only_get(request)
    version = _version(request)
    soql = request.query_params.get("q")
    if soql is None or not soql.strip():
        raise SfApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    state = sandbox_state(request)
    result = execute(state.store, soql, include_deleted=include_deleted, version=version)
    try:
        return _page(state.query_cursors, result, version, 0, _batch_size(request) or DEFAULT_BATCH, None)
    except BaseException:
        result.close()
        raise


def query(request: Request) -> Response:
    """`GET .../query?q=`: live records only."""
    return _run(request, include_deleted=False)


def query_all(request: Request) -> Response:
    """`GET .../queryAll?q=`: soft-deleted records too (`IsDeleted = true`)."""
    return _run(request, include_deleted=True)


def query_more(request: Request) -> Response:
    """`GET .../query/<locator>-<offset>` (or `queryAll/...`): the next page of an open cursor."""
    _only_get(request)
    version = _version(request)
    state = sandbox_state(request)
    m = _LOCATOR.fullmatch(str(request.path_params["locator"]))
    cursor = state.query_cursors.get(m.group(1)) if m else None
    if m is None or cursor is None:
        raise _invalid_locator()
    try:
        beyond = int(m.group(2)) > len(cursor.result)
    except SnapshotExpired:
        state.query_cursors.close(cursor.locator)
        raise _invalid_locator() from None
    if beyond:
        raise _invalid_locator()
    batch = _batch_size(request) or cursor.batch_size
    return _page(state.query_cursors, cursor.result, version, int(m.group(2)), batch, cursor.locator)


def _invalid_locator() -> SfApiError:
    return SfApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


# Sync endpoints: Starlette runs them in its thread pool, so a large query does not stall the event loop.
ROUTES: list[BaseRoute] = [
    Route("/services/data/{version}/query", query, methods=_ALL_METHODS),
    Route("/services/data/{version}/query/", query, methods=_ALL_METHODS),
    Route("/services/data/{version}/queryAll", query_all, methods=_ALL_METHODS),
    Route("/services/data/{version}/queryAll/", query_all, methods=_ALL_METHODS),
    Route("/services/data/{version}/query/{locator}", query_more, methods=_ALL_METHODS),
    Route("/services/data/{version}/queryAll/{locator}", query_more, methods=_ALL_METHODS),
]
