"""What a HubSpot token may do: its granted scopes, and the two endpoints that report them.

- `GET /oauth/v1/access-tokens/{token}`: metadata of an OAuth access token the sandbox issued (`token`,
  `user`, `hub_domain`, `scopes`, `hub_id`, `app_id`, `expires_in`, `user_id`, `token_type: "access"`).
  An unknown token is a 404; one that was issued but has since expired is a 401.
- `POST /oauth/v2/private-apps/get/access-token-info` with `{"tokenKey": ...}`: `{userId, hubId, appId,
  scopes}` of the private app token (the sandbox's configured token). Any other key is a 401.

Scopes: every token starts with `DEFAULT_SCOPES` (what leadq needs with its shipped HubSpot mapping,
`leadq setup` included). OAuth access tokens also carry `oauth`, as HubSpot's do, and keep the scopes the
app had when they were issued. Tests change them in-process (`token_scopes(server.state).grant(...)`) or
through `PUT /__sandbox/hubspot/scopes` with `{"scopes": [...], "token": optional}`; `DELETE` restores
the defaults.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import HsApiError, JSONResponse
from sandbox.hubspot.common import PORTAL_ID, json_body, state_of
from sandbox.state import SandboxState

# The sandbox stands alone (it imports nothing of leadq's); tests prove this equals leadq's own list.
DEFAULT_SCOPES = frozenset({
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
    "crm.schemas.contacts.write",
})  # fmt: skip
OAUTH_SCOPE = "oauth"
APP_ID = 2_739_104
USER_ID = 61_204_337
USER_EMAIL = "integration@leadq-sandbox.example"
HUB_DOMAIN = "leadq-sandbox.hubspot.example"
ACCESS_TOKEN_SECONDS = 1800


@dataclass
class TokenScopes:
    """The scopes of every token of one sandbox; thread-safe."""

    default: frozenset[str] = DEFAULT_SCOPES
    _by_token: dict[str, frozenset[str]] = field(default_factory=dict)
    _issued_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def grant(self, scopes: Iterable[str], token: str | None = None) -> None:
        """Set one token's scopes, or (no token) the app's: the private app token's and new OAuth tokens'."""
        value = frozenset(scopes)
        with self._lock:
            if token is None:
                self.default = value
            else:
                self._by_token[token] = value

    def reset(self) -> None:
        """Back to `DEFAULT_SCOPES` everywhere (issued tokens keep their issue times)."""
        with self._lock:
            self.default = DEFAULT_SCOPES
            for token in self._issued_at:
                self._by_token[token] = DEFAULT_SCOPES | {OAUTH_SCOPE}
            for token in [t for t in self._by_token if t not in self._issued_at]:
                del self._by_token[token]

    def issued(self, token: str) -> None:
        """An OAuth access token was issued now: it gets the app's current scopes, and `oauth`."""
        with self._lock:
            self._by_token[token] = self.default | {OAUTH_SCOPE}
            self._issued_at[token] = time.monotonic()

    def of(self, token: str) -> frozenset[str]:
        with self._lock:
            return self._by_token.get(token, self.default)

    def was_issued(self, token: str) -> bool:
        with self._lock:
            return token in self._issued_at

    def expires_in(self, token: str) -> int:
        with self._lock:
            at = self._issued_at.get(token, time.monotonic())
        return max(0, int(ACCESS_TOKEN_SECONDS - (time.monotonic() - at)))


# SandboxState is an (unhashable) dataclass owned elsewhere; its scopes live here, dropped with it.
_REGISTRY: dict[int, TokenScopes] = {}
_REGISTRY_LOCK = threading.Lock()


def token_scopes(state: SandboxState) -> TokenScopes:
    """The scopes of `state`'s tokens (created with the defaults on first use)."""
    key = id(state)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = TokenScopes()
            weakref.finalize(state, _REGISTRY.pop, key, None)
        return found


def _is_private_app_token(state: SandboxState, token: str) -> bool:
    return bool(token) and secrets.compare_digest(token.encode(), state.token.encode())


async def access_token_metadata(request: Request) -> Response:
    """`GET /oauth/v1/access-tokens/{token}`: an OAuth access token's metadata and scopes."""
    state = state_of(request)
    token = request.path_params["token"]
    scopes = token_scopes(state)
    if not state.is_issued_token(token):
        if scopes.was_issued(token):
            raise HsApiError(401, "The OAuth token used to make this call expired.", "EXPIRED_AUTHENTICATION")
        raise HsApiError(404, "Token not found", "OBJECT_NOT_FOUND")
    return JSONResponse(
        {
            "token": token,
            "user": USER_EMAIL,
            "hub_domain": HUB_DOMAIN,
            "scopes": sorted(scopes.of(token)),
            "hub_id": PORTAL_ID,
            "app_id": APP_ID,
            "expires_in": scopes.expires_in(token),
            "user_id": USER_ID,
            "token_type": "access",
        }
    )


async def private_app_token_info(request: Request) -> Response:
    """`POST /oauth/v2/private-apps/get/access-token-info`: a private app token's scopes."""
    state = state_of(request)
    key = (await json_body(request)).get("tokenKey")
    if not isinstance(key, str) or not key:
        raise HsApiError(400, "tokenKey is required", "VALIDATION_ERROR")
    if not _is_private_app_token(state, key):
        raise HsApiError(
            401, "The private app access token is not valid or has been rotated.", "INVALID_AUTHENTICATION"
        )
    return JSONResponse(
        {
            "userId": USER_ID,
            "hubId": PORTAL_ID,
            "appId": APP_ID,
            "scopes": sorted(token_scopes(state).of(key)),
        }
    )


async def admin_scopes(request: Request) -> Response:
    """`/__sandbox/hubspot/scopes`: GET the app's scopes, PUT `{scopes, token?}`, DELETE to reset."""
    scopes = token_scopes(state_of(request))
    if request.method == "PUT":
        body = await request.json()
        granted = body.get("scopes") if isinstance(body, dict) else None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(granted, list) or not all(isinstance(s, str) for s in granted):
            return JSONResponse({"error": 'send {"scopes": ["..."], "token": optional}'}, status_code=400)
        if token is not None and not isinstance(token, str):
            return JSONResponse({"error": "token must be a string"}, status_code=400)
        scopes.grant(granted, token)
    elif request.method == "DELETE":
        scopes.reset()
    return JSONResponse({"scopes": sorted(scopes.default)})


ROUTES: list[BaseRoute] = [
    Route("/oauth/v1/access-tokens/{token}", access_token_metadata, methods=["GET"]),
    Route("/oauth/v2/private-apps/get/access-token-info", private_app_token_info, methods=["POST"]),
    Route("/__sandbox/hubspot/scopes", admin_scopes, methods=["GET", "PUT", "DELETE"]),
]
