"""Error bodies in the real shapes of each API, raised by handlers and rendered by the app.

Salesforce: `[{"message": ..., "errorCode": ..., "fields": [...]}]`.
HubSpot: `{"status": "error", "message", "correlationId", "category", "errors"?, "context"?, "subCategory"?}`.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    """A JSON response rendered with orjson (the sandbox serves large pages)."""

    media_type = "application/json;charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class SfApiError(Exception):
    """A Salesforce REST error: HTTP status plus one error entry."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


class HsApiError(Exception):
    """A HubSpot CRM v3 error: status plus the standard error body."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str,
        *,
        sub_category: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.sub_category = sub_category
        self.errors = errors
        self.context = context
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message, "correlationId": str(uuid.uuid4())}
        out.update(self.extra)
        out["category"] = self.category
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.context:
            out["context"] = self.context
        if self.errors:
            out["errors"] = self.errors
        return out

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def sf_invalid_session() -> SfApiError:
    return SfApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def sf_not_found(resource: str = "The requested resource does not exist") -> SfApiError:
    return SfApiError(404, "NOT_FOUND", resource)


def hs_unauthorized() -> HsApiError:
    return HsApiError(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
        "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def hs_validation(message: str, errors: list[dict[str, Any]] | None = None) -> HsApiError:
    return HsApiError(400, message, "VALIDATION_ERROR", errors=errors)


def hs_not_found(message: str = "resource not found") -> HsApiError:
    return HsApiError(404, message, "OBJECT_NOT_FOUND")
