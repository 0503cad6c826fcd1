"""Tooling API, the part leadq uses: create custom fields, read them back, and a minimal CustomField query.

`POST .../tooling/sobjects/CustomField` with `{"FullName": "Lead.leadq_Score__c", "Metadata": {...}}` adds a
column (`Store.sf_add_field`), after which the field is in describe, SOQL and the write path.
`GET .../tooling/query?q=SELECT ... FROM CustomField WHERE ...` supports `=`, `!=`, `LIKE` and `IN` on
string columns joined by AND, plus LIMIT: enough to check whether a field exists.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse, SfApiError, sf_not_found
from sandbox.ids import normalize_sf_id, sf_id
from sandbox.salesforce.common import json_body, routes, version_of
from sandbox.salesforce.custom_fields import field_from_metadata, metadata_of
from sandbox.sf_schema import SfField
from sandbox.store import Store

_BASE = "/services/data/v{version}/tooling"
_BUILTIN_OFFSET = 900_000  # ids for custom fields that ship with the sandbox schema
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>\w+)\s*(?P<op>=|!=|\bLIKE\b|\bIN\b)\s*(?P<value>'(?:[^'\\]|\\.)*'|\(.*\))\s*$",
    re.IGNORECASE | re.DOTALL,
)
_AND = re.compile(r"\s+AND\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _custom_fields(store: Store) -> list[tuple[str, str, SfField]]:
    """(tooling id, object name, field) for every custom field, in creation order."""
    created = {(r[1], r[2]): int(r[0]) for r in store.sql("SELECT rowid, object, name FROM sf_custom_field")}
    out: list[tuple[str, str, SfField]] = []
    builtin = 0
    for obj in store.sf_objects().values():
        for f in obj.fields:
            if not f.custom:
                continue
            number = created.get((obj.name, f.name))
            if number is None:
                builtin += 1
                number = _BUILTIN_OFFSET + builtin
            out.append((sf_id("00N", number), obj.name, f))
    return sorted(out, key=lambda item: item[0])


def _row(version: str, tooling_id: str, obj: str, f: SfField, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {
            "type": "CustomField",
            "url": f"/services/data/v{version}/tooling/sobjects/CustomField/{tooling_id}",
        },
        "Id": tooling_id,
        "DeveloperName": f.name.removesuffix("__c"),
        "TableEnumOrId": obj,
        "NamespacePrefix": None,
        "ManageableState": "unmanaged",
        "Description": None,
        "InlineHelpText": None,
        "Length": f.length or None,
        "Precision": f.precision or None,
        "Scale": f.scale if f.precision else None,
        "FullName": f"{obj}.{f.name}",
    }
    if full:
        out["Metadata"] = metadata_of(f)
    return out


async def create_custom_field(request: Request) -> Response:
    """`POST .../tooling/sobjects/CustomField`: 201 `{"id","success","errors","warnings","infos"}`."""
    version_of(request)
    store = sandbox_state(request).store
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SfApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of CustomField from START_ARRAY value ["
        )
    full_name = body.get("FullName")
    metadata = body.get("Metadata")
    if not isinstance(full_name, str) or "." not in full_name:
        raise SfApiError(
            400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName]", ["FullName"]
        )
    if not isinstance(metadata, dict):
        raise SfApiError(
            400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Metadata]", ["Metadata"]
        )
    obj_name, _, field_name = full_name.partition(".")
    # Fields for tasks and events are defined once on Activity and appear on both, as in a real org.
    targets = ["Task", "Event"] if obj_name.lower() == "activity" else [obj_name]
    objects = [store.sf_object(name) for name in targets]
    if any(o is None for o in objects):
        raise SfApiError(
            400, "FIELD_INTEGRITY_EXCEPTION", f"no CustomObject named {obj_name} found", ["TableEnumOrId"]
        )
    field = field_from_metadata(field_name, metadata)
    for obj in objects:
        assert obj is not None
        if store.sf_field(obj.name, field.name) is not None:
            raise SfApiError(
                400,
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a field named {field.name.removesuffix('__c')} on {obj_name}.",
                [],
            )
    for obj in objects:
        assert obj is not None
        store.sf_add_field(obj.name, field)
    first = objects[0]
    assert first is not None
    rows = store.sql(
        "SELECT rowid FROM sf_custom_field WHERE object = ? AND name = ?", (first.name, field.name)
    )
    new_id = sf_id("00N", int(rows[0][0]))
    return JSONResponse(
        {"id": new_id, "success": True, "errors": [], "warnings": [], "infos": []}, status_code=201
    )


async def get_custom_field(request: Request) -> Response:
    """`GET .../tooling/sobjects/CustomField/{id}`: the field with its `FullName` and `Metadata`."""
    version = version_of(request)
    store = sandbox_state(request).store
    wanted = normalize_sf_id(request.path_params["id"])
    for tooling_id, obj, f in _custom_fields(store):
        if tooling_id == wanted:
            return JSONResponse(_row(version, tooling_id, obj, f, full=True))
    raise sf_not_found()


def _matches(row: dict[str, Any], conditions: list[tuple[str, str, list[str]]]) -> bool:
    for field, op, values in conditions:
        actual = str(row.get(field) or "").lower()
        lowered = [v.lower() for v in values]
        if op == "like":
            pattern = "^" + ".*".join(re.escape(part) for part in lowered[0].split("%")) + "$"
            ok = re.match(pattern.replace("_", "."), actual) is not None
        elif op == "!=":
            ok = actual != lowered[0]
        else:
            ok = actual in lowered
        if not ok:
            return False
    return True


def _parse_where(where: str | None, columns: set[str]) -> list[tuple[str, str, list[str]]]:
    conditions: list[tuple[str, str, list[str]]] = []
    for part in _AND.split(where) if where else []:
        m = _CONDITION.match(part)
        if m is None:
            raise SfApiError(400, "MALFORMED_QUERY", f"unexpected token: '{part.strip()}'")
        field = next((c for c in columns if c.lower() == m["field"].lower()), None)
        if field is None:
            raise _no_column(m["field"])
        values = [v.replace("\\'", "'") for v in _STRING.findall(m["value"])]
        conditions.append((field, m["op"].lower(), values))
    return conditions


def _no_column(name: str) -> SfApiError:
    return SfApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity 'CustomField'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names.",
    )


async def query(request: Request) -> Response:
    """`GET .../tooling/query?q=`: a minimal SOQL over CustomField (see the module docstring)."""
    version = version_of(request)
    store = sandbox_state(request).store
    m = _QUERY.match(request.query_params.get("q", ""))
    if m is None:
        raise SfApiError(
            400, "MALFORMED_QUERY", "unexpected token: the query must be SELECT ... FROM CustomField"
        )
    if m["obj"].lower() != "customfield":
        raise SfApiError(400, "INVALID_TYPE", f"sObject type '{m['obj']}' is not supported.")
    all_rows = [_row(version, i, o, f, full=True) for i, o, f in _custom_fields(store)]
    columns = {
        k for k in _row(version, "", "", SfField("x__c", "string", "x"), full=True) if k != "attributes"
    }
    selected: list[str] = []
    for raw in (c.strip() for c in m["fields"].split(",")):
        name = next((c for c in columns if c.lower() == raw.lower()), None)
        if name is None:
            raise _no_column(raw)
        selected.append(name)
    conditions = _parse_where(m["where"], columns)
    rows = [r for r in all_rows if _matches(r, conditions)][: int(m["limit"]) if m["limit"] else None]
    records = [{"attributes": r["attributes"], **{c: r[c] for c in selected}} for r in rows]
    return JSONResponse(
        {
            "size": len(records),
            "totalSize": len(records),
            "done": True,
            "queryLocator": None,
            "entityTypeName": "CustomField",
            "records": records,
        }
    )


ROUTES: list[BaseRoute] = [
    *routes(_BASE + "/sobjects/CustomField", create_custom_field, ["POST"]),
    *routes(_BASE + "/sobjects/CustomField/{id}", get_custom_field, ["GET"]),
    *routes(_BASE + "/query", query, ["GET"]),
]
