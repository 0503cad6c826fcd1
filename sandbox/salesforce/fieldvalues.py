"""Field values on the write path: coercion from JSON or Bulk CSV text, and per-field validation.

Every failure is a `RecordError` with the status code, `errorCode`, message and fields the real API gives,
so REST (whole-request errors), sObject Collections (per-record results) and Bulk API (`sf__Error`) all
report the same thing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from sandbox.clock import sf_datetime
from sandbox.errors import SfApiError
from sandbox.sf_schema import SfField
from sandbox.store import SfValue

TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "encryptedstring",
    }
)
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CSV_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_CSV_FALSE = frozenset({"false", "0", "no", "n", "off"})
CSV_NULL = "#N/A"  # Bulk API: an empty cell leaves a field alone, #N/A sets it to null


class RecordError(Exception):
    """One record's failure: HTTP status (for single-record REST), errorCode, message and fields.

    `fields` is None where the real API omits the key in a REST error body (parser errors, unknown
    columns); per-record results always carry a list.
    """

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def entry(self) -> dict[str, Any]:
        """The error as a per-record result entry (`{"statusCode","message","fields"}`)."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields or [])}

    def api_error(self) -> SfApiError:
        """The error as a whole-request REST error (`[{"message","errorCode","fields"?}]`)."""
        return SfApiError(self.status, self.code, self.message, self.fields)


def _token(raw: Any) -> str:
    if isinstance(raw, bool):
        return f"VALUE_{str(raw).upper()} value {str(raw).lower()}"
    if isinstance(raw, int):
        return f"VALUE_NUMBER_INT value {raw}"
    if isinstance(raw, float):
        return f"VALUE_NUMBER_FLOAT value {raw}"
    if isinstance(raw, dict):
        return "START_OBJECT value {"
    if isinstance(raw, list):
        return "START_ARRAY value ["
    return f"VALUE_STRING value {raw}"


def _bad_value(field: SfField, raw: Any, from_csv: bool) -> RecordError:
    if from_csv:
        return RecordError(
            400,
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{field.label}: value not of required type: {raw}",
            [field.name],
        )
    kind = "string" if field.type in TEXT_TYPES else field.type
    return RecordError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {_token(raw)} or request may be missing a required field",
    )


def _out_of_range(field: SfField, value: float) -> RecordError:
    shown = int(value) if float(value).is_integer() else value
    return RecordError(
        400,
        "NUMBER_OUTSIDE_VALID_RANGE",
        f"{field.label}: value outside of valid range on numeric field: {shown}",
        [field.name],
    )


def _text(field: SfField, raw: Any, from_csv: bool) -> str | None:
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int | float) and not from_csv:
        text = str(raw)
    else:
        raise _bad_value(field, raw, from_csv)
    return text or None  # Salesforce stores an empty string as null


def _boolean(field: SfField, raw: Any, from_csv: bool) -> bool:
    if raw is None:
        return False  # a checkbox is never null: clearing it unchecks it
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        low = raw.strip().lower()
        if low in ("true", "false") or (from_csv and low in _CSV_TRUE | _CSV_FALSE):
            return low in _CSV_TRUE
    raise _bad_value(field, raw, from_csv)


def _number(field: SfField, raw: Any, from_csv: bool) -> float:
    if isinstance(raw, bool):
        raise _bad_value(field, raw, from_csv)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip().replace(",", "") if from_csv else raw.strip())
        except ValueError:
            raise _bad_value(field, raw, from_csv) from None
    else:
        raise _bad_value(field, raw, from_csv)
    if not math.isfinite(value):
        raise _bad_value(field, raw, from_csv)
    return value


def _integer(field: SfField, raw: Any, from_csv: bool) -> int:
    value = _number(field, raw, from_csv)
    if not value.is_integer():
        raise _bad_value(field, raw, from_csv)
    digits = field.precision  # the schema keeps an int field's digits in `precision`
    if digits and abs(value) >= 10**digits:
        raise _out_of_range(field, value)
    return int(value)


def _decimal(field: SfField, raw: Any, from_csv: bool) -> float:
    value = _number(field, raw, from_csv)
    if field.precision:
        if abs(value) >= 10 ** (field.precision - field.scale):
            raise _out_of_range(field, value)
        value = round(value, field.scale)  # Salesforce rounds to the field's scale on save
    return value


def _date(field: SfField, raw: Any, from_csv: bool) -> str:
    if not isinstance(raw, str):
        raise _bad_value(field, raw, from_csv)
    try:
        return date.fromisoformat(raw.strip()[:10]).isoformat()
    except ValueError:
        raise _bad_value(field, raw, from_csv) from None


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date or date-time in any form Salesforce accepts, as aware UTC; None if unparseable."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _datetime(field: SfField, raw: Any, from_csv: bool) -> str:
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None:
        raise _bad_value(field, raw, from_csv)
    return sf_datetime(parsed)  # one canonical text form, so stored values compare as strings


def coerce(field: SfField, raw: Any, *, from_csv: bool = False) -> SfValue:
    """Turn one input value into the stored value of `field` (type only; see `validate` for the rest).

    JSON input follows the Salesforce deserializer (numbers accepted as strings, "" is null); CSV input is
    Bulk API text, where `#N/A` is null (callers drop empty cells before this).
    """
    if from_csv and raw == CSV_NULL:
        raw = None
    kind = field.type
    if kind == "boolean":
        return _boolean(field, raw, from_csv)
    if raw is None:
        return None
    if kind in TEXT_TYPES or kind in ("id", "reference"):
        return _text(field, raw, from_csv)
    if kind == "int":
        return _integer(field, raw, from_csv)
    if kind in NUMBER_TYPES:
        return _decimal(field, raw, from_csv)
    if kind == "date":
        return _date(field, raw, from_csv)
    if kind == "datetime":
        return _datetime(field, raw, from_csv)
    return _text(field, raw, from_csv)


def validate(field: SfField, value: SfValue) -> None:
    """Checks on a coerced non-null value: length, email format, restricted picklist values."""
    if not isinstance(value, str):
        return
    if field.length and len(value) > field.length and field.type in TEXT_TYPES:
        raise RecordError(
            400,
            "STRING_TOO_LONG",
            f"{field.label}: data value too large: {value} (max length={field.length})",
            [field.name],
        )
    if field.type == "email" and not _EMAIL.match(value):
        raise RecordError(
            400, "INVALID_EMAIL_ADDRESS", f"{field.label}: invalid email address: {value}", [field.name]
        )
    if field.restricted_picklist and field.picklist:
        chosen = value.split(";") if field.type == "multipicklist" else [value]
        for choice in chosen:
            if choice not in field.picklist:
                raise RecordError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field.label}: bad value for restricted picklist field: {choice}",
                    [field.name],
                )
