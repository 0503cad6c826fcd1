"""Set-at-a-time ledger methods: what leadq planned and what landed, per record and field.

A 100k-lead cycle plans ~870k fields, each a statement of one executemany, each naming the outbox item
that carries it. A landed item settles its fields by being done (`sync.state.ledger_view`): rewriting
them cost as much as planning them, since the cost is the ledger pages a statement rewrites, whatever its
shape (one statement per record, its landed values one JSON document SQLite takes apart, was tried).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import cast

from sqlalchemy import Table, and_, bindparam, or_, select, update

from sync.state.bulk_exec import ExecMixin, chunks
from sync.state.columns import Columns, JSONValue, Same
from sync.state.ledger_view import LEDGER, OUTBOX, WAITING, entry_columns, folded, joined
from sync.state.models import LedgerRow
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
        items = outbox_ids if outbox_ids is not None else [None] * len(records)
        objects, record_ids, fields, (news, olds, links) = _per_field(
            (
                (obj, record_id, new, (new, old, _Each(item)))
                for (obj, record_id, new, old), item in zip(records, items, strict=True)
            ),
            3,
        )
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
        records: Sequence[tuple[str, str, Sequence[str], Mapping[str, JSONValue]]],
        state: str,
        error: str | None = None,
    ) -> None:
        """`settle_fields` for many records at once: (object, record id, fields, landed values)."""
        written = state == "written"
        objects, record_ids, fields, picked = _per_field(
            (
                (obj, record_id, names, (values,) if written else ())
                for obj, record_id, names, values in records
            ),
            1 if written else 0,
        )
        if not fields:
            return
        now = self.now()
        table = cast(Table, LedgerRow.__table__)
        where = (
            (table.c.crm == bindparam("b_crm"))
            & (table.c.object == bindparam("b_object"))
            & (table.c.record_id == bindparam("b_record_id"))
            & (table.c.field == bindparam("b_field"))
        )
        columns: Columns = {
            "b_crm": Same(crm),
            "b_object": objects,
            "b_record_id": record_ids,
            "b_field": fields,
        }
        if written:
            statement = (
                update(table)
                .where(where)
                .values(
                    state="written",
                    written_value=bindparam("value", type_=table.c.written_value.type),
                    new_value=bindparam("value", type_=table.c.new_value.type),
                    written_at=now,
                    last_error=None,
                    updated_at=now,
                )
            )
            columns["value"] = picked[0]
        else:
            statement = (
                update(table)
                .where(where)
                .values(
                    state=state, last_error=error, attempts=table.c.attempts + 1, updated_at=now, **folded()
                )
            )
        self._execute_columns(statement, columns)

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
        settle: list[tuple[str, str, Sequence[str], Mapping[str, JSONValue]]] = []
        learn: list[tuple[str, str, Sequence[str], Mapping[str, JSONValue]]] = []
        for obj, landed in by_object.items():
            for chunk in chunks(landed):
                more_settle, more_learn = self._not_through_item(crm, obj, chunk)
                settle += more_settle
                learn += more_learn
        self.settle_many(crm, settle, "written")
        self._learn_landed(crm, learn)

    def _not_through_item(
        self, crm: str, obj: str, landed: Sequence[tuple[int, str, Mapping[str, JSONValue]]]
    ) -> tuple[list[_Landed], list[_Landed]]:
        """Of the landed fields of `landed` (item id, record id, values; one chunk), those whose ledger row
        does not read as written through that item: to settle, and to learn the landed value only (the
        row waits on another item not done yet). Both as `settle_many` records."""
        item_of = {record_id: item_id for item_id, record_id, _ in landed}
        keeps_plan = and_(
            LEDGER.c.state.in_(WAITING), LEDGER.c.outbox_id.is_not(None), OUTBOX.c.state != "done"
        )
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
                    LEDGER.c.state.not_in(WAITING),
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

    def _learn_landed(self, crm: str, records: Sequence[_Landed]) -> None:
        """Set the written value (and when) of fields that keep waiting on a newer plan."""
        objects, record_ids, fields, picked = _per_field(
            ((obj, record_id, names, (values,)) for obj, record_id, names, values in records), 1
        )
        if not fields:
            return
        table = LEDGER
        where = (
            (table.c.crm == bindparam("b_crm"))
            & (table.c.object == bindparam("b_object"))
            & (table.c.record_id == bindparam("b_record_id"))
            & (table.c.field == bindparam("b_field"))
        )
        statement = (
            update(table)
            .where(where)
            .values(written_value=bindparam("value", type_=table.c.written_value.type), written_at=self.now())
        )
        columns: Columns = {
            "b_crm": Same(crm),
            "b_object": objects,
            "b_record_id": record_ids,
            "b_field": fields,
            "value": picked[0],
        }
        self._execute_columns(statement, columns)


_Landed = tuple[str, str, Sequence[str], Mapping[str, JSONValue]]
"""What landed for some fields of one record: (object, record id, field names, landed values)."""


class _Each:
    """A source giving one value for every field (a record's outbox item id)."""

    __slots__ = ("value",)

    def __init__(self, value: JSONValue) -> None:
        self.value = value


def _per_field(
    records: Iterable[tuple[str, str, Collection[str], Sequence[Mapping[str, JSONValue] | _Each]]], width: int
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
            if isinstance(source, _Each):
                column += [source.value] * len(names)
            else:
                column += map(source.get, names)
    return objects, record_ids, fields, picked
