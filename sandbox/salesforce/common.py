"""Helpers every Salesforce REST handler shares: API versions, routes, JSON bodies, record rendering."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.errors import SfApiError, sf_not_found
from sandbox.ids import sf_id
from sandbox.sf_schema import SfField, SfObject
from sandbox.store import INTEGRATION_USER_NUMBER, Store

ORG_ID = sf_id("00D", 1)
FIRST_VERSION = 31
LAST_VERSION = 66
_SEASONS = ("Summer", "Winter", "Spring")


def _label(major: int) -> str:
    # v31.0 was Summer '14; a year of releases is Winter, Spring, Summer and Winter names the next year.
    step = major - FIRST_VERSION
    season = _SEASONS[step % 3]
    year = 14 + (step + 2) // 3
    quote = "\u2019" if major == 42 else "'"  # the real list spells Spring '18 with a typographic quote
    return f"{season} {quote}{year:02d}"


VERSIONS: tuple[dict[str, str], ...] = tuple(
    {"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
    for v in range(FIRST_VERSION, LAST_VERSION + 1)
)
_KNOWN_VERSIONS = frozenset(v["version"] for v in VERSIONS)

Endpoint = Callable[[Request], Awaitable[Response]]


def version_of(request: Request) -> str:
    """The request's API version ("59.0"); 404 NOT_FOUND for versions the org does not serve."""
    raw = str(request.path_params.get("version", ""))
    if raw not in _KNOWN_VERSIONS:
        raise sf_not_found()
    return raw


def version_number(version: str) -> float:
    """A version string as a number, for version-dependent behaviour."""
    return float(version)


def routes(path: str, endpoint: Endpoint, methods: Iterable[str]) -> list[Route]:
    """A route with and without a trailing slash: simple-salesforce asks for both (`sobjects/Lead/`, `limits/`)."""
    allowed = list(methods)
    return [Route(path, endpoint, methods=allowed), Route(path + "/", endpoint, methods=allowed)]


async def json_body(request: Request) -> Any:
    """The parsed JSON body, or 400 JSON_PARSER_ERROR as Salesforce answers malformed JSON."""
    raw = await request.body()
    if not raw.strip():
        raise SfApiError(
            400, "JSON_PARSER_ERROR", "No content to map due to end-of-input at [line:1, column:0]"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SfApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Unexpected character: {exc.msg} at [line:{exc.lineno}, column:{exc.colno}]",
        ) from exc


def sobject(store: Store, name: str) -> SfObject:
    """An sObject by name (case-insensitive), or the real 404 NOT_FOUND."""
    obj = store.sf_object(name)
    if obj is None:
        raise sf_not_found()
    return obj


def record_url(version: str, obj: str, record_id: str) -> str:
    """A record's REST path (`attributes.url`, `Location`)."""
    return f"/services/data/v{version}/sobjects/{obj}/{record_id}"


def integration_user() -> str:
    """The id of the user API calls run as."""
    return sf_id("005", INTEGRATION_USER_NUMBER)


def identity_url(base_url: str, user_id: str | None = None) -> str:
    """The `id` URL a token response and the resource list name (`.../id/<org>/<user>`)."""
    return f"{base_url}/id/{ORG_ID}/{user_id or integration_user()}"


def render_value(field: SfField, value: Any) -> Any:
    """A stored column value as the API renders it: booleans as JSON booleans, numbers typed."""
    kind = field.type
    if kind == "boolean":
        return bool(value)
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind in ("double", "currency", "percent"):
        return float(value)
    return value


def render_record(
    obj: SfObject, row: Mapping[str, Any], version: str, fields: Iterable[SfField] | None = None
) -> dict[str, Any]:
    """A record in the REST shape: `attributes` first, then fields in describe order."""
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(version, obj.name, str(row["Id"]))}
    }
    for f in fields if fields is not None else obj.fields:
        out[f.name] = render_value(f, row.get(f.name))
    return out


def select_fields(obj: SfObject, spec: str | None) -> list[SfField]:
    """The fields of a `?fields=A,B` parameter, or 400 INVALID_FIELD naming the first unknown one."""
    if not spec:
        return list(obj.fields)
    by_lower = {f.name.lower(): f for f in obj.fields}
    out: list[SfField] = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        f = by_lower.get(name.lower())
        if f is None:
            raise SfApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom field, "
                "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        if f not in out:
            out.append(f)
    return out
