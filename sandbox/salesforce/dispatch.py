"""Run a subrequest (Composite) against the app's own routes, in-process and without the API gate.

The route is matched with Starlette's own matching, and its endpoint is called directly on the event loop
thread, so a Composite request with `allOrNone` can hold one SQLite transaction across its subrequests:
endpoints run here must be `async def` or plain functions and must not hand store work to another thread.
A composite counts as one API call, as in the real API, so the quota middleware is not run again.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope

from sandbox.errors import SfApiError, sf_not_found

log = logging.getLogger("sandbox")


@dataclass
class SubResponse:
    """A subrequest's answer: status, headers and decoded JSON body (None when empty)."""

    status: int
    headers: dict[str, str]
    body: Any


def _scope(parent: Request, method: str, url: str, body: bytes, headers: dict[str, str]) -> Scope:
    parts = urlsplit(url)
    raw_headers = [(k, v) for k, v in parent.scope["headers"] if k in (b"authorization", b"host")]
    raw_headers.append((b"content-type", b"application/json"))
    raw_headers.append((b"content-length", str(len(body)).encode()))
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": parent.scope.get("asgi", {"version": "3.0"}),
        "http_version": "1.1",
        "scheme": parent.scope.get("scheme", "https"),
        "server": parent.scope.get("server"),
        "client": parent.scope.get("client"),
        "root_path": "",
        "app": parent.scope["app"],
        "state": parent.scope.get("state", {}),
        "method": method.upper(),
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": raw_headers,
    }


def _decode(response: Response) -> Any:
    raw = bytes(response.body) if response.body else b""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _render(response: Response) -> SubResponse:
    keep = {"location": "Location"}
    headers = {keep[k.lower()]: v for k, v in response.headers.items() if k.lower() in keep}
    return SubResponse(response.status_code, headers, _decode(response))


async def call(
    parent: Request, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> SubResponse:
    """Dispatch one subrequest to the route that serves it; errors come back as responses, never raise."""
    raw = b"" if body is None else orjson.dumps(body)
    scope = _scope(parent, method, url, raw, headers or {})
    allowed: list[str] = []
    for route in parent.app.router.routes:
        match, child = route.matches(scope)
        if match == Match.NONE or not isinstance(route, Route):
            continue
        if match == Match.PARTIAL:
            allowed += sorted(route.methods or ())
            continue
        scope.update(child)
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        request = Request(scope, receive)
        try:
            if inspect.isclass(route.endpoint):  # class-based endpoints only speak ASGI
                return await _via_asgi(route, scope, receive)
            result = route.endpoint(request)
            if inspect.isawaitable(result):
                result = await result
        except SfApiError as exc:
            return _render(exc.response())
        except HTTPException as exc:
            return _render(_http_error(method, exc.status_code).response())
        except Exception as exc:  # a sandbox bug: answer as the real API's unexpected error would
            log.error("sandbox bug in composite subrequest %s %s\n%s", method, url, traceback.format_exc())
            return _render(
                SfApiError(500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {exc!r}").response()
            )
        assert isinstance(result, Response)
        return _render(result)
    if allowed:
        names = ",".join(dict.fromkeys(m for m in allowed if m != "HEAD"))
        return _render(
            SfApiError(
                405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {names}"
            ).response()
        )
    return _render(sf_not_found().response())


def _http_error(method: str, status: int) -> SfApiError:
    if status == 405:
        return SfApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
    return sf_not_found()


async def _via_asgi(route: Route, scope: Scope, receive: Receive) -> SubResponse:
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    await route.handle(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
    location = {"Location": headers["location"]} if "location" in headers else {}
    return SubResponse(int(start["status"]), location, orjson.loads(body) if body.strip() else None)
