"""HubSpot CRM v3 owners (`/crm/v3/owners`): the users records are assigned to."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import HsApiError, JSONResponse, hs_validation
from sandbox.hubspot.common import flag, int_param, next_link, parse_id, state_of

MAX_PAGE = 500
_EPOCH = "2024-01-15T09:00:00.000Z"


def render_owner(spec: dict[str, Any]) -> dict[str, Any]:
    """An owner as the API returns it (`teams` only when the owner is on a team, as HubSpot sends it)."""
    user_id = spec.get("userId", int(spec["id"]))
    out: dict[str, Any] = {
        "id": str(spec["id"]),
        "email": spec.get("email"),
        "type": spec.get("type", "PERSON"),
        "firstName": spec.get("firstName", ""),
        "lastName": spec.get("lastName", ""),
        "userId": user_id,
        "userIdIncludingInactive": spec.get("userIdIncludingInactive", user_id),
        "createdAt": spec.get("createdAt", _EPOCH),
        "updatedAt": spec.get("updatedAt", spec.get("createdAt", _EPOCH)),
        "archived": bool(spec.get("archived", False)),
    }
    teams = spec.get("teams")
    if teams:
        out["teams"] = [
            {"id": str(t["id"]), "name": t.get("name", ""), "primary": bool(t.get("primary", False))}
            for t in teams
        ]
    return out


async def list_owners(request: Request) -> Response:
    """`GET /crm/v3/owners` with `email`, `limit` (default 100, max 500), `after`, `archived`."""
    limit = int_param(request, "limit", 100, MAX_PAGE)
    archived = flag(request, "archived")
    email = (request.query_params.get("email") or "").lower()
    raw_after = request.query_params.get("after") or "0"
    after = parse_id(raw_after)
    if after is None:
        raise hs_validation(f"Invalid value for query parameter after: {raw_after}")
    owners = [
        o
        for o in state_of(request).store.hs_owners()
        if bool(o.get("archived", False)) == archived
        and int(o["id"]) >= after
        and (not email or str(o.get("email") or "").lower() == email)
    ]
    body: dict[str, Any] = {"results": [render_owner(o) for o in owners[:limit]]}
    if len(owners) > limit:
        cursor = str(owners[limit]["id"])
        body["paging"] = {"next": {"after": cursor, "link": next_link(request, cursor)}}
    return JSONResponse(body)


async def get_owner(request: Request) -> Response:
    """`GET /crm/v3/owners/{ownerId}`; `idProperty=userId` looks the owner up by user id instead."""
    raw = request.path_params["owner_id"]
    id_property = request.query_params.get("idProperty") or "id"
    if id_property not in ("id", "userId"):
        raise hs_validation(f"Invalid value for query parameter idProperty: {id_property}; use id or userId")
    archived = flag(request, "archived")
    key = parse_id(raw)
    for spec in state_of(request).store.hs_owners():
        owner = render_owner(spec)
        if key is not None and owner["archived"] == archived and str(owner[id_property]) == str(key):
            return JSONResponse(owner)
    raise HsApiError(404, f"Owner not found: {raw}", "OBJECT_NOT_FOUND", context={"id": [raw]})


ROUTES: list[BaseRoute] = [
    Route("/crm/v3/owners", list_owners, methods=["GET"]),
    Route("/crm/v3/owners/", list_owners, methods=["GET"]),
    Route("/crm/v3/owners/{owner_id}", get_owner, methods=["GET"]),
]
