"""Composite (`/composite`, up to 25 subrequests with `@{ref.field}` references), Graph and Batch.

Subrequests run in order against the sandbox's own routes (see `dispatch`). With `allOrNone` the whole
request is one transaction: the first failing subrequest rolls everything back and every other subrequest
reports PROCESSING_HALTED.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse, SfApiError
from sandbox.salesforce import dispatch, records
from sandbox.salesforce.common import json_body, routes, version_of

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"})
_REFERENCE = re.compile(r"@\{([^}]*)\}")
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
_HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]
_BATCH_HALTED = [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}]


class _Unresolved(Exception):
    def __init__(self, expression: str, ref: str) -> None:
        super().__init__(expression)
        self.expression = expression
        self.ref = ref


class _RolledBack(Exception):
    pass


def _lookup(expression: str, done: dict[str, Any]) -> Any:
    """The value of `ref.field[0].sub` in an earlier successful subrequest's body."""
    ref, _, rest = expression.partition(".")
    ref, bracket, index_rest = ref.partition("[")
    path = (("[" + index_rest) if bracket else "") + ("." + rest if rest else "")
    if ref not in done:
        raise _Unresolved(expression, ref)
    value = done[ref]
    for match in _PATH_STEP.finditer(path):
        key, index = match.group(1), match.group(2)
        if index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        elif key is not None and isinstance(value, dict):
            found = next((v for k, v in value.items() if k == key), None)
            if found is None:
                found = next((v for k, v in value.items() if k.lower() == key.lower()), None)
            value = found
        else:
            value = None
        if value is None:
            raise _Unresolved(expression, ref)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _substitute(value: Any, done: dict[str, Any]) -> Any:
    """Replace `@{...}` references in a subrequest's URL or body (a lone reference keeps its JSON type)."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), done)
        return _REFERENCE.sub(lambda m: _text(_lookup(m.group(1), done)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, done) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, done) for v in value]
    return value


def _entry(body: Any, headers: dict[str, str], status: int, ref: str) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}


def _validate(body: Any, limit: int = MAX_SUBREQUESTS) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SfApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize the request body: compositeRequest is required"
        )
    subs: list[Any] = body["compositeRequest"]
    if len(subs) > limit:
        raise SfApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {limit} subrequests; this one has {len(subs)}",
        )
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise SfApiError(400, "JSON_PARSER_ERROR", "Each compositeRequest entry must be an object")
        for key in ("method", "url", "referenceId"):
            if not isinstance(sub.get(key), str) or not sub[key]:
                raise SfApiError(
                    400, "JSON_PARSER_ERROR", f"Composite subrequest is missing the required field: {key}"
                )
        if sub["method"].upper() not in _METHODS:
            raise SfApiError(400, "JSON_PARSER_ERROR", f"Invalid HTTP method: {sub['method']}")
        ref = sub["referenceId"]
        if not _REFERENCE_ID.match(ref):
            raise SfApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Provided referenceId ('{ref}') must start with a letter or a number, and it can contain only "
                "letters, numbers and underscores ('_').",
            )
        if ref in seen:
            raise SfApiError(
                400, "JSON_PARSER_ERROR", f"Duplicate referenceId provided in the request: {ref}"
            )
        seen.add(ref)
        path = sub["url"].split("?", 1)[0]
        heavy += "/composite/sobjects" in path or "/query" in path
    if heavy > MAX_COLLECTIONS_OR_QUERIES and limit == MAX_SUBREQUESTS:
        raise SfApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_COLLECTIONS_OR_QUERIES} sObject Collections or query "
            "subrequests",
        )
    all_or_none = body.get("allOrNone") is True or str(body.get("allOrNone")).lower() == "true"
    return subs, all_or_none


async def _run(request: Request, subs: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
    done: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    failed_at: int | None = None
    for index, sub in enumerate(subs):
        ref = sub["referenceId"]
        if failed_at is not None and all_or_none:
            out.append(_entry(_HALTED, {}, 400, ref))
            continue
        try:
            url = _substitute(sub["url"], done)
            body = _substitute(sub.get("body"), done)
        except _Unresolved as exc:
            message = f"Invalid reference specified. No value for {exc.expression} found in {exc.ref}."
            out.append(_entry([{"errorCode": "PROCESSING_HALTED", "message": message}], {}, 400, ref))
            failed_at = index if failed_at is None else failed_at
            continue
        headers = sub.get("httpHeaders") if isinstance(sub.get("httpHeaders"), dict) else None
        answer = await dispatch.call(request, sub["method"], str(url), body, headers)
        out.append(_entry(answer.body, answer.headers, answer.status, ref))
        if answer.status < 400:
            done[ref] = answer.body
        elif failed_at is None:
            failed_at = index
    if all_or_none and failed_at is not None:
        for index in range(len(out)):
            if index != failed_at:
                out[index] = _entry(_HALTED, {}, 400, out[index]["referenceId"])
        raise _RolledBack(out)
    return out


async def composite(request: Request) -> Response:
    """`POST .../composite`: `{"allOrNone", "compositeRequest": [{method, url, referenceId, body}]}`."""
    version_of(request)
    store = sandbox_state(request).store
    subs, all_or_none = _validate(await json_body(request))
    if not all_or_none:
        return JSONResponse({"compositeResponse": await _run(request, subs, False)})
    try:
        with records.atomic(store):
            out = await _run(request, subs, True)
    except _RolledBack as rolled_back:
        out = rolled_back.args[0]
    return JSONResponse({"compositeResponse": out})


async def graph(request: Request) -> Response:
    """`POST .../composite/graph`: several composite requests, each one all-or-nothing on its own."""
    version_of(request)
    store = sandbox_state(request).store
    body = await json_body(request)
    graphs = body.get("graphs") if isinstance(body, dict) else None
    if not isinstance(graphs, list) or not all(isinstance(g, dict) and g.get("graphId") for g in graphs):
        raise SfApiError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize the request body: graphs with a graphId are required",
        )
    out: list[dict[str, Any]] = []
    for g in graphs:
        subs, _ = _validate({"compositeRequest": g.get("compositeRequest")}, limit=500)
        try:
            with records.atomic(store):
                responses = await _run(request, subs, True)
            ok = True
        except _RolledBack as rolled_back:
            responses, ok = rolled_back.args[0], False
        out.append(
            {"graphId": g["graphId"], "graphResponse": {"compositeResponse": responses}, "isSuccessful": ok}
        )
    return JSONResponse({"graphs": out})


async def batch(request: Request) -> Response:
    """`POST .../composite/batch`: independent subrequests (`vXX.X/...` URLs), `haltOnError` optional."""
    version_of(request)
    body = await json_body(request)
    subs = body.get("batchRequests") if isinstance(body, dict) else None
    if not isinstance(subs, list):
        raise SfApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize the request body: batchRequests is required"
        )
    if len(subs) > MAX_SUBREQUESTS:
        raise SfApiError(
            400, "LIMIT_EXCEEDED", f"A batch request can have at most {MAX_SUBREQUESTS} subrequests"
        )
    halt = bool(body.get("haltOnError"))
    results: list[dict[str, Any]] = []
    halted = False
    for sub in subs:
        if halted or not isinstance(sub, dict):
            results.append({"statusCode": 412, "result": _BATCH_HALTED if halted else None})
            continue
        url = str(sub.get("url", ""))
        url = url if url.startswith("/services/") else "/services/data/" + url.lstrip("/")
        answer = await dispatch.call(request, str(sub.get("method", "GET")), url, sub.get("richInput"))
        results.append({"statusCode": answer.status, "result": answer.body})
        halted = halt and answer.status >= 400
    return JSONResponse({"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})


ROUTES: list[BaseRoute] = [
    *routes("/services/data/v{version}/composite", composite, ["POST"]),
    *routes("/services/data/v{version}/composite/batch", batch, ["POST"]),
    *routes("/services/data/v{version}/composite/graph", graph, ["POST"]),
]
