"""Canonical writeback values -> the field payload a CRM update takes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from mappings.config.crm import CrmMapping, HubSpotMapping, SalesforceMapping
from mappings.config.writeback import SLOTS, WritebackField
from mappings.wire import clean_text

ELLIPSIS = "…"


def to_crm_payload(
    crm: str, writeback_values: Mapping[str, object], mapping: CrmMapping
) -> dict[str, object]:
    """Field API name -> wire value for the writeback slots given (score, tier, reasons, ...).

    Salesforce gets typed JSON (numbers, `2024-01-01T10:00:00.000+0000`), HubSpot gets strings (ISO `...Z`
    for datetimes); text longer than its field is cut with an ellipsis; None clears the field (`null` in
    Salesforce, `""` in HubSpot). A value that cannot be a slot's type raises `ValueError`: it is a bug
    in the caller, not bad CRM data.
    """
    expected = SalesforceMapping if crm == "salesforce" else HubSpotMapping
    if crm not in ("salesforce", "hubspot") or not isinstance(mapping, expected):
        raise ValueError(f"cannot write {crm!r} fields with a {type(mapping).__name__}")
    payload: dict[str, object] = {}
    for slot, value in writeback_values.items():
        if slot not in SLOTS:
            raise ValueError(f"unknown writeback slot {slot!r}; slots are {', '.join(SLOTS)}")
        spec = mapping.writeback.field_for(slot)
        payload[spec.field] = encode_value(crm, spec, value)
    return payload


def encode_value(crm: str, spec: WritebackField, value: object) -> object:
    """One canonical value in the wire form of `spec`'s field."""
    if value is None:
        return None if crm == "salesforce" else ""
    kind = spec.kind
    if kind == "number":
        return _number(crm, spec, value)
    if kind == "datetime":
        return _datetime(crm, spec, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{spec.field} takes true or false, not {value!r}")
        return value if crm == "salesforce" else ("true" if value else "false")
    text = _text(spec, value)
    if kind == "picklist":
        return _option(spec, text)
    return text


def _number(crm: str, spec: WritebackField, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{spec.field} takes a finite number, not {value!r}")
    scale = getattr(spec, "scale", None)
    number: int | float = round(value, scale) if isinstance(scale, int) and scale > 0 else value
    if scale == 0 or float(number).is_integer():
        number = round(number)
    return number if crm == "salesforce" else str(number)


def _datetime(crm: str, spec: WritebackField, value: object) -> str:
    if not isinstance(value, datetime):
        raise ValueError(f"{spec.field} takes a datetime, not {value!r}")
    moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return stamp + ("+0000" if crm == "salesforce" else "Z")


def _text(spec: WritebackField, value: object) -> str:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        value = "\n".join(value)  # reasons arrive as sentences, one per line
    if not isinstance(value, str):
        raise ValueError(f"{spec.field} takes text, not {type(value).__name__}")
    text = clean_text(value)
    limit = spec.max_length
    if limit is not None and len(text) > limit:
        text = text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return text


def _option(spec: WritebackField, text: str) -> str:
    # Canonical values (tier "A", decision "approve") match the field's options in any case.
    for option in spec.options:
        if option.casefold() == text.casefold():
            return option
    if spec.options:
        raise ValueError(f"{text!r} is not an option of {spec.field} ({', '.join(spec.options)})")
    return text
