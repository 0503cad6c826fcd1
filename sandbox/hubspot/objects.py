"""HubSpot CRM v3 objects: list, read, create, update, archive (`/crm/v3/objects/{objectType}`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import JSONResponse, hs_validation
from sandbox.hubspot.common import (
    flag,
    int_param,
    json_body,
    multi,
    next_link,
    object_not_found,
    parse_id,
    resolve_type,
    state_of,
)
from sandbox.hubspot.render import associations_for_page, render_full, render_object
from sandbox.hubspot.writes import ObjectWriter
from sandbox.store import Store
from sandbox.store_hubspot import HsRecord

MAX_PAGE = 100


def _read_options(request: Request) -> tuple[list[str] | None, list[str] | None, list[str]]:
    """`properties`, `propertiesWithHistory` and the resolved `associations` types of a read."""
    to_types = [resolve_type(t) for t in multi(request, "associations") or []]
    return multi(request, "properties"), multi(request, "propertiesWithHistory"), to_types


def render_page(
    store: Store,
    records: list[HsRecord],
    properties: list[str] | None,
    history: list[str] | None,
    to_types: list[str],
) -> list[dict[str, Any]]:
    """Objects as a list or read returns them, with their associations when asked for."""
    if not records:
        return []
    type_ = records[0].type
    known = store.hs_properties(type_)
    blocks = associations_for_page(store, type_, [r.id for r in records], to_types) if to_types else {}
    out = []
    for rec in records:
        item = render_object(rec, properties, known=known, with_history=history)
        if blocks.get(rec.id):
            item["associations"] = blocks[rec.id]
        out.append(item)
    return out


async def list_objects(request: Request) -> Response:
    """`GET /crm/v3/objects/{type}`: a page in id order; `archived=true` lists only archived records."""
    type_ = resolve_type(request.path_params["object_type"])
    store = state_of(request).store
    limit = int_param(request, "limit", 10, MAX_PAGE)
    archived = flag(request, "archived")
    raw_after = request.query_params.get("after") or "0"
    after = parse_id(raw_after)
    if after is None:
        raise hs_validation(f"Invalid value for query parameter after: {raw_after}")
    properties, history, to_types = _read_options(request)
    rows = store.sql(
        "SELECT id FROM hs_object WHERE type = ? AND archived = ? AND id >= ? ORDER BY id LIMIT ?",
        (type_, int(archived), after, limit + 1),
    )
    ids = [int(r[0]) for r in rows]
    page, more = ids[:limit], len(ids) > limit
    found = store.hs_get_many(type_, page, archived=archived)
    records = [found[i] for i in page if i in found]
    body: dict[str, Any] = {"results": render_page(store, records, properties, history, to_types)}
    if more:
        cursor = str(ids[limit])
        body["paging"] = {"next": {"after": cursor, "link": next_link(request, cursor)}}
    return JSONResponse(body)


def find_record(
    writer: ObjectWriter, raw_id: str, id_property: str | None, *, archived: bool = False, for_write: bool
) -> HsRecord | None:
    """The record a path id names: a record id, or a value of `idProperty` (`email` for contacts)."""
    prop = writer.check_id_property(id_property, for_write=for_write)
    if prop is None:
        rid = parse_id(raw_id)
        return None if rid is None else writer.store.hs_get(writer.type, rid, archived=archived)
    if archived:
        return None
    found = writer.resolve_ids([raw_id], prop)
    rid = found.get(raw_id)
    return None if rid is None else writer.store.hs_get(writer.type, rid)


async def get_object(request: Request) -> Response:
    """`GET /crm/v3/objects/{type}/{id}` with `properties`, `idProperty`, `archived`, `associations`."""
    type_ = resolve_type(request.path_params["object_type"])
    store = state_of(request).store
    raw_id = request.path_params["object_id"]
    writer = ObjectWriter(store, type_)
    properties, history, to_types = _read_options(request)
    rec = find_record(
        writer,
        raw_id,
        request.query_params.get("idProperty"),
        archived=flag(request, "archived"),
        for_write=False,
    )
    if rec is None:
        raise object_not_found(raw_id)
    return JSONResponse(render_page(store, [rec], properties, history, to_types)[0])


async def create_object(request: Request) -> Response:
    """`POST /crm/v3/objects/{type}`: `{properties, associations?}` -> 201 with every set property."""
    type_ = resolve_type(request.path_params["object_type"])
    body = await json_body(request)
    writer = ObjectWriter(state_of(request).store, type_)
    planned = writer.plan_creates([body])
    rec = writer.create(planned)[0]
    return JSONResponse(render_full(rec), status_code=201)


async def update_object(request: Request) -> Response:
    """`PATCH /crm/v3/objects/{type}/{id}` (`idProperty` supported); "" clears a property."""
    type_ = resolve_type(request.path_params["object_type"])
    raw_id = request.path_params["object_id"]
    body = await json_body(request)
    store = state_of(request).store
    writer = ObjectWriter(store, type_)
    props = writer.plan_updates([body.get("properties")])[0]
    with store.transaction():
        rec = find_record(writer, raw_id, request.query_params.get("idProperty"), for_write=True)
        if rec is None:
            raise object_not_found(raw_id)
        writer.check_unique([(rec.id, props)])
        rec = writer.update(rec, props)
    return JSONResponse(render_full(rec))


async def archive_object(request: Request) -> Response:
    """`DELETE /crm/v3/objects/{type}/{id}`: to the recycle bin; 204 even when there was nothing to archive."""
    type_ = resolve_type(request.path_params["object_type"])
    rid = parse_id(request.path_params["object_id"])
    if rid is not None:
        state_of(request).store.hs_archive(type_, rid)
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route("/crm/v3/objects/{object_type}", list_objects, methods=["GET"]),
    Route("/crm/v3/objects/{object_type}", create_object, methods=["POST"]),
    Route("/crm/v3/objects/{object_type}/{object_id}", get_object, methods=["GET"]),
    Route("/crm/v3/objects/{object_type}/{object_id}", update_object, methods=["PATCH"]),
    Route("/crm/v3/objects/{object_type}/{object_id}", archive_object, methods=["DELETE"]),
]
