"""HubSpot OAuth 2.0 token endpoint (`POST /oauth/v1/token`, form encoded, unauthenticated).

`grant_type=refresh_token` needs the sandbox's client id and secret and a refresh token the sandbox issued;
like HubSpot it returns a new access token and the same refresh token. `grant_type=authorization_code`
accepts any non-empty code (the sandbox has no consent screen), so a demo can run the install flow.
Each access token gets the app's scopes of the moment (`sandbox.hubspot.token_info`).
Errors are HubSpot's OAuth shape: `{status: "BAD_REFRESH_TOKEN", message, correlationId}` with a 400.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import JSONResponse
from sandbox.hubspot.common import state_of
from sandbox.hubspot.token_info import ACCESS_TOKEN_SECONDS, token_scopes


def _error(status: str, message: str) -> Response:
    return JSONResponse(
        {"status": status, "message": message, "correlationId": str(uuid.uuid4())}, status_code=400
    )


async def token(request: Request) -> Response:
    """Exchange a refresh token or an authorization code for an access token."""
    state = state_of(request)
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    grant = form.get("grant_type", "")
    if grant not in ("refresh_token", "authorization_code"):
        return _error("BAD_GRANT_TYPE", "missing or invalid grant type")
    if form.get("client_id") != state.client_id:
        return _error("BAD_CLIENT_ID", "missing or unknown client id")
    if form.get("client_secret") != state.client_secret:
        return _error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    if grant == "refresh_token":
        refresh = form.get("refresh_token", "")
        if not refresh or not state.is_refresh_token(refresh):
            return _error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        access, _ = state.issue_token(with_refresh=False)
    else:
        if not form.get("code"):
            return _error("BAD_AUTH_CODE", "missing or unknown auth code")
        if not form.get("redirect_uri"):
            return _error("BAD_REDIRECT_URI", "missing or invalid redirect uri")
        access, new_refresh = state.issue_token()
        assert new_refresh is not None
        refresh = new_refresh
    # the app's scopes at this moment are the token's (`GET /oauth/v1/access-tokens/{token}` reports them)
    token_scopes(state).issued(access)
    return JSONResponse(
        {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
    )


ROUTES: list[BaseRoute] = [Route("/oauth/v1/token", token, methods=["POST"])]
