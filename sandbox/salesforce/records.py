"""The validated write path: one place where REST, sObject Collections, Composite and Bulk API write records.

Public API (every function raises `RecordError` for a per-record failure, leaving the store untouched):

- `create(store, obj, values, *, from_csv=False) -> str`: insert; returns the new 18-character id.
- `update(store, obj, record_id, values, *, from_csv=False) -> str`: update a live record; returns its id.
- `update_many(store, obj, [(record_id, values), ...], *, from_csv=False) -> [id | RecordError]`: the same for
  a batch of one sObject, written in one go (the fast path for collections and Bulk API updates).
- `upsert(store, obj, ext_field, ext_value, values, *, from_csv=False) -> (id, created)`: by an external id
  (or `Id`) field; several matches raise `MultipleMatches` (HTTP 300 in REST, DUPLICATE_EXTERNAL_ID elsewhere).
- `delete(store, obj, record_id) -> str`: soft delete (the recycle bin).
- `atomic(store)`: an all-or-nothing block (a transaction, or a savepoint inside an open one).

`values` maps field names (any case) to JSON values, or to Bulk API CSV strings when `from_csv` is set: an
empty cell leaves the field alone and `#N/A` sets it to null. Relationship columns (`Account.ExtId__c` in CSV,
`{"Account": {"ExtId__c": "x"}}` in JSON) resolve to ids through the target's external id field.
Writes go through `Store.sf_insert` / `sf_update` / `sf_delete`, which stamp the system fields.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.salesforce.fieldvalues import CSV_NULL, TEXT_TYPES, RecordError, coerce, validate
from sandbox.sf_schema import SfField, SfObject
from sandbox.store import SfValue, Store

__all__ = [
    "MultipleMatches",
    "RecordError",
    "atomic",
    "create",
    "delete",
    "find",
    "is_id_lookup",
    "normalize_id",
    "object_for_id",
    "schema_for",
    "unable_to_lock",
    "update",
    "update_many",
    "upsert",
]

# Standard fields that are indexed for lookups (describe `idLookup`), besides Id and external ids.
_STANDARD_ID_LOOKUP = frozenset(
    {
        ("Lead", "Email"), ("Lead", "Name"), ("Contact", "Email"), ("Contact", "Name"), ("User", "Email"),
        ("User", "Username"), ("User", "Name"), ("Campaign", "Name"),
    }
)  # fmt: skip
_SAVEPOINTS = itertools.count(1)
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


class MultipleMatches(RecordError):
    """An upsert key matched several records: REST answers 300 with their URLs, batches DUPLICATE_EXTERNAL_ID."""

    def __init__(self, field: str, ids: list[str]) -> None:
        super().__init__(
            300,
            "DUPLICATE_EXTERNAL_ID",
            f"{field}: more than one record found for external id field: [{', '.join(ids)}]",
            [],
        )
        self.ids = ids


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
        f"SELECT Id FROM {_q('sf_' + obj.name)} WHERE {_q(field.name)} = ?{collate} AND IsDeleted = 0 ORDER BY Id",
        (value,),
    )
    return [str(r[0]) for r in rows]


def object_for_id(store: Store, record_id: str) -> SfObject | None:
    """The sObject an id belongs to, by its key prefix."""
    prefix = record_id[:3]
    return next((o for o in store.sf_objects().values() if o.key_prefix == prefix), None)


def unable_to_lock(batch_size: int, record_id: str | None) -> RecordError:
    """The per-record UNABLE_TO_LOCK_ROW failure that fault injection produces."""
    return RecordError(
        400,
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or {batch_size} records: {record_id or ''}".rstrip(),
        [],
    )


@contextmanager
def atomic(store: Store) -> Iterator[None]:
    """Run a block all-or-nothing: a transaction, or a savepoint when one is already open (nesting)."""
    with store.lock:
        if not store.conn.in_transaction:
            with store.transaction():
                yield
            return
        name = f"leadq_sp{next(_SAVEPOINTS)}"
        store.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            store.conn.execute(f"ROLLBACK TO {name}")
            store.conn.execute(f"RELEASE {name}")
            raise
        store.conn.execute(f"RELEASE {name}")


# ---------------------------------------------------------------- preparing values
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


def _check_unique(store: Store, schema: Schema, rec: Mapping[str, SfValue], own_id: str | None) -> None:
    for f in schema.unique:
        value = rec.get(f.name)
        if value is None:
            continue
        rows = store.sql(
            f"SELECT Id FROM {schema.table} WHERE {_q(f.name)} = ? COLLATE NOCASE AND IsDeleted = 0 AND Id != ? "
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


def _own_id(schema: Schema, raw: str | None) -> str:
    if not raw:
        raise RecordError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])
    rid = normalize_id(raw)
    if rid is None or rid[:3] != schema.obj.key_prefix:
        raise RecordError(
            400, "MALFORMED_ID", f"{schema.obj.label} ID: id value of incorrect type: {raw}", ["Id"]
        )
    return rid


def _missing(store: Store, schema: Schema, rid: str) -> RecordError:
    row = store.sf_get(schema.obj.name, rid, include_deleted=True)
    if row is not None and row["IsDeleted"]:
        return RecordError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return RecordError(404, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])


# ---------------------------------------------------------------- writes
def create(store: Store, obj: str, values: Mapping[str, Any], *, from_csv: bool = False) -> str:
    """Insert one record after full validation; returns its id."""
    schema = schema_for(store, obj)
    rec = prepare(store, schema, values, creating=True, from_csv=from_csv)
    _check_unique(store, schema, rec, None)
    return store.sf_insert(schema.obj.name, rec)


def update(
    store: Store, obj: str, record_id: str | None, values: Mapping[str, Any], *, from_csv: bool = False
) -> str:
    """Update one live record; a missing one is INVALID_CROSS_REFERENCE_KEY, a deleted one ENTITY_IS_DELETED."""
    schema = schema_for(store, obj)
    rid = _own_id(schema, record_id)
    rec = prepare(store, schema, values, creating=False, from_csv=from_csv)
    _check_unique(store, schema, rec, rid)
    if not store.sf_update_many(schema.obj.name, [(rid, rec)])[0]:
        raise _missing(store, schema, rid)
    return rid


def update_many(
    store: Store,
    obj: str,
    items: Sequence[tuple[str | None, Mapping[str, Any]]],
    *,
    from_csv: bool = False,
) -> list[str | RecordError]:
    """Update many records of one sObject; per item, its id or its RecordError, in input order.

    Same validation as `update`, but the writes go to the store as one batch (the fast path for
    sObject Collections and Bulk API). Objects with unique fields are written one by one, so that two
    records of the same batch cannot take the same unique value.
    """
    schema = schema_for(store, obj)
    if schema.unique:
        out: list[str | RecordError] = []
        for record_id, values in items:
            try:
                out.append(update(store, obj, record_id, values, from_csv=from_csv))
            except RecordError as exc:
                out.append(exc)
        return out
    results: list[str | RecordError] = []
    writes: list[tuple[str, Mapping[str, SfValue]]] = []
    positions: list[int] = []
    for record_id, values in items:
        try:
            rid = _own_id(schema, record_id)
            writes.append((rid, prepare(store, schema, values, creating=False, from_csv=from_csv)))
            positions.append(len(results))
            results.append(rid)
        except RecordError as exc:
            results.append(exc)
    for position, (rid, _), ok in zip(
        positions, writes, store.sf_update_many(schema.obj.name, writes), strict=True
    ):
        if not ok:
            results[position] = _missing(store, schema, rid)
    return results


def upsert(
    store: Store,
    obj: str,
    ext_field: str,
    ext_value: str | None,
    values: Mapping[str, Any],
    *,
    from_csv: bool = False,
) -> tuple[str, bool]:
    """Update the record whose `ext_field` equals `ext_value`, or create it; returns (id, created)."""
    schema = schema_for(store, obj)
    f = schema.by_lower.get(ext_field.lower())
    if f is None or not is_id_lookup(schema.obj, f):
        raise RecordError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}"
        )
    body = {k: v for k, v in values.items() if k.lower() != f.name.lower()}
    if f.name == "Id":
        if not ext_value:
            return create(store, obj, body, from_csv=from_csv), True
        return update(store, obj, ext_value, body, from_csv=from_csv), False
    # The key arrives as text (a URL segment or a CSV cell), whatever the field's type.
    key = coerce(f, ext_value, from_csv=True) if ext_value else None
    if key is None:
        raise RecordError(400, "MISSING_ARGUMENT", f"{f.name} not specified", [])
    ids = find(store, schema.obj, f, key)
    if len(ids) > 1:
        raise MultipleMatches(f.name, ids)
    if ids:
        return update(store, obj, ids[0], body, from_csv=from_csv), False
    return create(store, obj, {**body, f.name: key}, from_csv=from_csv), True


def delete(store: Store, obj: str, record_id: str | None) -> str:
    """Soft-delete one live record; returns its id."""
    schema = schema_for(store, obj)
    rid = normalize_id(record_id or "")
    if rid is None:
        raise RecordError(400, "MALFORMED_ID", f"malformed id {record_id or ''}", [])
    if rid[:3] != schema.obj.key_prefix:
        raise RecordError(
            400, "MALFORMED_ID", f"{schema.obj.label} ID: id value of incorrect type: {record_id}", ["Id"]
        )
    if not store.sf_delete(schema.obj.name, rid):
        raise _missing(store, schema, rid)
    return rid
