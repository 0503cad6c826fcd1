"""HubSpot associations endpoints: v4 (default, labelled, list, delete, batch read/create/archive) and v3 batch.

Types, storage rules and the object-create helpers are in `sandbox.hubspot.assoc_links`; object-create endpoints
call `associate_on_create` (or `plan_create_associations` before the insert, `apply_create_associations` after),
re-exported here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.clock import hs_datetime
from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hs_schema import OBJECT_TYPE_IDS
from sandbox.hubspot.assoc_links import (
    LIST_LIMIT,
    READ_LIMIT,
    TYPES,
    V3_NAMES,
    WRITE_LIMIT,
    Link,
    apply_create_associations,
    archive_pair,
    archive_types,
    associate,
    associate_on_create,
    batch_error,
    check_spec,
    default_type,
    invalid_objects,
    labels_between,
    missing_objects,
    no_associations,
    object_id,
    plan_create_associations,
    read_links,
    read_links_many,
    ref_id,
    render_types,
    v3_association_results,
)
from sandbox.hubspot.common import SINGULAR, resolve_type
from sandbox.hubspot.search import read_json_body
from sandbox.store import Store

__all__ = [
    "ROUTES",
    "apply_create_associations",
    "associate_on_create",
    "plan_create_associations",
    "read_links",
    "v3_association_results",
]


# ---------------------------------------------------------------------------------------------- helpers
def _types(request: Request, a: str, b: str) -> tuple[str, str]:
    return resolve_type(request.path_params[a]), resolve_type(request.path_params[b])


def _now(store: Store) -> str:
    return hs_datetime(store.clock.now())


def _inputs(body: Any, limit: int = WRITE_LIMIT) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise hs_validation("Invalid input JSON: inputs must be an array")
    inputs: list[dict[str, Any]] = body["inputs"]
    if not all(isinstance(i, dict) for i in inputs):
        raise hs_validation("Invalid input JSON: every input must be an object")
    if len(inputs) > limit:
        raise hs_validation(f"Batch input size {len(inputs)} is above the limit of {limit}")
    return inputs


def _batch_response(
    store: Store, started: str, results: list[Any], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
    out["startedAt"] = started
    out["completedAt"] = _now(store)
    return out


def _pair_labels(store: Store, from_type: str, from_id: int, to_type: str, to_id: int) -> dict[str, Any]:
    return {
        "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
        "fromObjectId": from_id,
        "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
        "toObjectId": to_id,
        "labels": labels_between(store, from_type, from_id, to_type, to_id),
    }


def _default_results(from_type: str, a: int, to_type: str, b: int) -> list[dict[str, Any]]:
    t = default_type(from_type, to_type)
    return [
        {"from": {"id": str(x)}, "to": {"id": str(y)},
         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": tid}}
        for x, y, tid in ((a, b, t.type_id), (b, a, t.inverse))
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------- v4 single
async def put_default(request: Request) -> Response:
    """PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}: the pair's unlabelled association."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    a, b = object_id(request.path_params["from_id"]), object_id(request.path_params["to_id"])
    started = _now(store)
    t = default_type(from_type, to_type)
    missing = missing_objects(store, [(from_type, a), (to_type, b)])
    if missing:
        raise invalid_objects(missing)
    associate(store, Link(from_type, a, to_type, b, "HUBSPOT_DEFINED", t.type_id))
    return JSONResponse(_batch_response(store, started, _default_results(from_type, a, to_type, b), []))


async def put_labelled(request: Request) -> Response:
    """PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId} with `[{associationCategory, associationTypeId}]`."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    a, b = object_id(request.path_params["from_id"]), object_id(request.path_params["to_id"])
    body = await read_json_body(request)
    if not isinstance(body, list) or not body:
        raise hs_validation("Invalid input JSON: the body must be a non-empty array of association specs")
    links = [Link(from_type, a, to_type, b, *check_spec(from_type, to_type, spec)) for spec in body]
    missing = missing_objects(store, [(from_type, a), (to_type, b)])
    if missing:
        raise invalid_objects(missing)
    for link in links:
        associate(store, link)
    return JSONResponse(_pair_labels(store, from_type, a, to_type, b), status_code=201)


async def list_associations(request: Request) -> Response:
    """GET /crm/v4/objects/{from}/{id}/associations/{to}: `{results: [{toObjectId, associationTypes}], paging?}`."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    a = object_id(request.path_params["from_id"])
    try:
        limit = min(int(request.query_params.get("limit", LIST_LIMIT)), LIST_LIMIT)
        offset = int(request.query_params.get("after", 0))
    except ValueError:
        raise hs_validation("limit and after must be integers") from None
    links = sorted(read_links(store, from_type, a, to_type).items())
    page = links[offset : offset + max(limit, 1)]
    out: dict[str, Any] = {
        "results": [{"toObjectId": i, "associationTypes": render_types(s)} for i, s in page]
    }
    if offset + len(page) < len(links):
        after = str(offset + len(page))
        link = f"{sandbox_state(request).base_url}{request.url.path}?after={after}"
        out["paging"] = {"next": {"after": after, "link": link}}
    return JSONResponse(out)


async def delete_pair(request: Request) -> Response:
    """DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}: every association between the two."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    archive_pair(store, from_type, object_id(request.path_params["from_id"]), to_type,
                 object_id(request.path_params["to_id"]))  # fmt: skip
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- v4 batch
def _read_batch(
    store: Store, from_type: str, to_type: str, body: Any, v3: bool
) -> tuple[dict[str, Any], int]:
    started = _now(store)
    inputs = _inputs(body, READ_LIMIT)
    wanted: list[int | None] = []
    for item in inputs:
        try:
            wanted.append(object_id(item.get("id")))
        except HsApiError:
            wanted.append(None)
    found = read_links_many(store, from_type, [a for a in wanted if a is not None], to_type)
    fallback = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    rendered: dict[int, list[dict[str, Any]]] = {}
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item, a in zip(inputs, wanted, strict=True):
        links = found.get(a) if a is not None else None
        if a is None or not links:
            errors.append(no_associations(from_type, str(item.get("id") if a is None else a), to_type))
            continue
        to = rendered.get(a)
        if to is None:  # an id asked for twice is answered twice, from one rendering
            if v3:
                to = [{"id": str(i), "type": V3_NAMES.get(tid, fallback)}
                      for i, specs in links.items() for _, tid in specs]  # fmt: skip
            else:
                to = [{"toObjectId": i, "associationTypes": render_types(s)} for i, s in links.items()]
            rendered[a] = to
        results.append({"from": {"id": str(a)}, "to": to})
    return _batch_response(store, started, results, errors), 207 if errors else 200


async def batch_read(request: Request) -> Response:
    """POST /crm/v4/associations/{from}/{to}/batch/read: 207 with NO_ASSOCIATIONS_FOUND errors for empty ids."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    out, status = _read_batch(store, from_type, to_type, await read_json_body(request), v3=False)
    return JSONResponse(out, status_code=status)


async def batch_create(request: Request) -> Response:
    """POST /crm/v4/associations/{from}/{to}/batch/create: `{inputs: [{from, to, types}]}`, labels per pair."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now(store)
    planned: list[tuple[int, int, list[Link]]] = []
    for item in _inputs(await read_json_body(request)):
        a, b = ref_id(item.get("from"), "from"), ref_id(item.get("to"), "to")
        types = item.get("types")
        if not isinstance(types, list) or not types:
            raise hs_validation("Invalid input JSON: types must be a non-empty array")
        planned.append(
            (a, b, [Link(from_type, a, to_type, b, *check_spec(from_type, to_type, s)) for s in types])
        )
    results, errors = [], []
    for a, b, links in planned:
        missing = missing_objects(store, [(from_type, a), (to_type, b)])
        if missing:
            errors.append(batch_error(invalid_objects(missing)))
            continue
        for link in links:
            associate(store, link)
        results.append(_pair_labels(store, from_type, a, to_type, b))
    return JSONResponse(_batch_response(store, started, results, errors), status_code=207 if errors else 201)


async def batch_default(request: Request) -> Response:
    """POST /crm/v4/associations/{from}/{to}/batch/associate/default: `{inputs: [{from, to}]}`."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now(store)
    t = default_type(from_type, to_type)
    pairs = [
        (ref_id(i.get("from"), "from"), ref_id(i.get("to"), "to"))
        for i in _inputs(await read_json_body(request))
    ]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for a, b in pairs:
        missing = missing_objects(store, [(from_type, a), (to_type, b)])
        if missing:
            errors.append(batch_error(invalid_objects(missing)))
            continue
        associate(store, Link(from_type, a, to_type, b, "HUBSPOT_DEFINED", t.type_id))
        results += _default_results(from_type, a, to_type, b)
    return JSONResponse(_batch_response(store, started, results, errors), status_code=207 if errors else 200)


async def batch_archive(request: Request) -> Response:
    """POST /crm/v4/associations/{from}/{to}/batch/archive: `{inputs: [{from, to: [{id}]}]}`, all types."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    for item in _inputs(await read_json_body(request)):
        a, tos = ref_id(item.get("from"), "from"), item.get("to")
        if not isinstance(tos, list):
            raise hs_validation("Invalid input JSON: to must be an array")
        for to in tos:
            archive_pair(store, from_type, a, to_type, ref_id(to, "to"))
    return Response(status_code=204)


async def batch_archive_labels(request: Request) -> Response:
    """POST /crm/v4/associations/{from}/{to}/batch/labels/archive: remove only the given types."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    for item in _inputs(await read_json_body(request)):
        a, b = ref_id(item.get("from"), "from"), ref_id(item.get("to"), "to")
        specs = [check_spec(from_type, to_type, s) for s in item.get("types") or []]
        archive_types(store, from_type, a, to_type, b, specs)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- v3 batch
def _v3_type(from_type: str, to_type: str, name: Any) -> int:
    for type_id, t in TYPES.items():
        if t.v3_name == name and t.from_type == from_type and t.to_type == to_type:
            return type_id
    raise hs_validation(
        f"Invalid association type {name!r} from {SINGULAR[from_type]} to {SINGULAR[to_type]}"
    )


async def v3_batch_create(request: Request) -> Response:
    """POST /crm/v3/associations/{from}/{to}/batch/create: `{inputs: [{from, to, type}]}`, both directions back."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now(store)
    planned = [
        (
            ref_id(i.get("from"), "from"),
            ref_id(i.get("to"), "to"),
            _v3_type(from_type, to_type, i.get("type")),
        )
        for i in _inputs(await read_json_body(request))
    ]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for a, b, type_id in planned:
        missing = missing_objects(store, [(from_type, a), (to_type, b)])
        if missing:
            errors.append(batch_error(invalid_objects(missing)))
            continue
        associate(store, Link(from_type, a, to_type, b, "HUBSPOT_DEFINED", type_id))
        t = TYPES[type_id]
        # the recorded response lists the inverse direction first
        results += [
            {"from": {"id": str(b)}, "to": {"id": str(a)}, "type": TYPES[t.inverse].v3_name},
            {"from": {"id": str(a)}, "to": {"id": str(b)}, "type": t.v3_name},
        ]
    return JSONResponse(_batch_response(store, started, results, errors), status_code=207 if errors else 201)


async def v3_batch_read(request: Request) -> Response:
    """POST /crm/v3/associations/{from}/{to}/batch/read: `{results: [{from, to: [{id, type}]}]}`."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    out, status = _read_batch(store, from_type, to_type, await read_json_body(request), v3=True)
    return JSONResponse(out, status_code=status)


async def v3_batch_archive(request: Request) -> Response:
    """POST /crm/v3/associations/{from}/{to}/batch/archive: `{inputs: [{from, to, type}]}`."""
    store = sandbox_state(request).store
    from_type, to_type = _types(request, "from_type", "to_type")
    for i in _inputs(await read_json_body(request)):
        a, b = ref_id(i.get("from"), "from"), ref_id(i.get("to"), "to")
        archive_types(
            store,
            from_type,
            a,
            to_type,
            b,
            [("HUBSPOT_DEFINED", _v3_type(from_type, to_type, i.get("type")))],
        )
    return Response(status_code=204)


_V4_OBJ = "/crm/v4/objects/{from_type}/{from_id}/associations"
_V4_BATCH = "/crm/v4/associations/{from_type}/{to_type}/batch"
_V3_BATCH = "/crm/v3/associations/{from_type}/{to_type}/batch"
ROUTES: list[BaseRoute] = [
    Route(_V4_OBJ + "/default/{to_type}/{to_id}", put_default, methods=["PUT"]),
    Route(_V4_OBJ + "/{to_type}/{to_id}", put_labelled, methods=["PUT"]),
    Route(_V4_OBJ + "/{to_type}/{to_id}", delete_pair, methods=["DELETE"]),
    Route(_V4_OBJ + "/{to_type}", list_associations, methods=["GET"]),
    Route(_V4_BATCH + "/read", batch_read, methods=["POST"]),
    Route(_V4_BATCH + "/create", batch_create, methods=["POST"]),
    Route(_V4_BATCH + "/associate/default", batch_default, methods=["POST"]),
    Route(_V4_BATCH + "/archive", batch_archive, methods=["POST"]),
    Route(_V4_BATCH + "/labels/archive", batch_archive_labels, methods=["POST"]),
    Route(_V3_BATCH + "/create", v3_batch_create, methods=["POST"]),
    Route(_V3_BATCH + "/read", v3_batch_read, methods=["POST"]),
    Route(_V3_BATCH + "/archive", v3_batch_archive, methods=["POST"]),
]
