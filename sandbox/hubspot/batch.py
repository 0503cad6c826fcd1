"""HubSpot batch endpoints: `/crm/v3/objects/{type}/batch/{read,create,update,upsert,archive}`.

The real behaviours clients must cope with: at most 100 inputs; one invalid property value fails the whole
batch with a 400 (so clients bisect); ids that do not exist give a 207 with `errors` for those ids and
`results` for the rest; duplicate contact emails fail the whole batch with a 409. An injected `batch_fail`
fault fails a write batch whole before anything is written.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hubspot.common import (
    TYPE_WORD,
    flag,
    json_body,
    now_iso,
    parse_id,
    require_list,
    resolve_type,
    state_of,
)
from sandbox.hubspot.render import render_full, render_objects
from sandbox.hubspot.writes import ObjectWriter
from sandbox.state import SandboxState
from sandbox.store_hubspot import HsRecord

MAX_INPUTS = 100
_WRITES = ("create", "update", "upsert", "archive")


def _ids(inputs: list[Any]) -> list[str]:
    out = []
    for item in inputs:
        raw = item.get("id") if isinstance(item, dict) else None
        if isinstance(item, dict) and not isinstance(item.get("properties", {}), (dict, type(None))):
            raise hs_validation(
                "Invalid input JSON: 'properties' must be an object of property names to values"
            )
        if raw is None or isinstance(raw, (dict, list, bool)) or str(raw).strip() == "":
            raise hs_validation("Invalid input JSON: every input needs an 'id'")
        out.append(str(raw))
    return out


def _str_list(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise hs_validation(f"Invalid input JSON: '{key}' must be a list of property names")
    return value


def _not_found(type_: str, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {TYPE_WORD[type_]} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
    }


def _response(
    started: str,
    request: Request,
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    ok_status: int,
) -> Response:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body |= {"numErrors": len(errors), "errors": errors}
    body |= {"startedAt": started, "completedAt": now_iso(request)}
    return JSONResponse(body, status_code=207 if errors else ok_status)


def _fault(state: SandboxState) -> HsApiError:
    """A whole-batch failure as injected by the `batch_fail` fault (nothing has been written)."""
    status = int(state.faults.choice([400, 500, 502]))
    if status == 400:
        return HsApiError(
            400,
            "Batch could not be processed: an input was rejected (sandbox fault injection)",
            "VALIDATION_ERROR",
        )
    return HsApiError(status, "internal error" if status == 500 else "Bad Gateway", "INTERNAL_ERROR")


async def batch(request: Request) -> Response:
    """Dispatch one batch operation after the checks every operation shares."""
    type_ = resolve_type(request.path_params["object_type"])
    op = request.path_params["op"]
    if op not in ("read", *_WRITES):
        raise HsApiError(404, f"Unknown batch operation: {op}", "OBJECT_NOT_FOUND")
    state = state_of(request)
    started = now_iso(request)
    body = await json_body(request)
    inputs = require_list(body, "inputs")
    if len(inputs) > MAX_INPUTS:
        raise hs_validation(f"Batch input size of {len(inputs)} exceeds the limit of {MAX_INPUTS} inputs")
    if op in _WRITES and state.faults.applies_to(request.url.path) and state.faults.draw("batch_fail"):
        raise _fault(state)
    writer = ObjectWriter(state.store, type_)
    if op == "read":
        return _read(request, writer, body, inputs, started)
    if op == "create":
        records = writer.create(writer.plan_creates(inputs))
        return _response(started, request, [render_full(r) for r in records], [], 201)
    if op == "update":
        return _update(request, writer, body, inputs, started)
    if op == "upsert":
        return _upsert(request, writer, body, inputs, started)
    ids = _ids(inputs)
    with state.store.transaction():
        for rid in {n for raw in ids if (n := parse_id(raw)) is not None}:
            state.store.hs_archive(type_, rid)
    return Response(status_code=204)


def _read(
    request: Request, writer: ObjectWriter, body: dict[str, Any], inputs: list[Any], started: str
) -> Response:
    ids = _ids(inputs)
    id_property = writer.check_id_property(body.get("idProperty"), for_write=False)
    properties, history = _str_list(body, "properties"), _str_list(body, "propertiesWithHistory")
    store = writer.store
    if flag(request, "archived"):
        numbers = {raw: n for raw in ids if (n := parse_id(raw)) is not None}
        archived = store.hs_get_many(writer.type, list(numbers.values()), archived=True)
        found = {raw: n for raw, n in numbers.items() if n in archived}
        records = archived
    else:
        found = writer.resolve_ids(ids, id_property)
        records = store.hs_get_many(writer.type, list(set(found.values())))
    chosen: list[HsRecord] = []
    seen: set[int] = set()
    for raw in ids:
        rid = found.get(raw)
        if rid is not None and rid in records and rid not in seen:
            seen.add(rid)
            chosen.append(records[rid])
    results = render_objects(chosen, properties, known=writer.checker.defs, with_history=history)
    missing = list(dict.fromkeys(raw for raw in ids if raw not in found))
    return _response(started, request, results, [_not_found(writer.type, missing)] if missing else [], 200)


def _update(
    request: Request, writer: ObjectWriter, body: dict[str, Any], inputs: list[Any], started: str
) -> Response:
    ids = _ids(inputs)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise hs_validation(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique"
        )
    id_props = [
        writer.check_id_property(i.get("idProperty") or body.get("idProperty"), for_write=True)
        for i in inputs
    ]
    planned = writer.plan_updates([i.get("properties") for i in inputs])
    store = writer.store
    results: list[HsRecord] = []
    with store.transaction():
        found: dict[int, int] = {}  # input index -> record id
        for prop in set(id_props):
            group = [k for k, p in enumerate(id_props) if p == prop]
            resolved = writer.resolve_ids([ids[k] for k in group], prop)
            found |= {k: resolved[ids[k]] for k in group if ids[k] in resolved}
        writer.check_unique([(found[k], planned[k]) for k in sorted(found)])
        records = store.hs_get_many(writer.type, list(found.values()))
        order = sorted(found)
        if len({found[k] for k in order}) == len(order):
            results = writer.update_many([(records[found[k]], planned[k]) for k in order])
        else:  # one record named twice (by id and by a unique property): each update sees the last
            results = [writer.update(records[found[k]], planned[k]) for k in order]
    missing = [ids[k] for k in range(len(ids)) if k not in found]
    errors = [_not_found(writer.type, missing)] if missing else []
    return _response(started, request, [render_full(r) for r in results], errors, 200)


def _upsert(
    request: Request, writer: ObjectWriter, body: dict[str, Any], inputs: list[Any], started: str
) -> Response:
    ids = _ids(inputs)
    id_props: list[str] = []
    for item in inputs:
        prop = writer.check_id_property(item.get("idProperty") or body.get("idProperty"), for_write=True)
        if prop is None:
            raise hs_validation(
                "Invalid input JSON: every upsert input needs an 'idProperty' naming a unique property"
            )
        id_props.append(prop)
    store = writer.store
    out: list[dict[str, Any]] = []
    with store.transaction():
        existing: dict[int, int] = {}
        for prop in set(id_props):
            group = [k for k, p in enumerate(id_props) if p == prop]
            resolved = writer.resolve_ids([ids[k] for k in group], prop)
            existing |= {k: resolved[ids[k]] for k in group if ids[k] in resolved}
        updates = [k for k in range(len(ids)) if k in existing]
        creates = [k for k in range(len(ids)) if k not in existing]
        planned_updates = writer.plan_updates([inputs[k].get("properties") for k in updates])
        create_inputs = [
            {**inputs[k], "properties": {**(inputs[k].get("properties") or {}), id_props[k]: ids[k]}}
            for k in creates
        ]
        planned_creates = writer.plan_creates(create_inputs)
        writer.check_unique([(existing[k], p) for k, p in zip(updates, planned_updates, strict=True)])
        records = store.hs_get_many(writer.type, [existing[k] for k in updates])
        for k, props in zip(updates, planned_updates, strict=True):
            out.append(render_full(writer.update(records[existing[k]], props)) | {"new": False})
        for rec in writer.create(planned_creates):
            out.append(render_full(rec) | {"new": True})
    return _response(started, request, out, [], 200)


ROUTES: list[BaseRoute] = [
    Route("/crm/v3/objects/{object_type}/batch/{op:str}", batch, methods=["POST"]),
]
