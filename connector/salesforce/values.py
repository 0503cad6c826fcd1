"""Record shapes and wire values: REST JSON and Bulk API 2.0 CSV, both ways.

Records leave the connector in one shape whichever API read them: the selected fields as keys (relationship
paths flattened to `"Account.Name"`), no `attributes`, values typed as the REST API types them in JSON
(booleans, numbers, ISO date and datetime strings, None for empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

NUMBER_INT = frozenset({"int", "long"})
NUMBER_FLOAT = frozenset({"double", "currency", "percent"})
BULK_NULL = "#N/A"  # Bulk API 2.0: an empty cell leaves the field unchanged; this clears it


def _get_ci(record: Mapping[str, Any], key: str) -> Any:
    if key in record:
        return record[key]
    low = key.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


_SCALARS = (str, int, float, bool, type(None))


def flatten(record: Mapping[str, Any], select: Sequence[str]) -> dict[str, Any]:
    """The selected paths of a REST record: nested relationship objects walked, `attributes` dropped."""
    out: dict[str, Any] = {}
    for path in select:
        value: Any
        if "." in path:
            value = record
            for part in path.split("."):
                value = _get_ci(value, part) if isinstance(value, Mapping) else None
        else:
            value = record[path] if path in record else _get_ci(record, path)
        # Scalars first: this runs per field per record, and an isinstance check against the Mapping ABC
        # costs more than the rest of the loop.
        out[path] = value if isinstance(value, _SCALARS) or not isinstance(value, Mapping) else None
    return out


def parse_stamp(value: Any) -> datetime | None:
    """A Salesforce datetime (`2024-03-01T10:15:00.000+0000`) as an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def from_csv(text: str, field_type: str | None) -> Any:
    """A Bulk API 2.0 CSV cell as the REST API would have typed it (empty means null)."""
    if text == "":
        return None
    if field_type == "boolean":
        return text.lower() == "true"
    if field_type in NUMBER_INT:
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    if field_type in NUMBER_FLOAT:
        return float(text)
    if field_type == "datetime":
        stamp = parse_stamp(text)
        return rest_datetime(stamp) if stamp else None
    return text


def rest_datetime(value: datetime) -> str:
    """The REST API's datetime form, `2024-03-01T10:15:00.000+0000` (Bulk API CSV says `...Z`)."""
    t = value.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def wire_datetime(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    t = aware.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def to_json(value: Any) -> Any:
    """A Python value as the REST API accepts it in a JSON body."""
    if isinstance(value, datetime):
        return wire_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return value


def to_csv(value: Any) -> str:
    """A Python value as a Bulk API 2.0 ingest cell (None clears the field)."""
    if value is None:
        return BULK_NULL
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(to_json(value))
