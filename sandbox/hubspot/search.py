"""`POST /crm/v3/objects/{objectType}/search`: filter, sort and page live HubSpot records.

Paging is by offset: `paging.next.after` is the offset of the next page as a string, as the real API answers.
A query may read at most 10,000 results: a request whose `after + limit` goes past that is refused with 400
(while `total` keeps reporting the true count), so syncing clients must restart their window instead.
Without `sorts`, results come in creation order (HubSpot's default, seen in recorded responses), ties broken by id.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hs_schema import modified_property
from sandbox.hubspot.filters import (
    compile_search,
    ensure_functions,
    parse_groups,
    parse_sorts,
    resolve_object_type,
)
from sandbox.hubspot.render import render_object
from sandbox.store import HsRecord, Store

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000


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
        ensure_functions(store)
        total = int(
            store.sql(f"SELECT COUNT(*) FROM hs_object WHERE {compiled.where}", compiled.where_params)[0][0]
        )
        rows = store.sql(
            f"SELECT * FROM hs_object WHERE {compiled.where} ORDER BY {compiled.order} LIMIT ? OFFSET ?",
            [*compiled.where_params, *compiled.order_params, limit, offset],
        )
    wanted: list[str] | None = None
    if requested:
        # unknown names are left out, as HubSpot does; the stamps and the id always come back
        wanted = [p for p in dict.fromkeys([*requested, *always_returned(type_)]) if p in specs]
    results = [render_object(_record(row), wanted) for row in rows]
    out: dict[str, Any] = {"total": total, "results": results}
    if limit > 0 and offset + len(results) < total:
        out["paging"] = {"next": {"after": str(offset + len(results))}}
    return out


def _record(row: Any) -> HsRecord:
    return HsRecord(
        type=row["type"],
        id=int(row["id"]),
        props=orjson.loads(row["props"]),
        created_ms=int(row["created_ms"]),
        updated_ms=int(row["updated_ms"]),
        archived=bool(row["archived"]),
        archived_ms=row["archived_ms"],
    )


async def search(request: Request) -> Response:
    """POST /crm/v3/objects/{objectType}/search."""
    type_ = resolve_object_type(request.path_params["object_type"])
    body = await read_json_body(request)
    return JSONResponse(search_records(sandbox_state(request).store, type_, body))


ROUTES: list[BaseRoute] = [Route("/crm/v3/objects/{object_type}/search", search, methods=["POST"])]
