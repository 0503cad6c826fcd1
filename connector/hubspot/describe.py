"""The properties API: what an object's properties are, and creating the ones leadq needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate

from connector.classify import Action
from connector.errors import ConnectorConfigError, QuotaExhaustedError, RateLimitedError, RetryableError
from connector.hubspot.client import API_ERRORS, HubSpotApis, api_error, raw_json
from connector.hubspot.wire import CRM
from connector.protocol import FieldInfo, FieldSpec, ObjectDescription, WriteOutcome, WriteStatus

# FieldSpec.type -> HubSpot (type, fieldType)
PROPERTY_TYPES: dict[str, tuple[str, str]] = {
    "number": ("number", "number"),
    "text": ("string", "text"),
    "longtext": ("string", "textarea"),
    "picklist": ("enumeration", "select"),
    "datetime": ("datetime", "date"),
    "date": ("date", "date"),
    "checkbox": ("bool", "booleancheckbox"),
}
LABELS = {"contacts": "Contact", "companies": "Company", "deals": "Deal", "tasks": "Task", "notes": "Note"}


def _refused(what: str, exc: Any) -> ConnectorConfigError:
    info = api_error(exc)
    return ConnectorConfigError(
        f"HubSpot refused to {what} (HTTP {info.status}): {info.message}",
        crm=CRM,
        status=info.status,
        code=info.codes[0] if info.codes else None,
    )


def _all_properties(apis: HubSpotApis, obj: str) -> list[dict[str, Any]]:
    try:
        return list(raw_json(apis.properties.get_all, obj, archived=False).get("results") or [])
    except API_ERRORS as exc:
        raise _refused(f"list the properties of {obj!r}", exc) from None


def field_info(prop: dict[str, Any]) -> FieldInfo:
    """One HubSpot property as `FieldInfo` (a read-only or calculated value is not updateable)."""
    meta = prop.get("modificationMetadata") or {}
    read_only = bool(meta.get("readOnlyValue")) or bool(prop.get("calculated"))
    kind = str(prop.get("type"))
    options = tuple(str(o["value"]) for o in prop.get("options") or [] if not o.get("hidden"))
    if kind == "bool" and not options:
        options = ("true", "false")
    return FieldInfo(
        name=str(prop["name"]),
        label=str(prop.get("label") or prop["name"]),
        type=kind,
        createable=not read_only,
        updateable=not read_only,
        custom=not bool(prop.get("hubspotDefined")),
        picklist_values=options if kind in ("enumeration", "bool") else (),
        reference_to=("owners",) if prop.get("referencedObjectType") == "OWNER" else (),
        group=prop.get("groupName"),
    )


def describe(apis: HubSpotApis, obj: str) -> ObjectDescription:
    """The object's live properties as the token sees them."""
    fields = {str(p["name"]): field_info(p) for p in _all_properties(apis, obj)}
    return ObjectDescription(name=obj, label=LABELS.get(obj, obj), fields=fields)


def _ensure_group(apis: HubSpotApis, obj: str, group: str) -> None:
    try:
        names = {g["name"] for g in raw_json(apis.property_groups.get_all, obj).get("results") or []}
    except API_ERRORS as exc:
        raise _refused(f"list the property groups of {obj!r}", exc) from None
    if group in names:
        return
    try:
        apis.property_groups.create(
            obj, property_group_create=PropertyGroupCreate(name=group, label=group, display_order=-1)
        )
    except API_ERRORS as exc:
        if getattr(exc, "status", None) != 409:  # created meanwhile
            raise _refused(f"create the property group {group!r} on {obj!r}", exc) from None


def _create_body(spec: FieldSpec) -> PropertyCreate:
    if spec.type not in PROPERTY_TYPES:
        raise ConnectorConfigError(
            f"field {spec.object}.{spec.name} has type {spec.type!r}; use one of {', '.join(PROPERTY_TYPES)}",
            crm=CRM,
        )
    type_, field_type = PROPERTY_TYPES[spec.type]
    options: list[OptionInput] | None = None
    if spec.type == "picklist":
        options = [
            OptionInput(label=o, value=o, display_order=n, hidden=False) for n, o in enumerate(spec.options)
        ]
    elif spec.type == "checkbox":
        options = [
            OptionInput(label="Yes", value="true", display_order=0, hidden=False),
            OptionInput(label="No", value="false", display_order=1, hidden=False),
        ]
    return PropertyCreate(
        name=spec.name,
        label=spec.label,
        type=type_,
        field_type=field_type,
        group_name=spec.group,
        description=spec.description or None,
        options=options,
        form_field=False,
    )


def create_fields(apis: HubSpotApis, specs: Sequence[FieldSpec]) -> list[WriteOutcome]:
    """Create missing properties (and their group); existing ones, or a 409, count as written, unchanged."""
    outcomes: dict[int, WriteOutcome] = {}
    by_object: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        by_object[spec.object].append(i)
    for obj, indices in by_object.items():
        existing = {str(p["name"]) for p in _all_properties(apis, obj)}
        groups_ready: set[str] = set()
        for i in indices:
            spec = specs[i]
            key = f"{obj}.{spec.name}"
            if spec.name in existing:
                outcomes[i] = WriteOutcome(key=key, status=WriteStatus.WRITTEN, crm_id=spec.name)
                continue
            body = _create_body(spec)
            if spec.group not in groups_ready:
                _ensure_group(apis, obj, spec.group)
                groups_ready.add(spec.group)
            outcomes[i] = _create_one(apis, obj, key, spec, body)
            if outcomes[i].ok:
                existing.add(spec.name)
    return [outcomes[i] for i in range(len(specs))]


def _create_one(apis: HubSpotApis, obj: str, key: str, spec: FieldSpec, body: PropertyCreate) -> WriteOutcome:
    try:
        apis.properties.create(obj, property_create=body)
    except (RetryableError, RateLimitedError) as exc:
        return WriteOutcome(key=key, status=WriteStatus.RETRYABLE, code=exc.code, message=str(exc))
    except QuotaExhaustedError:
        raise
    except API_ERRORS as exc:
        if getattr(exc, "status", None) == 409:  # it exists (created meanwhile, or archived under that name)
            return WriteOutcome(key=key, status=WriteStatus.WRITTEN, crm_id=spec.name)
        info = api_error(exc)
        rule, code = info.lookup()
        status = WriteStatus.RETRYABLE if rule.action is Action.RETRY else WriteStatus.REJECTED
        return WriteOutcome(key=key, status=status, code=code, message=info.message, fields=(spec.name,))
    return WriteOutcome(key=key, status=WriteStatus.WRITTEN, crm_id=spec.name, created=True)
