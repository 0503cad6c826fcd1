"""Custom field metadata (the Tooling/Metadata API `CustomField` shape) to and from `SfField`."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import SfApiError
from sandbox.sf_schema import SfField

_API_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)__c$")
# Metadata API type -> (describe type, default length)
_TYPES: dict[str, tuple[str, int]] = {
    "Text": ("string", 0),
    "TextArea": ("textarea", 255),
    "LongTextArea": ("textarea", 0),
    "Number": ("double", 0),
    "Percent": ("percent", 0),
    "Currency": ("currency", 0),
    "Checkbox": ("boolean", 0),
    "Date": ("date", 0),
    "DateTime": ("datetime", 0),
    "Email": ("email", 80),
    "Phone": ("phone", 40),
    "Url": ("url", 255),
    "Picklist": ("picklist", 255),
    "MultiselectPicklist": ("multipicklist", 4099),
}
_NUMERIC = ("Number", "Percent", "Currency")


def _integrity(message: str, field: str) -> SfApiError:
    return SfApiError(400, "FIELD_INTEGRITY_EXCEPTION", message, [field])


def _int(metadata: dict[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _integrity(f"{key}: value not of required type: {value}", key) from None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _picklist(metadata: dict[str, Any]) -> tuple[tuple[str, ...], bool, str | None]:
    value_set = metadata.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {}
    entries = definition.get("value") or []
    if not isinstance(entries, list) or not entries:
        raise _integrity("Values: You must enter at least one value", "valueSet")
    names = tuple(str(e.get("fullName") or e.get("label")) for e in entries if isinstance(e, dict))
    default = next(
        (str(e.get("fullName")) for e in entries if isinstance(e, dict) and _truthy(e.get("default"))), None
    )
    return names, _truthy(value_set.get("restricted")), default


def field_from_metadata(name: str, metadata: dict[str, Any]) -> SfField:
    """The `SfField` a CustomField create describes; FIELD_INTEGRITY_EXCEPTION for what a real org refuses."""
    if not _API_NAME.match(name):
        raise _integrity(
            f"The API name {name} is invalid: it must end in __c, begin with a letter, use only letters, digits and "
            "single underscores, and not end with an underscore before __c.",
            "FullName",
        )
    kind = str(metadata.get("type") or "")
    if kind not in _TYPES:
        raise _integrity(f"Invalid field type: {kind or '(none)'}", "type")
    label = metadata.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _integrity("Field Label: You must enter a value", "label")
    describe_type, length = _TYPES[kind]
    spec: dict[str, Any] = {
        "custom": True,
        "external_id": _truthy(metadata.get("externalId")),
        "unique": _truthy(metadata.get("unique")),
        "nillable": not _truthy(metadata.get("required")),
    }
    if kind in ("Text", "LongTextArea"):
        given = _int(metadata, "length")
        limit = 255 if kind == "Text" else 131072
        if given is None or not 0 < given <= limit:
            raise _integrity(f"Length: You must enter a value between 1 and {limit}", "length")
        length = given
        if kind == "LongTextArea" and _int(metadata, "visibleLines") is None:
            raise _integrity("# Visible Lines: You must enter a value", "visibleLines")
    if kind in _NUMERIC:
        precision = _int(metadata, "precision") or 18
        scale = _int(metadata, "scale") or 0
        if not 0 < precision <= 18 or not 0 <= scale <= precision:
            raise _integrity(
                "Length: the sum of the length and decimal places must be an integer less than or equal to 18",
                "precision",
            )
        spec.update(precision=precision, scale=scale)
    if kind == "Checkbox":
        spec.update(default=_truthy(metadata.get("defaultValue")), nillable=False)
    if kind in ("Picklist", "MultiselectPicklist"):
        values, restricted, default = _picklist(metadata)
        spec.update(picklist=values, restricted_picklist=restricted, default=default)
    if describe_type == "textarea" and length > 255:
        spec["filterable"] = False  # long text areas cannot be filtered, grouped or sorted
    return SfField(name, describe_type, label.strip(), length=length, **spec)


def metadata_of(field: SfField) -> dict[str, Any]:
    """The `Metadata` of a custom field as Tooling API returns it."""
    kind = next((k for k, (t, _) in _TYPES.items() if t == field.type), "Text")
    if field.type == "textarea":
        kind = "LongTextArea" if field.length > 255 else "TextArea"
    out: dict[str, Any] = {
        "label": field.label,
        "type": kind,
        "externalId": field.external_id,
        "unique": field.unique,
        "required": not field.nillable and field.type != "boolean",
        "length": field.length if kind in ("Text", "LongTextArea") else None,
        "precision": field.precision if kind in _NUMERIC else None,
        "scale": field.scale if kind in _NUMERIC else None,
        "defaultValue": ("true" if field.default else "false") if kind == "Checkbox" else None,
        "description": None,
        "inlineHelpText": None,
    }
    if field.picklist:
        out["valueSet"] = {
            "restricted": field.restricted_picklist,
            "valueSetDefinition": {
                "sorted": False,
                "value": [{"fullName": v, "default": v == field.default, "label": v} for v in field.picklist],
            },
        }
    return out
