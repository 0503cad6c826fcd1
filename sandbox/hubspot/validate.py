"""Property values checked against the property definitions, the way HubSpot's CRM API checks them.

Values are strings on the wire. JSON numbers and booleans are accepted and turned into strings, as HubSpot
does; "" (or null) clears a property. Every invalid value of a request is reported in one 400 whose message
embeds a JSON list of `{isValid, message, error, name, localizedErrorMessage, portalId}` entries, the format
HubSpot uses ("Property values were not valid: [...]"). Datetimes are stored in one canonical form
(`2024-03-01T10:15:00.000Z`), so stored values compare as text in time order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from sandbox.clock import hs_datetime
from sandbox.errors import HsApiError, hs_validation
from sandbox.hubspot.common import PORTAL_ID
from sandbox.store import Store

# number properties HubSpot holds as whole numbers
INTEGER_PROPERTIES = frozenset({"numberofemployees", "associatedcompanyid", "hs_object_id"})
# properties an object cannot exist without (engagements need their activity time)
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {"tasks": ("hs_timestamp",), "notes": ("hs_timestamp",)}

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EPOCH_MS = re.compile(r"-?\d{1,15}")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)


def issue(name: str, error: str, message: str) -> dict[str, Any]:
    """One invalid-value entry, as HubSpot lists them."""
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
        "portalId": PORTAL_ID,
    }


def values_error(issues: list[dict[str, Any]]) -> HsApiError:
    """The 400 for invalid property values."""
    detail = orjson.dumps(issues).decode()
    return HsApiError(400, f"Property values were not valid: {detail}", "VALIDATION_ERROR")


def wire_string(name: str, value: Any) -> str:
    """A JSON value as the string HubSpot stores; objects and arrays cannot be property values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str):
        return value
    kind = "Array" if isinstance(value, list) else "Object"
    raise hs_validation(
        f"Invalid input JSON: Cannot deserialize value of type `java.lang.String` from {kind} value "
        f"(property {name!r})"
    )


def parse_datetime(text: str) -> datetime | None:
    """Epoch milliseconds, a date, or an ISO 8601 timestamp (naive ones are UTC); None if none of those."""
    try:
        if _EPOCH_MS.fullmatch(text):
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        if _DATE_ONLY.fullmatch(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        if "T" not in text and " " not in text:
            return None
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class PropertyChecker:
    """Validates and normalises property values of one object type (definitions and owners read once)."""

    def __init__(self, store: Store, type_: str) -> None:
        self.type = type_
        self.defs = store.hs_properties(type_)
        self._store = store
        self._owner_ids: set[str] | None = None

    def owner_ids(self) -> set[str]:
        """Ids of the live owners (read on first use: most writes set no owner)."""
        if self._owner_ids is None:
            self._owner_ids = {str(o["id"]) for o in self._store.hs_owners() if not o.get("archived")}
        return self._owner_ids

    def check(self, raw: Any, *, creating: bool) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Normalised values ("" = clear) and the issues found; nothing is raised for bad values."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise hs_validation(
                "Invalid input JSON: 'properties' must be an object of property names to values"
            )
        out: dict[str, str] = {}
        issues: list[dict[str, Any]] = []
        for name, value in raw.items():
            text = wire_string(name, value)
            spec = self.defs.get(name)
            if spec is None:
                issues.append(issue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if spec.get("modificationMetadata", {}).get("readOnlyValue"):
                issues.append(
                    issue(
                        name, "READ_ONLY_VALUE", f"{name} is a read only property; its value cannot be set."
                    )
                )
                continue
            if text == "":
                if not creating and name in REQUIRED_ON_CREATE.get(self.type, ()):
                    issues.append(
                        issue(name, "REQUIRED_PROPERTY", f"{name} is required and cannot be cleared")
                    )
                    continue
                out[name] = ""
                continue
            normal, problem = self._value(name, spec, text)
            if problem is not None:
                issues.append(problem)
            else:
                out[name] = normal
        if creating:
            for name in REQUIRED_ON_CREATE.get(self.type, ()):
                if not out.get(name) and not any(i["name"] == name for i in issues):
                    issues.append(issue(name, "REQUIRED_PROPERTY", f"{name} is required"))
        return out, issues

    def _value(self, name: str, spec: Mapping[str, Any], text: str) -> tuple[str, dict[str, Any] | None]:
        kind = spec.get("type")
        if kind != "string" and text != text.strip():
            return text, issue(
                name, "LEADING_TRAILING_WHITESPACE", f'"{text}" includes leading or trailing whitespace.'
            )
        if kind == "string":
            if name == "email" and self.type == "contacts" and not _EMAIL.fullmatch(text):
                return text, issue(name, "INVALID_EMAIL", f"Email address {text} is invalid")
            return text, None
        if kind == "number":
            return _number(name, text)
        if kind == "bool":
            low = text.lower()
            if low not in ("true", "false"):
                return text, issue(
                    name, "INVALID_OPTION", f"{text} was not one of the allowed options: [true, false]"
                )
            return low, None
        if kind == "datetime":
            parsed = parse_datetime(text)
            if parsed is None:
                return text, issue(
                    name,
                    "INVALID_DATETIME",
                    f"{text} is not a valid datetime; use epoch milliseconds or ISO 8601",
                )
            return hs_datetime(parsed), None
        if kind == "date":
            return _date(name, text)
        if kind == "enumeration":
            return self._enumeration(name, spec, text)
        return text, None

    def _enumeration(
        self, name: str, spec: Mapping[str, Any], text: str
    ) -> tuple[str, dict[str, Any] | None]:
        if spec.get("referencedObjectType") == "OWNER":
            if text not in self.owner_ids():
                return text, issue(name, "INVALID_OWNER_ID", f"{text} is not a valid owner id")
            return text, None
        allowed = [str(o["value"]) for o in spec.get("options", [])]
        if not allowed and spec.get("externalOptions"):
            return text, None
        values = text.split(";") if spec.get("fieldType") == "checkbox" else [text]
        for value in values:
            if value not in allowed:
                message = f"{value} was not one of the allowed options: [{', '.join(allowed)}]"
                return text, issue(name, "INVALID_OPTION", message)
        return text, None


def _number(name: str, text: str) -> tuple[str, dict[str, Any] | None]:
    if name in INTEGER_PROPERTIES:
        if not re.fullmatch(r"[+-]?\d+", text):
            return text, issue(name, "INVALID_INTEGER", f"{text} was not a valid integer.")
        return text, None
    if not _NUMBER.fullmatch(text):
        return text, issue(name, "INVALID_FLOAT", f"{text} was not a valid number.")
    return text, None


def _date(name: str, text: str) -> tuple[str, dict[str, Any] | None]:
    parsed = parse_datetime(text)
    if parsed is None:
        return text, issue(
            name, "INVALID_DATE", f"{text} is not a valid date; use YYYY-MM-DD or epoch milliseconds"
        )
    if (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) != (0, 0, 0, 0):
        at = parsed.strftime("%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}"
        return text, issue(name, "INVALID_DATE", f"{text} is at {at} UTC, not midnight!")
    return parsed.strftime("%Y-%m-%d"), None
