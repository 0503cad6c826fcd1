"""Set-at-a-time ledger methods: what leadq planned and what landed, per record and field.

A 100k-lead cycle plans and settles ~870k fields, each a statement of one executemany. (One statement per
record, its landed values one JSON document SQLite takes apart, was tried: the same time, since the cost
is the ledger pages the updates rewrite, not the statements.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, update

from sync.state.bulk_exec import ExecMixin
from sync.state.columns import Columns, JSONValue, Same
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
        table = cast(Table, LedgerRow.__table__)
        columns = [table.c[name] for name in LedgerEntry._fields]
        # Plain tuples made into entries in one step: a 100k-lead cycle reads half a million entries.
        rows = self._select_in(columns, {"crm": crm, "object": obj}, table.c.record_id, ids)
        for entry in map(LedgerEntry._make, rows):
            fields = out.get(entry.record_id)
            if fields is None:
                fields = out[entry.record_id] = {}
            fields[entry.field] = entry
        return out

    def plan_records(
        self, crm: str, records: Sequence[tuple[str, str, Mapping[str, JSONValue], Mapping[str, JSONValue]]]
    ) -> None:
        """`plan_write` for every field of many records, (object, record id, new values, old values) each:
        every field of the new values, its old value the old values' entry (or None); state planned,
        attempts and error reset, the last landed value kept. A cycle plans ~870k fields at 100k leads:
        the columns are made straight from the records, not from an object per field."""
        objects, record_ids, fields, (news, olds) = _per_field(
            ((obj, record_id, new, (new, old)) for obj, record_id, new, old in records), 2
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
        }
        self._upsert_columns(LedgerRow.__table__, columns, ("crm", "object", "record_id", "field"))

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
                .values(state=state, last_error=error, attempts=table.c.attempts + 1, updated_at=now)
            )
        self._execute_columns(statement, columns)


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
