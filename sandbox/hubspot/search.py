"""`POST /crm/v3/objects/{objectType}/search`: filter, sort and page live HubSpot records.

Paging is by offset: `paging.next.after` is the offset of the next page as a string, as the real API answers.
A query may read at most 10,000 results: a request whose `after + limit` goes past that is refused with 400
(while `total` keeps reporting the true count), so syncing clients must restart their window instead.
Without `sorts`, results come in creation order (HubSpot's default, seen in recorded responses), ties broken by id.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hs_schema import modified_property
from sandbox.hubspot.common import resolve_type
from sandbox.hubspot.filters import compile_search
from sandbox.hubspot.render import render_objects
from sandbox.hubspot.search_request import parse_groups, parse_sorts
from sandbox.store import Store

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
_COUNTS_KEPT = 64
# per store: (table, where, params) -> ((change counter, data_version), count)
_COUNTS: weakref.WeakKeyDictionary[
    Store, OrderedDict[tuple[str, str, tuple[object, ...]], tuple[tuple[int, int], int]]
] = weakref.WeakKeyDictionary()


async def read_json_body(request: Request) -> Any:
    """The request body as JSON, or HubSpot's 400 for a body that is not JSON."""
    raw = await request.body()
    try:
        return orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise HsApiError(
            400, f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}", "VALIDATION_ERROR"
        ) from None


def _int_field(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise hs_validation(f"Invalid input JSON: {key} must be an integer")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise hs_validation(f"Invalid input JSON: {key} must be an integer, got {value!r}")


def always_returned(type_: str) -> tuple[str, ...]:
    """Properties a search returns on top of the requested ones (creation, modification stamps and the id)."""
    created = "hs_createdate" if type_ in ("tasks", "notes") else "createdate"
    return (created, modified_property(type_), "hs_object_id")


def search_records(store: Store, type_: str, body: Any) -> dict[str, Any]:
    """Run one search request body against the store; the response body, or HsApiError."""
    if not isinstance(body, dict):
        raise hs_validation("Invalid input JSON: the search request must be a JSON object")
    limit = _int_field(body, "limit", DEFAULT_LIMIT)
    if limit < 0 or limit > MAX_LIMIT:
        raise hs_validation(f"Invalid limit: {limit}. The limit must be between 0 and {MAX_LIMIT}.")
    offset = _int_field(body, "after", 0)
    if offset < 0:
        raise hs_validation(f"Invalid after: {offset}. It must be a non-negative integer.")
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise hs_validation("Invalid input JSON: query must be a string")
    requested = body.get("properties")
    if requested is not None and (
        not isinstance(requested, list) or not all(isinstance(p, str) for p in requested)
    ):
        raise hs_validation("Invalid input JSON: properties must be an array of strings")
    specs = store.hs_properties(type_)
    compiled = compile_search(type_, specs, parse_groups(body), parse_sorts(body.get("sorts")), query)
    if offset + limit > MAX_RESULTS:
        # the real API refuses to page past its 10,000-result window, whatever the total
        raise hs_validation("There was a problem with the request.")
    with store.lock:
        for statement in compiled.indexes:
            store.conn.execute(statement)
        table = "hs_object" if compiled.use_index is None else f'hs_object INDEXED BY "{compiled.use_index}"'
        total = _count(store, table, compiled.where, compiled.where_params)
        # the page's ids first, from the index where the filters allow it; then only those rows are read
        ids = [
            int(row[0])
            for row in store.sql(
                f"SELECT id FROM {table} WHERE {compiled.where} ORDER BY {compiled.order} LIMIT ? OFFSET ?",
                [*compiled.where_params, *compiled.order_params, limit, offset],
            )
        ]
        found = store.hs_get_many(type_, ids)
    wanted: list[str] | None = None
    if requested:
        # unknown names are left out, as HubSpot does; the stamps and the id always come back
        wanted = [p for p in dict.fromkeys([*requested, *always_returned(type_)]) if p in specs]
    results = render_objects([found[i] for i in ids if i in found], wanted)
    out: dict[str, Any] = {"total": total, "results": results}
    if limit > 0 and offset + len(results) < total:
        out["paging"] = {"next": {"after": str(offset + len(results))}}
    return out


def _count(store: Store, table: str, where: str, params: list[object]) -> int:
    """How many records match, remembered until the database changes.

    Paging a window re-runs one query dozens of times; counting 100,000 matches each time cost more than the
    page itself. The connection's change counter and SQLite's `data_version` (changes by other connections)
    tell when a remembered count may be stale. Call with the store's lock held.
    """
    version = (store.conn.total_changes, int(store.conn.execute("PRAGMA data_version").fetchone()[0]))
    key = (table, where, tuple(params))
    counts = _COUNTS.setdefault(store, OrderedDict())
    hit = counts.get(key)
    if hit is not None and hit[0] == version:
        counts.move_to_end(key)
        return hit[1]
    total = int(store.sql(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0][0])
    counts[key] = (version, total)
    counts.move_to_end(key)
    while len(counts) > _COUNTS_KEPT:
        counts.popitem(last=False)
    return total


async def search(request: Request) -> Response:
    """POST /crm/v3/objects/{objectType}/search."""
    type_ = resolve_type(request.path_params["object_type"])
    body = await read_json_body(request)
    return JSONResponse(search_records(sandbox_state(request).store, type_, body))


ROUTES: list[BaseRoute] = [Route("/crm/v3/objects/{object_type}/search", search, methods=["POST"])]
