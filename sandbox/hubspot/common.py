"""Plumbing shared by the HubSpot handlers: object types in paths, query strings, JSON bodies, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request

from sandbox.clock import hs_datetime
from sandbox.errors import HsApiError, hs_validation
from sandbox.hs_schema import HS_OBJECT_TYPES, OBJECT_TYPE_IDS
from sandbox.state import SandboxState

PORTAL_ID = 147893286

# HubSpot accepts the plural name, the singular and the objectTypeId in paths
_TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in HS_OBJECT_TYPES},
    **{t[:-1]: t for t in HS_OBJECT_TYPES if t != "companies"},
    "company": "companies",
    **{v: k for k, v in OBJECT_TYPE_IDS.items()},
}
# the names HubSpot uses in messages ("Could not get some CONTACT objects")
TYPE_WORD = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL", "tasks": "TASK", "notes": "NOTE"}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "tasks": "task", "notes": "note"}


def resolve_type(raw: str) -> str:
    """The store's object type for a path segment, or the 400 HubSpot gives for an unknown one."""
    type_ = _TYPE_ALIASES.get(raw.lower())
    if type_ is None:
        raise hs_validation(f"Unable to infer object type from: {raw}")
    return type_


def object_not_found(record_id: str) -> HsApiError:
    """The 404 of the objects API (its odd wording is HubSpot's)."""
    return HsApiError(
        404,
        "Object not found.  objectId are usually numeric.",
        "OBJECT_NOT_FOUND",
        context={"id": [record_id]},
    )


def parse_id(raw: str) -> int | None:
    """A record id from a path or input, or None if it cannot be one."""
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def multi(request: Request, name: str) -> list[str] | None:
    """A list parameter that may repeat and may be comma separated; None when absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def flag(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter ("true"/"false"); anything else is a 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low not in ("true", "false"):
        raise hs_validation(f"Invalid boolean value for query parameter {name}: {raw}")
    return low == "true"


def int_param(request: Request, name: str, default: int, maximum: int) -> int:
    """A bounded positive integer query parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise hs_validation(f"Invalid integer value for query parameter {name}: {raw}") from None
    if value < 1 or value > maximum:
        raise hs_validation(f"{name} must be between 1 and {maximum}, got {value}")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or the 400 HubSpot gives for malformed input."""
    raw = await request.body()
    if not raw.strip():
        raise hs_validation("Invalid input JSON on line 1, column 1: No content to map due to end-of-input")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise hs_validation(
            f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise hs_validation("Invalid input JSON on line 1, column 1: expected a JSON object")
    return data


def require_list(body: dict[str, Any], key: str) -> list[Any]:
    """A list field of a request body, or the 400 for malformed input."""
    value = body.get(key)
    if not isinstance(value, list):
        raise hs_validation(f"Invalid input JSON: '{key}' must be a list")
    return value


def state_of(request: Request) -> SandboxState:
    """The sandbox behind a request (the same object `sandbox.app.sandbox_state` returns)."""
    st = request.app.state.sandbox
    assert isinstance(st, SandboxState)
    return st


def now_iso(request: Request) -> str:
    """The sandbox clock's now, in HubSpot's timestamp format."""
    return hs_datetime(state_of(request).store.clock.now())


def next_link(request: Request, after: str) -> str:
    """The `paging.next.link` of a list page: the same request with the next cursor."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    params.append(("after", after))
    return f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{urlencode(params)}"


# HUBSPOT_DEFINED association type ids: id -> (from type, to type); the ids HubSpot documents
ASSOCIATION_TYPES: dict[int, tuple[str, str]] = {
    1: ("contacts", "companies"), 279: ("contacts", "companies"),
    2: ("companies", "contacts"), 280: ("companies", "contacts"),
    3: ("deals", "contacts"), 4: ("contacts", "deals"),
    5: ("deals", "companies"), 341: ("deals", "companies"),
    6: ("companies", "deals"), 342: ("companies", "deals"),
    13: ("companies", "companies"), 14: ("companies", "companies"),
    204: ("tasks", "contacts"), 203: ("contacts", "tasks"),
    192: ("tasks", "companies"), 191: ("companies", "tasks"),
    216: ("tasks", "deals"), 215: ("deals", "tasks"),
    202: ("notes", "contacts"), 201: ("contacts", "notes"),
    190: ("notes", "companies"), 189: ("companies", "notes"),
    214: ("notes", "deals"), 213: ("deals", "notes"),
}  # fmt: skip
UNLABELED_TYPE_IDS = frozenset({279, 280, 341, 342})
PRIMARY_COMPANY_TYPE_ID = 1


def association_name(from_type: str, to_type: str, type_id: int) -> str:
    """The v3 name of an association as seen from `from_type` (`task_to_contact`, `contact_to_company`)."""
    name = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    return name + "_unlabeled" if type_id in UNLABELED_TYPE_IDS else name
