"""Validation on the write path: per-sObject write schemas, lookups, and turning input into column values.

`prepare` is where every input value is checked (see `fieldvalues` for per-type coercion); `records` does
the writes. Reads here go through `Store.sql`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.salesforce.fieldvalues import CSV_NULL, TEXT_TYPES, RecordError, coerce, validate
from sandbox.sf_schema import SfField, SfObject
from sandbox.store import LIVE, SfValue, Store

# Standard fields indexed for lookups (describe `idLookup`), besides Id, external ids and unique fields.
_STANDARD_ID_LOOKUP = frozenset(
    {
        ("Lead", "Email"), ("Lead", "Name"), ("Contact", "Email"), ("Contact", "Name"), ("User", "Email"),
        ("User", "Username"), ("User", "Name"), ("Campaign", "Name"),
    }
)  # fmt: skip
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_UPPER_BITS = bytes(ord("1") if ord("A") <= b <= ord("Z") else ord("0") for b in range(256))


def normalize_id(value: str) -> str | None:
    """`sandbox.ids.normalize_sf_id`, in C-speed string operations (it runs once per record written)."""
    if len(value) not in (15, 18) or not value.isalnum() or not value.isascii():
        return None
    bits, alphabet = value[:15].encode().translate(_UPPER_BITS), _CHECKSUM_ALPHABET
    # One bit per upper-case letter of each 5-character chunk, least significant first.
    suffix = alphabet[int(bits[4::-1], 2)] + alphabet[int(bits[9:4:-1], 2)] + alphabet[int(bits[14:9:-1], 2)]
    if len(value) == 18:
        return value if value[15:] == suffix else None
    return value + suffix


def is_id_lookup(obj: SfObject, field: SfField) -> bool:
    """Whether a field can key an upsert (describe `idLookup`): Id, external ids, unique and indexed fields."""
    return (
        field.name == "Id"
        or field.external_id
        or field.unique
        or (obj.name, field.name) in _STANDARD_ID_LOOKUP
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Schema:
    """What the write path needs of one sObject, computed once per version of its metadata."""

    obj: SfObject
    by_lower: dict[str, SfField]
    by_relationship: dict[str, SfField]
    required: tuple[SfField, ...]
    not_nillable: frozenset[str]
    unique: tuple[SfField, ...]
    ref_targets: dict[str, dict[str, str]]  # reference field -> key prefix -> object name
    table: str


_SCHEMAS: dict[int, Schema] = {}


def _defaulted(field: SfField) -> bool:
    return field.default is not None or field.type == "boolean" or field.name == "OwnerId"


def schema_for(store: Store, name: str) -> Schema:
    """The write schema of an sObject (case-insensitive name); RecordError INVALID_TYPE if there is none."""
    obj = store.sf_object(name)
    if obj is None:
        raise RecordError(
            400,
            "INVALID_TYPE",
            f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
            "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )
    # Keyed by identity: Store replaces an SfObject when a field is added, so a new schema follows.
    cached = _SCHEMAS.get(id(obj))
    if cached is not None and cached.obj is obj:
        return cached
    targets: dict[str, dict[str, str]] = {}
    for f in obj.fields:
        if f.type == "reference":
            refs = (store.sf_object(t) for t in f.reference_to)
            targets[f.name] = {o.key_prefix: o.name for o in refs if o is not None}
    schema = Schema(
        obj=obj,
        by_lower={f.name.lower(): f for f in obj.fields},
        by_relationship={
            f.relationship_name.lower(): f
            for f in obj.fields
            if f.type == "reference" and f.relationship_name
        },
        required=tuple(f for f in obj.fields if f.createable and not f.nillable and not _defaulted(f)),
        not_nillable=frozenset(f.name for f in obj.fields if not f.nillable and f.type != "boolean"),
        unique=tuple(f for f in obj.fields if f.unique),
        ref_targets=targets,
        table=_q("sf_" + obj.name),
    )
    if len(_SCHEMAS) > 512:  # many short-lived stores in one process (tests): keep the cache bounded
        _SCHEMAS.clear()
    _SCHEMAS[id(obj)] = schema
    return schema


def find(store: Store, obj: SfObject, field: SfField, value: SfValue) -> list[str]:
    """Ids of live records whose `field` equals `value` (text compares case-insensitively, as Salesforce does)."""
    collate = " COLLATE NOCASE" if field.type in TEXT_TYPES else ""
    rows = store.sql(
        f"SELECT Id FROM {_q('sf_' + obj.name)} WHERE {_q(field.name)} = ?{collate} AND {LIVE} ORDER BY Id",
        (value,),
    )
    return [str(r[0]) for r in rows]


def _relationship(
    store: Store, schema: Schema, key: str, raw: Any, from_csv: bool
) -> tuple[SfField, Any] | None:
    """Resolve a relationship-by-external-id value to (reference field, id); None if `key` is not one."""
    if from_csv:
        rel, dot, ext_name = key.partition(".")
        if not dot:
            return None
        target_type, colon, rel_name = rel.partition(":")
        if not colon:
            target_type, rel_name = "", rel
        ref = schema.by_relationship.get(rel_name.lower())
        if ref is None:
            return None
        if raw == "" or raw == CSV_NULL:
            return ref, raw
        value: Any = raw
    else:
        ref = schema.by_relationship.get(key.lower())
        if ref is None or not (raw is None or isinstance(raw, dict)):
            return None
        if raw is None:
            return ref, None
        attrs = raw.get("attributes")
        target_type = str(attrs.get("type", "")) if isinstance(attrs, dict) else ""
        keys = [k for k in raw if k != "attributes"]
        if not target_type and len(ref.reference_to) > 1:
            raise RecordError(
                400,
                "JSON_PARSER_ERROR",
                "Nested object for polymorphic foreign key must have an attributes field before any other fields.",
            )
        if len(keys) != 1:
            raise RecordError(
                400,
                "JSON_PARSER_ERROR",
                f"Foreign key {ref.relationship_name} must name exactly one external id",
            )
        ext_name, value = keys[0], raw[keys[0]]
    target = store.sf_object(target_type or ref.reference_to[0])
    if target is None or target.name not in ref.reference_to:
        raise RecordError(400, "INVALID_FIELD", f"Invalid foreign key type {target_type} for {ref.name}")
    ext = schema_for(store, target.name).by_lower.get(ext_name.lower())
    if ext is None or not is_id_lookup(target, ext):
        raise RecordError(
            400,
            "INVALID_FIELD",
            f"Field name provided, {ext_name} is not an External ID or indexed field for {target.name}",
        )
    key_value = coerce(ext, value, from_csv=from_csv)
    ids = find(store, target, ext, key_value) if key_value is not None else []
    if len(ids) != 1:
        how = "not found" if not ids else "matches more than one record"
        raise RecordError(
            400,
            "INVALID_FIELD",
            f"Foreign key external ID: {value} {how} for field {ext.name} in entity {target.name}",
        )
    return ref, ids[0]


def _reference(store: Store, schema: Schema, field: SfField, value: str) -> str:
    rid = normalize_id(value)
    if rid is None:
        raise RecordError(
            400, "MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name]
        )
    target = schema.ref_targets.get(field.name, {}).get(rid[:3])
    if target is None:
        raise RecordError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"{field.label}: id value of incorrect type: {value}",
            [field.name],
        )
    rows = store.sql(f"SELECT IsDeleted FROM {_q('sf_' + target)} WHERE Id = ?", (rid,))
    if not rows:
        raise RecordError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    if rows[0][0]:
        raise RecordError(400, "ENTITY_IS_DELETED", "entity is deleted", [])
    return rid


def prepare(
    store: Store, schema: Schema, values: Mapping[str, Any], *, creating: bool, from_csv: bool = False
) -> dict[str, SfValue]:
    """Validate input values and return the typed column values to store (no write happens here).

    Checks run in the real API's order: unknown columns and type errors (deserialization), field-level
    access, required fields, then per-value rules (length, email, restricted picklists, references).
    """
    obj = schema.obj
    out: dict[str, SfValue] = {}
    locked: list[str] = []
    for key, given in values.items():
        raw = given
        f = schema.by_lower.get(key.lower())
        if f is None:
            if key == "attributes" and not from_csv:
                continue
            resolved = _relationship(store, schema, key, raw, from_csv)
            if resolved is None:
                raise RecordError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            f, raw = resolved
        if from_csv and raw == "":
            continue
        if f.name == "Id":
            if creating:
                raise RecordError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            continue
        if not (f.createable if creating else f.updateable):
            locked.append(f.name)
            continue
        value = coerce(f, raw, from_csv=from_csv)
        if value is None and creating and f.default is not None:
            continue  # an explicit null on create leaves the field to its default
        out[f.name] = value
    if locked:
        raise RecordError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings of this "
            "field and verify that it is Read/Write for your profile or permission set.",
            locked,
        )
    if creating:
        missing = [f.name for f in schema.required if out.get(f.name) is None]
    else:
        missing = [name for name, v in out.items() if v is None and name in schema.not_nillable]
    if missing:
        raise RecordError(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
        )
    for name, value in out.items():
        if value is None:
            continue
        f = schema.by_lower[name.lower()]
        if f.type == "reference":
            out[name] = _reference(store, schema, f, str(value))
        else:
            validate(f, value)
    return out


def check_unique(store: Store, schema: Schema, rec: Mapping[str, SfValue], own_id: str | None) -> None:
    for f in schema.unique:
        value = rec.get(f.name)
        if value is None:
            continue
        rows = store.sql(
            f"SELECT Id FROM {schema.table} WHERE {_q(f.name)} = ? COLLATE NOCASE AND {LIVE} AND Id != ? "
            "LIMIT 1",
            (value, own_id or ""),
        )
        if rows:
            raise RecordError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {f.name} duplicates value on record with id: {rows[0][0]}",
                [],
            )
