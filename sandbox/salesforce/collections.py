"""sObject Collections: create, update, upsert, delete and retrieve up to 200 records a call.

Each call runs in one SQLite transaction. Per-record results come back in input order; with `allOrNone`
one failure rolls everything back and the other records report ALL_OR_NONE_OPERATION_ROLLED_BACK.
Fault injection can fail single records with UNABLE_TO_LOCK_ROW.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse, SfApiError
from sandbox.ids import normalize_sf_id
from sandbox.salesforce import records
from sandbox.salesforce.common import json_body, render_record, routes, select_fields, sobject, version_of
from sandbox.salesforce.sobjects import lock_fault
from sandbox.state import SandboxState
from sandbox.store import LIVE

MAX_RECORDS = 200
MAX_RETRIEVE = 2000
_BASE = "/services/data/v{version}/composite/sobjects"
_ROLLED_BACK = records.RecordError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
    [],
)
_NO_ATTRIBUTES = records.RecordError(
    400,
    "JSON_PARSER_ERROR",
    "Nested object for polymorphic foreign key must have an attributes field before any other fields.",
    [],
)

# One record's outcome: (id, created) on success, or the error.
Outcome = tuple[str, bool] | records.RecordError


class _RolledBack(Exception):
    pass


def _too_many(limit: int) -> SfApiError:
    return SfApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {limit} records into this call",
    )


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


async def _batch(request: Request) -> tuple[list[Any], bool]:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize the request body: 'records' must be a list"
        )
    batch: list[Any] = body["records"]
    if len(batch) > MAX_RECORDS:
        raise _too_many(MAX_RECORDS)
    return batch, _truthy(body.get("allOrNone", False))


def _type_of(rec: Any) -> str:
    attrs = rec.get("attributes") if isinstance(rec, dict) else None
    kind = attrs.get("type") if isinstance(attrs, dict) else None
    if not isinstance(kind, str) or not kind:
        raise _NO_ATTRIBUTES
    return kind


def _field_value(rec: dict[str, Any], name: str) -> tuple[str | None, Any]:
    """The key under which `rec` holds field `name` (any case), and its value."""
    if name in rec:
        return name, rec[name]
    low = name.lower()
    for key, value in rec.items():
        if key.lower() == low:
            return key, value
    return None, None


def _all_or_none(st: SandboxState, all_or_none: bool, body: Callable[[], list[Outcome]]) -> list[Outcome]:
    """Run `body` in one transaction; with `allOrNone`, any failure rolls back every record."""
    try:
        with records.atomic(st.store):
            outcomes = body()
            if all_or_none and any(isinstance(o, records.RecordError) for o in outcomes):
                raise _RolledBack(outcomes)
    except _RolledBack as rolled_back:
        failed: list[Outcome] = rolled_back.args[0]
        return [o if isinstance(o, records.RecordError) else _ROLLED_BACK for o in failed]
    return outcomes


def run(
    st: SandboxState,
    path: str,
    items: list[Any],
    all_or_none: bool,
    operation: Callable[[Any], tuple[str, bool]],
    id_of: Callable[[Any], str | None],
    pre_errors: dict[int, records.RecordError] | None = None,
) -> list[Outcome]:
    """Apply `operation` to every item in one transaction; per-item outcomes in input order."""

    def body() -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index, item in enumerate(items):
            known = pre_errors.get(index) if pre_errors else None
            fault = known or lock_fault(st, path, len(items), id_of(item))
            if fault is not None:
                outcomes.append(fault)
                continue
            try:
                outcomes.append(operation(item))
            except records.RecordError as exc:
                outcomes.append(exc)
        return outcomes

    return _all_or_none(st, all_or_none, body)


def _run_updates(st: SandboxState, path: str, batch: list[Any], all_or_none: bool) -> list[Outcome]:
    """Updates, validated per record and written per sObject in one batch (the throughput path)."""

    def body() -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        groups: dict[str, list[tuple[int, str | None, dict[str, Any]]]] = {}
        faults = st.faults.config.lock_row > 0 and st.faults.applies_to(path)
        for index, rec in enumerate(batch):
            key, record_id = _field_value(rec, "Id") if isinstance(rec, dict) else (None, None)
            if faults and st.faults.draw("lock_row"):
                outcomes[index] = records.unable_to_lock(len(batch), str(record_id) if record_id else None)
                continue
            try:
                kind = _type_of(rec)
            except records.RecordError as exc:
                outcomes[index] = exc
                continue
            values = {k: v for k, v in rec.items() if k != "attributes" and k != key}
            groups.setdefault(kind.lower(), []).append((index, str(record_id) if record_id else None, values))
        for kind, members in groups.items():
            try:
                written = records.update_many(st.store, kind, [(rid, values) for _, rid, values in members])
            except records.RecordError as exc:  # an unknown sObject type
                written = [exc] * len(members)
            for (index, _, _), result in zip(members, written, strict=True):
                outcomes[index] = result if isinstance(result, records.RecordError) else (result, False)
        return [o if o is not None else _ROLLED_BACK for o in outcomes]

    return _all_or_none(st, all_or_none, body)


def results(outcomes: list[Outcome], *, upsert: bool = False) -> list[dict[str, Any]]:
    """Outcomes as SaveResult entries: `{"id","success","errors"}` (+ `created` for upserts)."""
    out: list[dict[str, Any]] = []
    for o in outcomes:
        if isinstance(o, records.RecordError):
            entry: dict[str, Any] = {"success": False, "errors": [o.entry()]}
            created = False
        else:
            entry = {"id": o[0], "success": True, "errors": []}
            created = o[1]
        if upsert:
            entry["created"] = created
        out.append(entry)
    return out


def _safe_id(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return None
    _, value = _field_value(rec, "Id")
    return str(value) if value else None


# ---------------------------------------------------------------- create / update / delete
async def create_update_delete(request: Request) -> Response:
    """`POST` (create), `PATCH` (update) and `DELETE ?ids=` (delete) on `.../composite/sobjects`."""
    version_of(request)
    st = sandbox_state(request)
    path = request.url.path
    if request.method == "DELETE":
        return _delete(st, request)
    batch, all_or_none = await _batch(request)
    store = st.store

    def create(rec: Any) -> tuple[str, bool]:
        kind = _type_of(rec)
        return records.create(store, kind, {k: v for k, v in rec.items() if k != "attributes"}), True

    if request.method == "PATCH":
        return JSONResponse(results(_run_updates(st, path, batch, all_or_none)))
    return JSONResponse(results(run(st, path, batch, all_or_none, create, _safe_id)))


def _delete(st: SandboxState, request: Request) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise SfApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise _too_many(MAX_RECORDS)
    all_or_none = _truthy(request.query_params.get("allOrNone", "false"))
    store = st.store

    def delete(raw: Any) -> tuple[str, bool]:
        obj = records.object_for_id(store, str(raw))
        if obj is None or normalize_sf_id(str(raw)) is None:
            raise records.RecordError(400, "MALFORMED_ID", f"malformed id {raw}", [])
        return records.delete(store, obj.name, str(raw)), False

    outcomes = run(st, request.url.path, ids, all_or_none, delete, lambda raw: str(raw))
    return JSONResponse(results(outcomes))


# ---------------------------------------------------------------- upsert
async def upsert(request: Request) -> Response:
    """`PATCH .../composite/sobjects/{Obj}/{ExtField}`: upsert by an external id, `created` per record."""
    version_of(request)
    st = sandbox_state(request)
    store = st.store
    obj = sobject(store, request.path_params["obj"])
    field = records.schema_for(store, obj.name).by_lower.get(request.path_params["field"].lower())
    if field is None or not records.is_id_lookup(obj, field):
        raise SfApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {request.path_params['field']}",
        )
    batch, all_or_none = await _batch(request)
    # The same key twice in one call is ambiguous: the real API refuses both records.
    seen: dict[str, list[int]] = {}
    for index, rec in enumerate(batch):
        if isinstance(rec, dict):
            _, value = _field_value(rec, field.name)
            if value not in (None, ""):
                seen.setdefault(str(value).lower(), []).append(index)
    pre_errors = {
        i: records.RecordError(
            400,
            "DUPLICATE_EXTERNAL_ID",
            f"Duplicate external id specified: {_field_value(batch[i], field.name)[1]}",
            [],
        )
        for indexes in seen.values()
        if len(indexes) > 1
        for i in indexes
    }

    def one(rec: Any) -> tuple[str, bool]:
        kind = _type_of(rec)
        if kind.lower() != obj.name.lower():
            raise records.RecordError(
                400, "INVALID_TYPE", f"Record type {kind} does not match {obj.name}", []
            )
        key, value = _field_value(rec, field.name)
        values = {k: v for k, v in rec.items() if k not in ("attributes", key)}
        return records.upsert(store, obj.name, field.name, None if value is None else str(value), values)

    outcomes = run(st, request.url.path, batch, all_or_none, one, _safe_id, pre_errors)
    return JSONResponse(results(outcomes, upsert=True))


# ---------------------------------------------------------------- retrieve
async def retrieve(request: Request) -> Response:
    """`GET .../composite/sobjects/{Obj}?ids=&fields=` (or POST with `{"ids","fields"}`): records or null."""
    version = version_of(request)
    st = sandbox_state(request)
    obj = sobject(st.store, request.path_params["obj"])
    if request.method == "POST":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise SfApiError(
                400, "JSON_PARSER_ERROR", "Cannot deserialize the request body: expected ids and fields"
            )
        ids = [str(i) for i in body.get("ids") or []]
        field_spec = ",".join(str(f) for f in body.get("fields") or [])
    else:
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        field_spec = request.query_params.get("fields", "")
    if not ids or not field_spec:
        raise SfApiError(400, "MISSING_ARGUMENT", "Both ids and fields are required")
    if len(ids) > MAX_RETRIEVE:
        raise _too_many(MAX_RETRIEVE)
    fields = select_fields(obj, field_spec)
    wanted: list[str | None] = []
    for raw in ids:
        rid = normalize_sf_id(raw)
        if rid is None:
            raise SfApiError(400, "MALFORMED_ID", f"malformed id {raw}")
        wanted.append(rid if rid[:3] == obj.key_prefix else None)
    found: dict[str, Any] = {}
    live = sorted({w for w in wanted if w})
    for start in range(0, len(live), 500):
        chunk = live[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in st.store.sql(f'SELECT * FROM "sf_{obj.name}" WHERE {LIVE} AND Id IN ({marks})', chunk):
            found[row["Id"]] = render_record(obj, dict(row), version, fields)
    return JSONResponse([found.get(w) if w else None for w in wanted])


ROUTES: list[BaseRoute] = [
    *routes(_BASE, create_update_delete, ["POST", "PATCH", "DELETE"]),
    *routes(_BASE + "/{obj}", retrieve, ["GET", "POST"]),
    *routes(_BASE + "/{obj}/{field}", upsert, ["PATCH"]),
]
