"""The sandbox's own control API under `/__sandbox/`: faults, limits, clock, sessions, request log.

Tests and benchmarks drive the sandbox through these endpoints (or the same methods in-process).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.errors import JSONResponse
from sandbox.faults import FaultConfig
from sandbox.limits import LimitConfig


def _state(request: Request):  # type: ignore[no-untyped-def]
    from sandbox.app import sandbox_state

    return sandbox_state(request)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def faults(request: Request) -> Response:
    st = _state(request)
    if request.method == "PUT":
        try:
            st.configure_faults(FaultConfig.from_dict(await request.json()))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(st.faults.snapshot())


async def limits(request: Request) -> Response:
    st = _state(request)
    if request.method == "PUT":
        body = await request.json()
        try:
            st.set_limits(LimitConfig(**body))
        except TypeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(
        {
            "sf_daily_quota": st.sf_quota.limit,
            "sf_used": st.sf_quota.used,
            "hs_ten_second_limit": st.limits.hs_ten_second_limit,
            "hs_search_per_second": st.limits.hs_search_per_second,
        }
    )


async def requests_log(request: Request) -> Response:
    st = _state(request)
    if request.method == "DELETE":
        st.log.reset()
        return JSONResponse({"reset": True})
    since = int(request.query_params.get("since", "0"))
    return JSONResponse(st.log.snapshot(since))


async def clock(request: Request) -> Response:
    st = _state(request)
    body = await request.json() if request.method == "POST" else {}
    c = st.store.clock
    if "freeze" in body:
        c.freeze(datetime.fromisoformat(body["freeze"]) if isinstance(body["freeze"], str) else None)
    if body.get("unfreeze"):
        c.unfreeze()
    if "advance_seconds" in body:
        c.advance(timedelta(seconds=float(body["advance_seconds"])))
    return JSONResponse({"now": c.now().isoformat()})


async def expire_sessions(request: Request) -> Response:
    return JSONResponse({"expired": _state(request).expire_sessions()})


def routes() -> list[BaseRoute]:
    return [
        Route("/__sandbox/health", health),
        Route("/__sandbox/faults", faults, methods=["GET", "PUT"]),
        Route("/__sandbox/limits", limits, methods=["GET", "PUT"]),
        Route("/__sandbox/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/__sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/__sandbox/sessions/expire", expire_sessions, methods=["POST"]),
    ]
