"""The ASGI app: both APIs on one port, behind one middleware for auth, limits, faults and logging."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.errors import HsApiError, JSONResponse, SfApiError, hs_unauthorized, sf_invalid_session
from sandbox.state import SandboxState

log = logging.getLogger("sandbox")

_SF_UNAUTHENTICATED = re.compile(r"^/services/(data/?|oauth2/.*)$")
_HS_UNAUTHENTICATED = re.compile(r"^/oauth/v1/token$")
# HubSpot asks no other credential of its token metadata endpoints: the token is the subject.
_HS_TOKEN_INFO = re.compile(r"^/oauth/(v1/access-tokens/[^/]+|v2/private-apps/get/access-token-info)$")
_ENDPOINT_RULES = (
    (re.compile(r"/v\d+\.\d+"), "/vXX.X"),
    (re.compile(r"/(query|queryAll)/[^/]+-\d+$"), r"/\1/{locator}"),
    (re.compile(r"/(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?=/|$)"), "/{id}"),
    (re.compile(r"/\d+(?=/|$)"), "/{id}"),
)


def endpoint_name(path: str) -> str:
    """A path with versions, ids and locators replaced, for per-endpoint counters."""
    for pattern, repl in _ENDPOINT_RULES:
        path = pattern.sub(repl, path)
    return path


def api_of(path: str) -> str:
    if path.startswith("/services/"):
        return "salesforce"
    if path.startswith(("/crm/", "/oauth/", "/properties/", "/owners/")):
        return "hubspot"
    if path.startswith("/__sandbox"):
        return "admin"
    return "other"


def _bearer(scope: Scope) -> str | None:
    for k, v in scope["headers"]:
        if k == b"authorization":
            text: str = v.decode("latin-1")
            if text.lower().startswith(("bearer ", "oauth ")):
                return text.split(" ", 1)[1].strip()
    return None


class ApiGate:
    """Auth, daily quota and rate limits, fault injection, limit headers and the request log."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        api = api_of(path)
        status_box = [0]
        extra_headers: list[tuple[bytes, bytes]] = []

        logged = [False]

        def log_once() -> None:
            # Logged when the response starts, so a client reading the log right after its call sees it.
            if not logged[0]:
                logged[0] = True
                self.state.log.add(
                    api,
                    scope["method"],
                    path,
                    endpoint_name(path),
                    status_box[0],
                    (time.perf_counter() - started) * 1000,
                    fault_box[0],
                )

        fault_box: list[str | None] = [None]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                if extra_headers:
                    message["headers"] = [*message.get("headers", []), *extra_headers]
                log_once()
            await send(message)

        try:
            refusal, fault_box[0] = await self._gate(scope, api, path, extra_headers)
            if refusal is not None:
                await refusal(scope, receive, send_wrapped)
            else:
                await self.app(scope, receive, send_wrapped)
        finally:
            log_once()

    async def _gate(
        self, scope: Scope, api: str, path: str, extra: list[tuple[bytes, bytes]]
    ) -> tuple[Response | None, str | None]:
        st = self.state
        if api == "salesforce":
            if _SF_UNAUTHENTICATED.match(path):
                return None, None
            token = _bearer(scope)
            if token is None or not st.is_valid_token(token):
                return sf_invalid_session().response(), None
            fault = await self._faults(path, "salesforce", token)
            if fault is not None:
                return fault
            if not st.sf_quota.consume():
                return SfApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response(
                    {"Sforce-Limit-Info": st.sf_quota.header()}
                ), None
            extra.append((b"sforce-limit-info", st.sf_quota.header().encode()))
            return None, None
        if api == "hubspot":
            if _HS_UNAUTHENTICATED.match(path):
                return None, None
            if _HS_TOKEN_INFO.match(path):
                return await self._faults(path, "hubspot", "") or (None, None)
            token = _bearer(scope)
            if token is None or not st.is_valid_token(token):
                return hs_unauthorized().response(), None
            fault = await self._faults(path, "hubspot", token)
            if fault is not None:
                return fault
            if path.endswith("/search"):
                ok, _ = st.hs_search_window.hit(token)
                if not ok:
                    return _hs_rate_limited("SECONDLY", st.limits.hs_search_per_second, 1000), None
            daily_remaining = st.hs_daily_hit()
            if daily_remaining < 0:
                return _hs_rate_limited("DAILY", st.limits.hs_daily_limit, 86_400_000), None
            ok, remaining = st.hs_window.hit(token)
            if not ok:
                return _hs_rate_limited("TEN_SECONDLY_ROLLING", st.limits.hs_ten_second_limit, 10000), None
            extra += [
                (b"x-hubspot-ratelimit-interval-milliseconds", b"10000"),
                (b"x-hubspot-ratelimit-max", str(st.limits.hs_ten_second_limit).encode()),
                (b"x-hubspot-ratelimit-remaining", str(remaining).encode()),
                (b"x-hubspot-ratelimit-daily", str(st.limits.hs_daily_limit).encode()),
                (b"x-hubspot-ratelimit-daily-remaining", str(daily_remaining).encode()),
            ]
            return None, None
        if api == "admin" and path != "/__sandbox/health":
            token = _bearer(scope)
            if token is None or not st.is_valid_token(token):
                return JSONResponse(
                    {"error": "admin calls need the sandbox bearer token"}, status_code=401
                ), None
        return None, None

    async def _faults(self, path: str, api: str, token: str) -> tuple[Response | None, str | None] | None:
        inj = self.state.faults
        if not inj.applies_to(path):
            return None
        if inj.draw("timeout"):
            await asyncio.sleep(inj.config.timeout_seconds)
            return _server_error(api, 503), "timeout"
        if inj.draw("slow"):
            await asyncio.sleep(inj.config.slow_seconds)
        if inj.draw("error_5xx"):
            return _server_error(api, inj.choice([500, 503])), "error_5xx"
        if api == "hubspot" and inj.draw("rate_limit"):
            return _hs_rate_limited(
                "TEN_SECONDLY_ROLLING", self.state.limits.hs_ten_second_limit, 10000
            ), "rate_limit"
        if api == "salesforce" and inj.draw("quota"):
            return SfApiError(
                403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
            ).response(), "quota"
        if self.state.is_issued_token(token) and inj.session_expired():
            self.state.expire_sessions()
            return (
                sf_invalid_session().response() if api == "salesforce" else hs_unauthorized().response()
            ), ("session_expiry")
        return None


def _server_error(api: str, status: int) -> Response:
    if api == "salesforce":
        if status == 503:
            return SfApiError(
                503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, try again later."
            ).response()
        return SfApiError(
            500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact "
            "support: 1457389120-60123 (-1234567890)"
        ).response()  # fmt: skip
    return HsApiError(
        status, "internal error" if status == 500 else "Service Unavailable", "INTERNAL_ERROR"
    ).response()


def _hs_rate_limited(policy: str, limit: int, interval_ms: int) -> Response:
    message = (
        "You have reached your ten_secondly_rolling limit." if policy == "TEN_SECONDLY_ROLLING"
        else "You have reached your secondly limit."
    )  # fmt: skip
    err = HsApiError(429, message, "RATE_LIMITS", extra={"errorType": "RATE_LIMIT", "policyName": policy})
    return err.response(
        {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": "0",
            "Retry-After": "1",
        }
    )


async def _sf_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SfApiError)
    return exc.response()


async def _hs_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HsApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    api = api_of(request.url.path)
    if api == "salesforce":
        if exc.status_code == 405:
            return SfApiError(
                405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed."
            ).response()
        return SfApiError(exc.status_code, "NOT_FOUND", "The requested resource does not exist").response()
    if api == "hubspot":
        if exc.status_code == 405:
            return HsApiError(
                405, f"HTTP {request.method} is not supported by this URL", "METHOD_NOT_ALLOWED"
            ).response()
        return HsApiError(exc.status_code, "Resource not found", "OBJECT_NOT_FOUND").response()
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A 500 here is a sandbox bug, never an answer the real API would give; keep the trace for the test log.
    log.error("sandbox bug on %s %s\n%s", request.method, request.url.path, traceback.format_exc())
    if api_of(request.url.path) == "hubspot":
        return HsApiError(500, f"internal error: {exc!r}", "INTERNAL_ERROR").response()
    return SfApiError(500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {exc!r}").response()


def create_app(state: SandboxState) -> Any:
    """The sandbox ASGI app for a state (used by the server and by in-process tests)."""
    # Imported here: the route modules import `sandbox_state` from this module.
    from sandbox import admin, hubspot, salesforce

    app = Starlette(
        routes=[*salesforce.routes(), *hubspot.routes(), *admin.routes()],
        exception_handlers={
            SfApiError: _sf_error,
            HsApiError: _hs_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.sandbox = state
    return ApiGate(app, state)


def sandbox_state(request: Request) -> SandboxState:
    """The state behind a request (for handlers)."""
    st = request.app.state.sandbox
    assert isinstance(st, SandboxState)
    return st
