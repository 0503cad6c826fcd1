"""HubSpot's wire shapes: error bodies, classification, stamps and property values as strings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connector.classify import Rule, classify

CRM = "hubspot"
# "Property values were not valid: [{...}]": the per-property issues HubSpot embeds in a message
_EMBEDDED = re.compile(r"(\[\s*\{.*\}\s*\])", re.DOTALL)


@dataclass(frozen=True)
class ErrorInfo:
    """What a non-2xx HubSpot answer says: its message and the codes it carries, most specific first."""

    status: int | None
    message: str
    category: str | None = None
    policy: str | None = None
    codes: tuple[str, ...] = ()
    issues: tuple[dict[str, Any], ...] = field(default=())
    context: dict[str, Any] = field(default_factory=dict)

    def lookup(self) -> tuple[Rule, str | None]:
        """The first classification row with a specific code match, else the category's row."""
        for code in self.codes:
            rule = classify(CRM, self.status, code)
            if rule.code is not None:
                return rule, code
        fallback = self.codes[0] if self.codes else None
        return classify(CRM, self.status, fallback), fallback

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(str(i["name"]) for i in self.issues if i.get("name"))


def _json(data: bytes | str | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def error_info(status: int | None, data: bytes | str | None) -> ErrorInfo:
    """Parse a HubSpot error body (`{status, message, category, subCategory?, errors?, context?}`)."""
    body = _json(data)
    if not isinstance(body, dict):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
        return ErrorInfo(status, text[:300] or f"HTTP {status}")
    return error_from_dict(status, body)


def error_from_dict(status: int | None, body: dict[str, Any]) -> ErrorInfo:
    """An `ErrorInfo` from an already parsed error object (also the per-input errors of a 207)."""
    message = str(body.get("message") or body.get("error_description") or body.get("status") or "")
    policy = body.get("policyName")
    category = body.get("category") or body.get("error")
    issues: list[dict[str, Any]] = []
    match = _EMBEDDED.search(message)
    if match:
        parsed = _json(match.group(1))
        if isinstance(parsed, list):
            issues = [i for i in parsed if isinstance(i, dict)]
    codes: list[str] = []
    for candidate in (
        policy,
        body.get("subCategory"),
        *(e.get("code") for e in body.get("errors") or [] if isinstance(e, dict)),
        *(i.get("error") for i in issues),
        category,
        # the OAuth endpoint's errors carry their code in `status` (BAD_REFRESH_TOKEN); others say "error"
        body.get("status") if body.get("status") != "error" else None,
    ):
        if isinstance(candidate, str) and candidate and candidate not in codes:
            codes.append(candidate)
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    return ErrorInfo(status, message, category, policy, tuple(codes), tuple(issues), context or {})


def to_ms(stamp: datetime) -> int:
    """Epoch milliseconds, exact (no float rounding)."""
    return (stamp.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def parse_stamp(value: Any) -> datetime | None:
    """A HubSpot datetime property (ISO 8601 or epoch milliseconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    parsed = datetime.fromisoformat(text.replace("z", "Z"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def wire_value(value: Any) -> str:
    """A property value as the string HubSpot takes: None clears (""), datetimes as ISO 8601 UTC."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if value == value else ""
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(wire_value(v) for v in value)  # multi-select enumerations
    return str(value)
