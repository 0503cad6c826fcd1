"""Record shapes and wire values: REST JSON and Bulk API 2.0 CSV, both ways.

Records leave the connector in one shape whichever API read them: the selected fields as keys (relationship
paths flattened to `"Account.Name"`), no `attributes`, values typed as the REST API types them in JSON
(booleans, numbers, ISO date and datetime strings, None for empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

NUMBER_INT = frozenset({"int", "long"})
NUMBER_FLOAT = frozenset({"double", "currency", "percent"})
BULK_NULL = "#N/A"  # Bulk API 2.0: an empty cell leaves the field unchanged; this clears it


_ABSENT = object()


def _get_ci(record: Mapping[str, Any], key: str) -> Any:
    if key in record:
        return record[key]
    low = key.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_MAPPINGS = (dict, Mapping)  # dict first: the common case answers without the ABC machinery


def flatten(record: Mapping[str, Any], select: Sequence[str]) -> dict[str, Any]:
    """The selected paths of a REST record: nested relationship objects walked, `attributes` dropped."""
    return flattener(select)(record)


def flattener(select: Sequence[str]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`flatten` for one select list: the paths are split once, then every record of a pull reuses them."""
    plain = [path for path in select if "." not in path]
    dotted = [(path, path.split(".")) for path in select if "." in path]
    order = list(dict.fromkeys(select))

    def flat(record: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        get = record.get
        for path in plain:
            value = get(path, _ABSENT)
            if value is _ABSENT:
                value = _get_ci(record, path)
            # Exact scalar types first: an isinstance check against the Mapping ABC costs more than the rest.
            if type(value) not in _SCALAR_TYPES and (
                isinstance(value, Mapping) and not isinstance(value, _SCALARS)
            ):
                value = None
            out[path] = value
        for path, parts in dotted:
            node: Any = record
            for part in parts:
                node = _get_ci(node, part) if isinstance(node, _MAPPINGS) else None
            out[path] = node if isinstance(node, _SCALARS) or not isinstance(node, Mapping) else None
        # Keys in select order, as callers (and the records' digests) have always seen them.
        return out if not dotted else {path: out[path] for path in order}

    return flat


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


def csv_converter(field_type: str | None) -> Callable[[str], Any] | None:
    """`from_csv` for one column type, chosen once per column: None where the cell is kept as text.

    The returned function takes a non-empty cell (empty cells are null whatever the type) and returns
    exactly what `from_csv(cell, field_type)` returns.
    """
    if field_type == "boolean":
        return _csv_boolean
    if field_type in NUMBER_INT:
        return _csv_int
    if field_type in NUMBER_FLOAT:
        return float
    if field_type == "datetime":
        return _csv_datetime
    return None


def _csv_boolean(text: str) -> bool:
    return text.lower() == "true"


def _csv_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return int(float(text))


# The Bulk CSV form of a datetime (UTC, milliseconds, years 1000-9999): `2024-03-01T10:15:00.000Z`.
_BULK_DATETIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def _csv_datetime(text: str) -> str | None:
    # Bulk CSV writes `2024-03-01T10:15:00.000Z`; the REST form differs only in the zone suffix. Such a
    # cell (one regular-expression match: cheaper than checking its characters one by one) is validated by
    # parsing it and then re-suffixed, which skips the costly `strftime`. Anything else (other zones, no
    # fraction, years before 1000) takes the general path.
    if _BULK_DATETIME.fullmatch(text):
        try:
            datetime.fromisoformat(text)  # validates: an impossible date or time fails below, as before
        except ValueError:
            pass
        else:
            return text[:23] + "+0000"
    stamp = parse_stamp(text)
    return rest_datetime(stamp) if stamp else None


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
