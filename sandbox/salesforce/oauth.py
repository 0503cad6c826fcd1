"""OAuth 2.0 token endpoint (`/services/oauth2/token`) and an auto-approving authorize endpoint.

Grant types, with what the sandbox accepts in place of the real checks:

- `client_credentials`: the state's client id and secret (form fields or HTTP Basic); runs as the
  integration user. No refresh token, as in the real flow.
- `password`: client id and secret plus `username` of an active User; **every user's password is the
  sandbox client secret** (there are no per-user passwords or security tokens). No refresh token.
- `urn:ietf:params:oauth:grant-type:jwt-bearer`: a structurally valid JWT (`header.payload.signature`,
  base64url) whose `iss` is the client id, `sub` an active Username, `aud` the login, test or sandbox URL,
  and `exp` in the future. **The signature is not verified** (the sandbox holds no certificate).
- `authorization_code`: a code from `GET /services/oauth2/authorize`, which approves at once and redirects
  to `redirect_uri?code=...&state=...`. This is the flow that returns a refresh token.
- `refresh_token`: a refresh token the sandbox issued (client secret optional, checked if given).

Errors are the real `{"error", "error_description"}` bodies with status 400 (an unknown client id is
`invalid_client_id`, a wrong secret `invalid_client`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse
from sandbox.salesforce.common import identity_url, integration_user
from sandbox.state import SandboxState
from sandbox.store import LIVE

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """A token endpoint refusal: the OAuth `error` code and its description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def response(self) -> Response:
        """The 400 `{"error", "error_description"}` answer."""
        return JSONResponse({"error": self.error, "error_description": self.description}, status_code=400)


def _check_client(
    st: SandboxState, client_id: str | None, secret: str | None, *, secret_required: bool
) -> None:
    if not client_id or not hmac.compare_digest(client_id, st.client_id):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if secret is None and not secret_required:
        return
    if not secret or not hmac.compare_digest(secret, st.client_secret):
        raise OAuthError("invalid_client", "invalid client credentials")


def _active_user(st: SandboxState, username: str | None) -> str | None:
    if not username:
        return None
    rows = st.store.sql(
        f'SELECT Id FROM "sf_User" WHERE Username = ? COLLATE NOCASE AND {LIVE} AND IsActive = 1',
        (username,),
    )
    return str(rows[0][0]) if rows else None


def _b64url_json(part: str) -> Any:
    return orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _jwt_user(st: SandboxState, assertion: str | None) -> str:
    parts = (assertion or "").split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        raise OAuthError("invalid_grant", "invalid assertion")
    _check_client(st, str(claims.get("iss") or ""), None, secret_required=False)
    audience = str(claims.get("aud") or "").rstrip("/")
    if audience not in (*_AUDIENCES, st.base_url.rstrip("/")):
        raise OAuthError("invalid_grant", "audience is invalid")
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float) or expiry < time.time():
        raise OAuthError("invalid_grant", "invalid assertion")
    user = _active_user(st, str(claims.get("sub") or ""))
    if user is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return user


def _grant(st: SandboxState, params: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
    grant = params.get("grant_type", "")
    client_id = params.get("client_id") or (basic[0] if basic else None)
    secret = params.get("client_secret") or (basic[1] if basic else None)
    with_refresh = False
    if grant == "client_credentials":
        _check_client(st, client_id, secret, secret_required=True)
        user = integration_user()
    elif grant == "password":
        _check_client(st, client_id, secret, secret_required=True)
        found = _active_user(st, params.get("username"))
        if found is None or not hmac.compare_digest(params.get("password", ""), st.client_secret):
            raise OAuthError("invalid_grant", "authentication failure")
        user = found
    elif grant == JWT_BEARER:
        user = _jwt_user(st, params.get("assertion"))
    elif grant == "authorization_code":
        _check_client(st, client_id, secret, secret_required=True)
        stored = st.store.meta_get(f"oauth_code:{params.get('code', '')}")
        issued = orjson.loads(stored) if stored else None
        if not issued or issued.get("redirect_uri") != params.get("redirect_uri", issued.get("redirect_uri")):
            raise OAuthError("invalid_grant", "expired authorization code")
        st.store.meta_set(f"oauth_code:{params['code']}", "")  # a code works once
        user, with_refresh = str(issued["user"]), True
    elif grant == "refresh_token":
        _check_client(st, client_id, secret, secret_required=False)
        token = params.get("refresh_token", "")
        if not st.is_refresh_token(token):
            raise OAuthError("invalid_grant", "expired access/refresh token")
        user = st.store.meta_get(f"oauth_refresh_user:{token}") or integration_user()
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    access, refresh = st.issue_token(with_refresh=with_refresh)
    issued_at = str(int(time.time() * 1000))
    id_url = identity_url(st.base_url, user)
    signature = hmac.new(st.client_secret.encode(), (id_url + issued_at).encode(), hashlib.sha256).digest()
    out: dict[str, Any] = {"access_token": access}
    if refresh:
        out["refresh_token"] = refresh
        st.store.meta_set(f"oauth_refresh_user:{refresh}", user)
    out.update(
        {
            "signature": base64.b64encode(signature).decode(),
            "scope": "refresh_token api" if refresh else "api",
            "instance_url": st.base_url,
            "id": id_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )
    return out


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


async def token(request: Request) -> Response:
    """`POST /services/oauth2/token` (form-encoded; parameters in the query string work too)."""
    st = sandbox_state(request)
    params = dict(request.query_params)
    params.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return JSONResponse(_grant(st, params, _basic_auth(request)))
    except OAuthError as exc:
        return exc.response()


async def authorize(request: Request) -> Response:
    """`GET /services/oauth2/authorize?response_type=code`: approves as the integration user at once."""
    st = sandbox_state(request)
    q = request.query_params
    redirect_uri = q.get("redirect_uri", "")
    if q.get("client_id") != st.client_id:
        return OAuthError("invalid_client_id", "client identifier invalid").response()
    if q.get("response_type") != "code" or not redirect_uri:
        return OAuthError("unsupported_response_type", "response type not supported").response()
    code = "aPrx" + secrets.token_urlsafe(24)
    st.store.meta_set(
        f"oauth_code:{code}",
        orjson.dumps({"user": integration_user(), "redirect_uri": redirect_uri}).decode(),
    )
    query = {"code": code, **({"state": q["state"]} if "state" in q else {})}
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)


ROUTES: list[BaseRoute] = [
    Route("/services/oauth2/token", token, methods=["POST"]),
    Route("/services/oauth2/authorize", authorize, methods=["GET"]),
]
