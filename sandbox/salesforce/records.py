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
Validation lives in `validation` and `fieldvalues`; writes go through `Store.sf_insert`,
`sf_update_many` and `sf_delete`, which stamp the system fields.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sandbox.salesforce.fieldvalues import RecordError, coerce
from sandbox.salesforce.validation import (
    Schema,
    check_unique,
    find,
    is_id_lookup,
    normalize_id,
    prepare,
    schema_for,
)
from sandbox.sf_schema import SfObject
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

_SAVEPOINTS = itertools.count(1)


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
    check_unique(store, schema, rec, None)
    return store.sf_insert(schema.obj.name, rec)


def update(
    store: Store, obj: str, record_id: str | None, values: Mapping[str, Any], *, from_csv: bool = False
) -> str:
    """Update one live record; a missing one is INVALID_CROSS_REFERENCE_KEY, a deleted one ENTITY_IS_DELETED."""
    schema = schema_for(store, obj)
    rid = _own_id(schema, record_id)
    rec = prepare(store, schema, values, creating=False, from_csv=from_csv)
    check_unique(store, schema, rec, rid)
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
