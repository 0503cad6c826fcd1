"""HubSpot object types and the shape of a HubSpot-defined property, as `/crm/v3/properties` sends it.

The definitions follow the key set, types and field types of a real portal's `GET /crm/v3/properties/companies`
(see the recorded reference). The default properties and groups of each object type are in
`sandbox.hs_standard`; `prop` also builds the properties a CSV load creates.
"""

from __future__ import annotations

from typing import Any

HS_OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", "tasks", "notes")

# objectTypeId as HubSpot numbers its standard objects
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tasks": "0-27", "notes": "0-46"}

_CREATED_AT = "2019-08-06T02:43:01.155Z"
_UPDATED_AT = "2024-09-05T17:14:04.747Z"

# shorthand -> (type, fieldType), the combinations HubSpot uses for its own properties
KINDS: dict[str, tuple[str, str]] = {
    "text": ("string", "text"),
    "textarea": ("string", "textarea"),
    "html": ("string", "html"),
    "phone": ("string", "phonenumber"),
    "num": ("number", "number"),
    "dt": ("datetime", "date"),
    "date": ("date", "date"),
    "select": ("enumeration", "select"),
    "radio": ("enumeration", "radio"),
    "checkbox": ("enumeration", "checkbox"),
    "bool": ("bool", "booleancheckbox"),
    "rollup": ("number", "calculation_rollup"),
}

Options = tuple[tuple[str, str], ...]
BOOL_OPTIONS: Options = (("true", "Yes"), ("false", "No"))


def modified_property(type_: str) -> str:
    """The property incremental sync filters on: `lastmodifieddate` for contacts, else `hs_lastmodifieddate`."""
    return "lastmodifieddate" if type_ == "contacts" else "hs_lastmodifieddate"


def prop(
    name: str,
    label: str,
    kind: str = "text",
    group: str = "",
    options: Options = (),
    *,
    ro: bool = False,
    hidden: bool = False,
    desc: str = "",
    ref: str | None = None,
    currency: bool = False,
    external: bool = False,
    order: int = -1,
    ro_options: bool | None = None,
    ro_def: bool = True,
    form: bool | None = None,
    stamped: bool = True,
) -> dict[str, Any]:
    """One HubSpot-defined property definition, keys in the order the real API sends them."""
    type_, field_type = KINDS[kind]
    if type_ == "bool" and not options:
        options = BOOL_OPTIONS
    # HubSpot sends some of its oldest system properties without timestamps
    out: dict[str, Any] = {"updatedAt": _UPDATED_AT, "createdAt": _CREATED_AT} if stamped else {}
    out |= {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": desc or f"{label} of the record.",
        "groupName": group,
        "options": [
            {"label": lbl, "value": val, "displayOrder": i, "hidden": False}
            for i, (val, lbl) in enumerate(options)
        ],
    }
    if ref:
        out["referencedObjectType"] = ref
    out |= {
        "displayOrder": order,
        "calculated": False,
        "externalOptions": external or ref is not None,
        "hasUniqueValue": False,
        "hidden": hidden,
        "hubspotDefined": True,
    }
    if currency:
        out["showCurrencySymbol"] = True
    meta: dict[str, bool] = {"archivable": True, "readOnlyDefinition": ro_def}
    if ro_options is not None:
        meta["readOnlyOptions"] = ro_options
    out |= {
        "modificationMetadata": meta | {"readOnlyValue": ro},
        "formField": (not ro and not hidden and ref is None) if form is None else form,
        "dataSensitivity": "non_sensitive",
    }
    return out
