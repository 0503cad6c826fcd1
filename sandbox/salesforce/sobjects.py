"""sObject resources: describeGlobal, basic info, describe, rows by id, and rows by external id (upsert)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse, SfApiError, sf_not_found
from sandbox.ids import normalize_sf_id
from sandbox.salesforce import records
from sandbox.salesforce.common import (
    json_body,
    record_url,
    render_record,
    routes,
    select_fields,
    sobject,
    version_number,
    version_of,
)
from sandbox.salesforce.describe import describe_global, describe_object, object_summary
from sandbox.salesforce.fieldvalues import coerce
from sandbox.sf_schema import SfObject
from sandbox.state import SandboxState
from sandbox.store import LIVE

_BASE = "/services/data/v{version}/sobjects"
# API version 46.0 changed upsert: an update answers 200 with a body (and `created`) instead of 204.
_UPSERT_BODY_VERSION = 46.0


def _gone(code: str) -> SfApiError:
    if code == "ENTITY_IS_DELETED":
        return SfApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return sf_not_found()


def _rest_error(exc: records.RecordError) -> SfApiError:
    """A write-path error as a REST error; a missing row is the row resource's 404."""
    if exc.status == 404 and exc.code == "INVALID_CROSS_REFERENCE_KEY":
        return sf_not_found()
    return exc.api_error()


def lock_fault(
    st: SandboxState, path: str, batch_size: int, record_id: str | None
) -> records.RecordError | None:
    """A per-record UNABLE_TO_LOCK_ROW when fault injection draws one for this record, else None."""
    if st.faults.applies_to(path) and st.faults.draw("lock_row"):
        return records.unable_to_lock(batch_size, record_id)
    return None


def _row_id(obj: SfObject, raw: str) -> str:
    rid = normalize_sf_id(raw)
    if rid is None or rid[:3] != obj.key_prefix:
        raise SfApiError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw}"
        )
    return rid


async def _record_body(request: Request, obj: SfObject) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        kind = "START_ARRAY value [" if isinstance(body, list) else f"VALUE_STRING value {body}"
        raise SfApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {obj.name} from {kind} or request may be missing a required field",
        )
    return body


# ---------------------------------------------------------------- metadata
async def global_describe(request: Request) -> Response:
    """`GET .../sobjects`."""
    version = version_of(request)
    return JSONResponse(describe_global(sandbox_state(request).store.sf_objects(), version))


async def describe(request: Request) -> Response:
    """`GET .../sobjects/{Obj}/describe`."""
    version = version_of(request)
    st = sandbox_state(request)
    obj = sobject(st.store, request.path_params["obj"])
    return JSONResponse(describe_object(st.store.sf_objects(), obj, version, st.base_url))


async def basic_info_or_create(request: Request) -> Response:
    """`GET .../sobjects/{Obj}` (basic info and recent items) and `POST` (create one record)."""
    version = version_of(request)
    st = sandbox_state(request)
    obj = sobject(st.store, request.path_params["obj"])
    if request.method == "POST":
        return await _create(request, st, obj, version)
    name_field = next((f.name for f in obj.fields if f.name_field), None)
    cols = "Id" + (f', "{name_field}"' if name_field else "")
    rows = st.store.sql(
        f'SELECT {cols} FROM "sf_{obj.name}" WHERE {LIVE} ORDER BY LastModifiedDate DESC, Id LIMIT 10'
    )
    recent = []
    for row in rows:
        item: dict[str, Any] = {
            "attributes": {"type": obj.name, "url": record_url(version, obj.name, row[0])}
        }
        item["Id"] = row[0]
        if name_field:
            item[name_field] = row[1]
        recent.append(item)
    return JSONResponse({"objectDescribe": object_summary(obj, version), "recentItems": recent})


async def _create(request: Request, st: SandboxState, obj: SfObject, version: str) -> Response:
    body = await _record_body(request, obj)
    fault = lock_fault(st, request.url.path, 1, None)
    if fault is not None:
        raise fault.api_error()
    try:
        new_id = records.create(st.store, obj.name, body)
    except records.RecordError as exc:
        raise _rest_error(exc) from None
    return JSONResponse(
        {"id": new_id, "success": True, "errors": []},
        status_code=201,
        headers={"Location": record_url(version, obj.name, new_id)},
    )


# ---------------------------------------------------------------- rows by id
async def row(request: Request) -> Response:
    """`GET/PATCH/DELETE .../sobjects/{Obj}/{Id}` (GET honours `?fields=`)."""
    version = version_of(request)
    st = sandbox_state(request)
    obj = sobject(st.store, request.path_params["obj"])
    rid = _row_id(obj, request.path_params["id"])
    if request.method == "GET":
        fields = select_fields(obj, request.query_params.get("fields"))
        current = st.store.sf_get(obj.name, rid, include_deleted=True)
        if current is None or current["IsDeleted"]:
            raise _gone("ENTITY_IS_DELETED" if current else "NOT_FOUND")
        return JSONResponse(render_record(obj, current, version, fields))
    body = await _record_body(request, obj) if request.method == "PATCH" else {}
    fault = lock_fault(st, request.url.path, 1, rid)
    if fault is not None:
        raise fault.api_error()
    try:
        if request.method == "PATCH":
            records.update(st.store, obj.name, rid, body)
        else:
            records.delete(st.store, obj.name, rid)
    except records.RecordError as exc:
        raise _rest_error(exc) from None
    return Response(status_code=204)


# ---------------------------------------------------------------- rows by external id
def _multiple(version: str, obj: SfObject, ids: list[str]) -> Response:
    return JSONResponse([record_url(version, obj.name, i) for i in ids], status_code=300)


async def by_external_id(request: Request) -> Response:
    """`GET/PATCH/DELETE .../sobjects/{Obj}/{Field}/{value}`: read, upsert or delete by an external id."""
    version = version_of(request)
    st = sandbox_state(request)
    obj = sobject(st.store, request.path_params["obj"])
    field_name, value = request.path_params["field"], request.path_params["value"]
    schema = records.schema_for(st.store, obj.name)
    field = schema.by_lower.get(field_name.lower())
    if field is None or not records.is_id_lookup(obj, field):
        raise SfApiError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    if request.method == "PATCH":
        return await _upsert(request, st, obj, field.name, value, version)
    try:
        key = coerce(field, value, from_csv=True)
    except records.RecordError:
        raise sf_not_found() from None
    ids = records.find(st.store, obj, field, normalize_sf_id(str(key)) if field.name == "Id" else key)
    if not ids:
        raise sf_not_found()
    if len(ids) > 1:
        return _multiple(version, obj, ids)
    if request.method == "GET":
        current = st.store.sf_get(obj.name, ids[0])
        if current is None:
            raise sf_not_found()
        fields = select_fields(obj, request.query_params.get("fields"))
        return JSONResponse(render_record(obj, current, version, fields))
    fault = lock_fault(st, request.url.path, 1, ids[0])
    if fault is not None:
        raise fault.api_error()
    try:
        records.delete(st.store, obj.name, ids[0])
    except records.RecordError as exc:
        raise _rest_error(exc) from None
    return Response(status_code=204)


async def _upsert(
    request: Request, st: SandboxState, obj: SfObject, field: str, value: str, version: str
) -> Response:
    body = await _record_body(request, obj)
    store = st.store
    if request.query_params.get("updateOnly", "").lower() == "true" and field != "Id":
        key_field = records.schema_for(store, obj.name).by_lower[field.lower()]
        try:
            if not records.find(store, obj, key_field, coerce(key_field, value, from_csv=True)):
                raise sf_not_found()
        except records.RecordError as exc:
            raise exc.api_error() from None
    fault = lock_fault(st, request.url.path, 1, None)
    if fault is not None:
        raise fault.api_error()
    try:
        record_id, created = records.upsert(store, obj.name, field, value, body)
    except records.MultipleMatches as exc:
        return _multiple(version, obj, exc.ids)
    except records.RecordError as exc:
        raise _rest_error(exc) from None
    location = {"Location": record_url(version, obj.name, record_id)}
    if version_number(version) < _UPSERT_BODY_VERSION:
        if created:
            return JSONResponse(
                {"id": record_id, "success": True, "errors": []}, status_code=201, headers=location
            )
        return Response(status_code=204, headers=location)
    out = {"id": record_id, "success": True, "errors": [], "created": created}
    return JSONResponse(out, status_code=201 if created else 200, headers=location)


ROUTES: list[BaseRoute] = [
    *routes(_BASE, global_describe, ["GET"]),
    *routes(_BASE + "/{obj}", basic_info_or_create, ["GET", "POST"]),
    *routes(_BASE + "/{obj}/describe", describe, ["GET"]),
    *routes(_BASE + "/{obj}/{id}", row, ["GET", "PATCH", "DELETE"]),
    *routes(_BASE + "/{obj}/{field}/{value}", by_external_id, ["GET", "PATCH", "DELETE"]),
]
