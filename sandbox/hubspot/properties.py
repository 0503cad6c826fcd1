"""HubSpot CRM v3 properties and property groups (`/crm/v3/properties/{objectType}`).

Custom properties are stored next to HubSpot's own, so they are usable at once everywhere definitions are
read (value validation, reads, search). Archiving a property hides it from everything but
`?archived=true`; HubSpot-defined properties and groups cannot be archived or redefined.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hs_standard import DEFAULT_GROUPS
from sandbox.hubspot.common import flag, json_body, now_iso, resolve_type, state_of
from sandbox.store import Store

# the user HubSpot records as creator of definitions made through this app's token
INTEGRATION_USER_ID = "10000001"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("text", "textarea", "html", "phonenumber", "file"),
    "number": ("number",),
    "date": ("date",),
    "datetime": ("date",),
    "enumeration": ("select", "radio", "checkbox"),
    "bool": ("booleancheckbox",),
}
_REQUIRED = ("name", "label", "type", "fieldType", "groupName")


def _property_not_found(name: str) -> HsApiError:
    return HsApiError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")


def _group_not_found(name: str) -> HsApiError:
    return HsApiError(404, f"Property group {name} does not exist", "OBJECT_NOT_FOUND")


def _live_groups(store: Store, type_: str) -> dict[str, dict[str, Any]]:
    return {k: g for k, g in store.hs_groups(type_).items() if not g.get("archived")}


def _options(raw: Any, type_: str) -> list[dict[str, Any]]:
    """Validated enumeration options (`{label, value, displayOrder?, hidden?, description?}`)."""
    if type_ == "bool" and not raw:
        raw = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise hs_validation("Invalid input JSON: 'options' must be a list")
    if type_ == "enumeration" and not raw:
        raise hs_validation("Enumeration properties need at least one option")
    out: list[dict[str, Any]] = []
    for i, opt in enumerate(raw):
        if (
            not isinstance(opt, dict)
            or not isinstance(opt.get("label"), str)
            or not isinstance(opt.get("value"), str)
        ):
            raise hs_validation("Invalid input JSON: each option needs a string 'label' and 'value'")
        if opt["value"] != opt["value"].strip() or opt["value"] == "":
            raise hs_validation(
                f'Option value "{opt["value"]}" is empty or includes leading or trailing whitespace.'
            )
        entry: dict[str, Any] = {"label": opt["label"], "value": opt["value"]}
        if isinstance(opt.get("description"), str):
            entry["description"] = opt["description"]
        entry["displayOrder"] = opt["displayOrder"] if isinstance(opt.get("displayOrder"), int) else i
        entry["hidden"] = bool(opt.get("hidden", False))
        out.append(entry)
    values = [o["value"] for o in out]
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise hs_validation(f"Duplicate option values: {duplicates}")
    if type_ == "bool" and sorted(values) != ["false", "true"]:
        raise hs_validation("Boolean properties need exactly the options 'true' and 'false'")
    return out


def _check_kind(type_: Any, field_type: Any) -> None:
    if type_ not in FIELD_TYPES:
        raise hs_validation(f"Invalid property type {type_}; valid types are {', '.join(FIELD_TYPES)}")
    if field_type not in FIELD_TYPES[type_]:
        raise hs_validation(
            f"Invalid fieldType {field_type} for a property of type {type_}; use one of {', '.join(FIELD_TYPES[type_])}"
        )


async def list_properties(request: Request) -> Response:
    """`GET /crm/v3/properties/{type}` (`archived=true` lists the archived ones)."""
    type_ = resolve_type(request.path_params["object_type"])
    specs = state_of(request).store.hs_properties(type_, archived=flag(request, "archived"))
    return JSONResponse({"results": list(specs.values())})


async def get_property(request: Request) -> Response:
    """`GET /crm/v3/properties/{type}/{name}` (`archived=true` finds an archived one)."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["name"]
    spec = state_of(request).store.hs_properties(type_, archived=flag(request, "archived")).get(name)
    if spec is None:
        raise _property_not_found(name)
    return JSONResponse(spec)


async def create_property(request: Request) -> Response:
    """`POST /crm/v3/properties/{type}`: a custom property, checked as HubSpot checks it; 201."""
    type_ = resolve_type(request.path_params["object_type"])
    body = await json_body(request)
    store = state_of(request).store
    missing = [k for k in _REQUIRED if not isinstance(body.get(k), str) or not body[k]]
    if missing:
        raise hs_validation(
            f"Invalid input JSON: Cannot build PropertyCreate, some of required attributes are not set {missing}"
        )
    name = body["name"]
    if not _NAME.fullmatch(name) or name.startswith("hs_"):
        raise hs_validation(
            f"Property name {name!r} is invalid: names start with a letter, use only lower-case letters, digits "
            "and underscores, are at most 100 characters, and the prefix 'hs_' is reserved"
        )
    _check_kind(body["type"], body["fieldType"])
    if body["groupName"] not in _live_groups(store, type_):
        raise hs_validation(f"Property group {body['groupName']} does not exist")
    with store.transaction():
        if name in store.hs_properties(type_) or name in store.hs_properties(type_, archived=True):
            raise HsApiError(
                409, "Property already exists", "OBJECT_ALREADY_EXISTS", context={"name": [name]}
            )
        now = now_iso(request)
        spec: dict[str, Any] = {
            "updatedAt": now,
            "createdAt": now,
            "name": name,
            "label": body["label"],
            "type": body["type"],
            "fieldType": body["fieldType"],
            "description": str(body.get("description") or ""),
            "groupName": body["groupName"],
            "options": _options(body.get("options"), body["type"]),
            "createdUserId": INTEGRATION_USER_ID,
            "updatedUserId": INTEGRATION_USER_ID,
            "displayOrder": body["displayOrder"] if isinstance(body.get("displayOrder"), int) else -1,
            "calculated": False,
            "externalOptions": False,
            "archived": False,
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
            "hidden": bool(body.get("hidden", False)),
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "formField": bool(body.get("formField", False)),
            "dataSensitivity": "non_sensitive",
        }
        store.hs_put_property(type_, spec)
    return JSONResponse(spec, status_code=201)


async def update_property(request: Request) -> Response:
    """`PATCH /crm/v3/properties/{type}/{name}`: label, description, group, options, order, visibility."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["name"]
    body = await json_body(request)
    store = state_of(request).store
    with store.transaction():
        spec = store.hs_properties(type_).get(name)
        if spec is None:
            raise _property_not_found(name)
        meta = spec.get("modificationMetadata", {})
        if meta.get("readOnlyDefinition") and set(body) - {"options", "displayOrder", "label"}:
            raise hs_validation(
                f"{name} is a HubSpot defined property; only its options and label can change"
            )
        if "options" in body and meta.get("readOnlyOptions"):
            raise hs_validation(f"The options of {name} cannot be changed")
        new = dict(spec)
        type_name, field_type = body.get("type", spec["type"]), body.get("fieldType", spec["fieldType"])
        _check_kind(type_name, field_type)
        new |= {"type": type_name, "fieldType": field_type}
        for key in ("label", "description"):
            if isinstance(body.get(key), str):
                new[key] = body[key]
        if "groupName" in body:
            if body["groupName"] not in _live_groups(store, type_):
                raise hs_validation(f"Property group {body['groupName']} does not exist")
            new["groupName"] = body["groupName"]
        if "options" in body or type_name != spec["type"]:
            new["options"] = _options(body.get("options", spec.get("options")), type_name)
        for key in ("displayOrder",):
            if isinstance(body.get(key), int) and not isinstance(body.get(key), bool):
                new[key] = body[key]
        for key in ("hidden", "formField"):
            if isinstance(body.get(key), bool):
                new[key] = body[key]
        new["updatedAt"] = now_iso(request)
        if "updatedUserId" in new:
            new["updatedUserId"] = INTEGRATION_USER_ID
        store.hs_put_property(type_, new)
    return JSONResponse(new)


async def archive_property(request: Request) -> Response:
    """`DELETE /crm/v3/properties/{type}/{name}`: archive a custom property (204)."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["name"]
    store = state_of(request).store
    with store.transaction():
        spec = store.hs_properties(type_).get(name)
        if spec is None:
            raise _property_not_found(name)
        if spec.get("hubspotDefined"):
            raise hs_validation(f"{name} is a HubSpot defined property and cannot be archived")
        store.hs_put_property(type_, spec | {"archived": True, "archivedAt": now_iso(request)})
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- groups
async def list_groups(request: Request) -> Response:
    """`GET /crm/v3/properties/{type}/groups`: the live groups."""
    type_ = resolve_type(request.path_params["object_type"])
    return JSONResponse({"results": list(_live_groups(state_of(request).store, type_).values())})


async def get_group(request: Request) -> Response:
    """`GET /crm/v3/properties/{type}/groups/{name}`."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["group"]
    group = _live_groups(state_of(request).store, type_).get(name)
    if group is None:
        raise _group_not_found(name)
    return JSONResponse(group)


async def create_group(request: Request) -> Response:
    """`POST /crm/v3/properties/{type}/groups`: `{name, label, displayOrder?}`; 201."""
    type_ = resolve_type(request.path_params["object_type"])
    body = await json_body(request)
    store = state_of(request).store
    name, label = body.get("name"), body.get("label")
    if not isinstance(name, str) or not isinstance(label, str) or not name or not label:
        raise hs_validation(
            "Invalid input JSON: Cannot build PropertyGroupCreate, some of required attributes are not set [name, label]"
        )
    if not _NAME.fullmatch(name):
        raise hs_validation(
            f"Property group name {name!r} is invalid: use lower-case letters, digits and underscores"
        )
    with store.transaction():
        if name in store.hs_groups(type_):
            raise HsApiError(
                409, "Property group already exists", "OBJECT_ALREADY_EXISTS", context={"name": [name]}
            )
        order = body.get("displayOrder")
        group = {"name": name, "label": label, "displayOrder": order if isinstance(order, int) else -1}
        group["archived"] = False
        store.hs_put_group(type_, group)
    return JSONResponse(group, status_code=201)


async def update_group(request: Request) -> Response:
    """`PATCH /crm/v3/properties/{type}/groups/{name}`: label and display order."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["group"]
    body = await json_body(request)
    store = state_of(request).store
    with store.transaction():
        group = _live_groups(store, type_).get(name)
        if group is None:
            raise _group_not_found(name)
        if isinstance(body.get("label"), str) and body["label"]:
            group["label"] = body["label"]
        if isinstance(body.get("displayOrder"), int) and not isinstance(body["displayOrder"], bool):
            group["displayOrder"] = body["displayOrder"]
        store.hs_put_group(type_, group)
    return JSONResponse(group)


async def archive_group(request: Request) -> Response:
    """Archive a custom group; HubSpot's own groups, and groups that still hold properties, stay."""
    type_ = resolve_type(request.path_params["object_type"])
    name = request.path_params["group"]
    store = state_of(request).store
    with store.transaction():
        group = _live_groups(store, type_).get(name)
        if group is None:
            raise _group_not_found(name)
        if any(g["name"] == name for g in DEFAULT_GROUPS[type_]):
            raise hs_validation(f"{name} is a HubSpot defined property group and cannot be archived")
        if any(p["groupName"] == name for p in store.hs_properties(type_).values()):
            raise hs_validation(
                f"Property group {name} still contains properties; move or archive them first"
            )
        store.hs_put_group(type_, group | {"archived": True})
    return Response(status_code=204)


_BASE = "/crm/v3/properties/{object_type}"
ROUTES: list[BaseRoute] = [
    Route(f"{_BASE}/groups", list_groups, methods=["GET"]),
    Route(f"{_BASE}/groups", create_group, methods=["POST"]),
    Route(f"{_BASE}/groups/{{group}}", get_group, methods=["GET"]),
    Route(f"{_BASE}/groups/{{group}}", update_group, methods=["PATCH"]),
    Route(f"{_BASE}/groups/{{group}}", archive_group, methods=["DELETE"]),
    Route(_BASE, list_properties, methods=["GET"]),
    Route(_BASE, create_property, methods=["POST"]),
    Route(f"{_BASE}/{{name}}", get_property, methods=["GET"]),
    Route(f"{_BASE}/{{name}}", update_property, methods=["PATCH"]),
    Route(f"{_BASE}/{{name}}", archive_property, methods=["DELETE"]),
]
