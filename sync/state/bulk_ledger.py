"""Set-at-a-time ledger methods: what leadq planned and what landed, per record and field.

A 100k-lead cycle plans ~870k fields, each a statement of one executemany, each naming the outbox item
that carries it. A landed item settles its fields by being done (`sync.state.ledger_view`): rewriting
them cost as much as planning them, since the cost is the ledger pages a statement rewrites, whatever its
shape (one statement per record, its landed values one JSON document SQLite takes apart, was tried).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, not_, or_, select, update

from sync.state.bulk_exec import ExecMixin, chunks
from sync.state.columns import Columns, JSONValue, Same
from sync.state.ledger_view import LEDGER, entry_columns, folded, item_done, joined, waiting
from sync.state.records import LedgerEntry


class LedgerBulkMixin(ExecMixin):
    """Bulk ledger methods of `StateStore`."""

    def ledger_for_records(
        self, crm: str, obj: str, record_ids: Iterable[str]
    ) -> dict[str, dict[str, LedgerEntry]]:
        """Ledger entries of many records: record id -> field -> entry."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, dict[str, LedgerEntry]] = {}
        # Plain tuples made into entries in one step: a 100k-lead cycle reads half a million entries.
        rows = self._select_in(
            entry_columns(), {"crm": crm, "object": obj}, LEDGER.c.record_id, ids, from_=joined()
        )
        for entry in map(LedgerEntry._make, rows):
            fields = out.get(entry.record_id)
            if fields is None:
                fields = out[entry.record_id] = {}
            fields[entry.field] = entry
        return out

    def plan_records(
        self,
        crm: str,
        records: Sequence[tuple[str, str, Mapping[str, JSONValue], Mapping[str, JSONValue]]],
        outbox_ids: Sequence[int | None] | None = None,
    ) -> None:
        """`plan_write` for every field of many records, (object, record id, new values, old values) each:
        every field of the new values, its old value the old values' entry (or None); state planned,
        attempts and error reset, the last landed value kept. `outbox_ids` names each record's outbox item
        (the fields read as written once it is done; `sync.state.ledger_view`). A cycle plans ~870k fields
        at 100k leads: the columns are made straight from the records, not from an object per field."""
        objects, record_ids, fields, (news, olds) = _per_field(
            ((obj, record_id, new, (new, old)) for obj, record_id, new, old in records), 2
        )
        # Every field of a record names the record's item, in the order `_per_field` spreads the fields.
        links: list[int | None] | Same = Same(None)
        if outbox_ids is not None:
            links = [item for (_, _, new, _), item in zip(records, outbox_ids, strict=True) for _ in new]
        columns: Columns = {
            "crm": Same(crm),
            "object": objects,
            "record_id": record_ids,
            "field": fields,
            "old_value": olds,
            "new_value": news,
            "state": Same("planned"),
            "attempts": Same(0),
            "last_error": Same(None),
            "updated_at": Same(self.now()),
            "outbox_id": links,
        }
        self._upsert_columns(LEDGER, columns, ("crm", "object", "record_id", "field"), also=folded())

    def settle_fields(
        self,
        crm: str,
        obj: str,
        record_id: str,
        fields: Iterable[str],
        state: str,
        error: str | None = None,
        *,
        values: Mapping[str, JSONValue] | None = None,
    ) -> None:
        """Record how a send ended for some fields of one record (`written` keeps the landed `values`)."""
        self.settle_many(crm, [(obj, record_id, list(fields), values or {})], state, error)

    def settle_many(
        self,
        crm: str,
        records: Sequence[_Landed],
        state: str,
        error: str | None = None,
    ) -> None:
        """`settle_fields` for many records at once: (object, record id, fields, landed values)."""
        now = self.now()
        if state == "written":
            self._update_fields(crm, records, {
                "state": "written", "written_value": _LANDED, "new_value": _LANDED, "written_at": now,
                "last_error": None, "updated_at": now,
            })  # fmt: skip
        else:
            self._update_fields(crm, records, {
                "state": state, "last_error": error, "attempts": LEDGER.c.attempts + 1, "updated_at": now,
                **folded(),
            })  # fmt: skip

    def settle_landed(self, crm: str, items: Sequence[tuple[int, str, str, Mapping[str, JSONValue]]]) -> None:
        """Record that outbox items landed: (item id, object, record id, landed values) each, the items
        already marked done in the same transaction.

        A field planned with its item needs nothing: it reads as written through the item. A field planned
        again since with a newer item still on its way (this one waited: the quota, a retry) keeps that
        plan and only learns the value that landed. Any other (parked meanwhile, a newer item that landed
        first, a plan made before the ledger named items) is settled as `settle_many(..., "written")`
        settles it. They are found a chunk of records at a time by one look at the ledger each, which
        returns no row in the usual case."""
        by_object: dict[str, list[tuple[int, str, Mapping[str, JSONValue]]]] = {}
        for item_id, obj, record_id, values in items:
            by_object.setdefault(obj, []).append((item_id, record_id, values))
        settle: list[_Landed] = []
        learn: list[_Landed] = []
        for obj, landed in by_object.items():
            for chunk in chunks(landed):
                more_settle, more_learn = self._not_through_item(crm, obj, chunk)
                settle += more_settle
                learn += more_learn
        self.settle_many(crm, settle, "written")
        # Fields waiting on a newer plan keep it, and learn what landed.
        self._update_fields(crm, learn, {"written_value": _LANDED, "written_at": self.now()})

    def _not_through_item(
        self, crm: str, obj: str, landed: Sequence[tuple[int, str, Mapping[str, JSONValue]]]
    ) -> tuple[list[_Landed], list[_Landed]]:
        """Of the landed fields of `landed` (item id, record id, values; one chunk), those whose ledger row
        does not read as written through that item: to settle, and to learn the landed value only (the
        row waits on another item not done yet). Both as `settle_many` records."""
        item_of = {record_id: item_id for item_id, record_id, _ in landed}
        keeps_plan = and_(waiting(), LEDGER.c.outbox_id.is_not(None), not_(item_done()))
        query = (
            select(LEDGER.c.record_id, LEDGER.c.field, keeps_plan)
            .select_from(joined())
            .where(
                LEDGER.c.crm == crm,
                LEDGER.c.object == obj,
                LEDGER.c.record_id.in_(list(item_of)),
                or_(
                    LEDGER.c.outbox_id.is_(None),
                    LEDGER.c.outbox_id.not_in(list(item_of.values())),
                    not_(waiting()),
                ),
            )
        )
        with self.session() as s:
            rows = s.execute(query).all()
        if not rows:
            return [], []
        fields: dict[tuple[str, bool], list[str]] = {}
        for record_id, field, keep in rows:
            fields.setdefault((record_id, bool(keep)), []).append(field)
        out: tuple[list[_Landed], list[_Landed]] = ([], [])
        for _, record_id, values in landed:
            for keep, into in ((False, out[0]), (True, out[1])):
                # A row of another item for a field this one did not carry is not this item's to settle.
                names = [name for name in fields.get((record_id, keep), ()) if name in values]
                if names:
                    into.append((obj, record_id, names, values))
        return out

    def _update_fields(self, crm: str, records: Sequence[_Landed], values: Mapping[str, Any]) -> None:
        """One UPDATE of the ledger with `values`, run for each field of `records` (object, record id, field
        names, landed values) as one executemany; `_LANDED` among the values binds the field's landed value."""
        landed = any(value is _LANDED for value in values.values())
        objects, record_ids, fields, picked = _per_field(
            ((obj, record_id, names, (got,) if landed else ()) for obj, record_id, names, got in records),
            1 if landed else 0,
        )
        if not fields:
            return
        key = (
            (LEDGER.c.crm == bindparam("b_crm"))
            & (LEDGER.c.object == bindparam("b_object"))
            & (LEDGER.c.record_id == bindparam("b_record_id"))
            & (LEDGER.c.field == bindparam("b_field"))
        )
        columns: Columns = {
            "b_crm": Same(crm),
            "b_object": objects,
            "b_record_id": record_ids,
            "b_field": fields,
        }
        if landed:
            columns["value"] = picked[0]
        self._execute_columns(update(LEDGER).where(key).values(**values), columns)


_Landed = tuple[str, str, Sequence[str], Mapping[str, JSONValue]]
"""Some fields of one record and what landed in them: (object, record id, field names, landed values)."""

_LANDED = bindparam("value", type_=LEDGER.c.written_value.type)
"""In `_update_fields`' values: the field's landed value (the JSON type of both value columns)."""


def _per_field(
    records: Iterable[tuple[str, str, Collection[str], Sequence[Mapping[str, JSONValue]]]], width: int
) -> tuple[list[str], list[str], list[str], list[list[JSONValue]]]:
    """Records of (object, record id, field names, `width` sources) spread a field a row: the object, record
    id and field columns, and for each source the column of its value for each field (None if absent)."""
    objects: list[str] = []
    record_ids: list[str] = []
    fields: list[str] = []
    picked: list[list[JSONValue]] = [[] for _ in range(width)]
    for obj, record_id, names, sources in records:
        objects += [obj] * len(names)
        record_ids += [record_id] * len(names)
        fields += names
        for column, source in zip(picked, sources, strict=True):
            column += map(source.get, names)
    return objects, record_ids, fields, picked
