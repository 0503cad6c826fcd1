"""Set-at-a-time store methods for the cycle's hot path: a 100k-lead cycle cannot afford a round trip
per record. Each joins the caller's `transaction()` like every other store method."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sync.state.base import StoreBase, to_record
from sync.state.columns import JSONValue
from sync.state.models import AuditRow, LedgerRow, OutboxRow, ScoreRow, SnapshotRow
from sync.state.records import LedgerEntry, OutboxItem, OutboxKind, ScoreRecord

_CHUNK = 500  # bound parameters per IN (...) stay well under SQLite's limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_Plan = list[tuple[str | None, Callable[[Any], Any] | None, Any]]


def _positional_plan(compiled: Any, statement: Any, names: Sequence[str]) -> _Plan | None:
    """For each `?` of a compiled SQLite statement: the row key and the bind's type processor, or (for a
    constant the statement carries) its processed value. None when a bind is neither (a column default or
    onupdate SQLAlchemy would compute per row): the caller then lets SQLAlchemy execute it."""
    order = compiled.positiontup
    if order is None:
        return None
    table = statement.table
    if any(c.onupdate is not None for c in table.c) and statement.is_update:
        return None
    wanted = set(names)
    dialect = compiled.dialect
    plan: _Plan = []
    for name in order:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in wanted:
            plan.append((name, convert, None))
        elif statement.is_update and not bind.required and bind.callable is None:
            value = bind.effective_value
            plan.append((None, None, value if convert is None else convert(value)))
        else:
            return None
    if statement.is_insert and set(order) != wanted:
        return None
    return plan


@dataclass(frozen=True, slots=True)
class SnapshotPut:
    """One record's raw values as pulled, with the hash of what matters in them."""

    record_id: str
    values: JSONValue
    content_hash: str
    modified_at: datetime | None


@dataclass(frozen=True, slots=True)
class PlannedField:
    """A field write leadq plans: from `old_value` (what the CRM holds) to `new_value`."""

    object: str
    record_id: str
    field: str
    old_value: JSONValue
    new_value: JSONValue


@dataclass(frozen=True, slots=True)
class NewOutboxItem:
    crm: str
    kind: OutboxKind
    object: str
    record_id: str | None
    payload: JSONValue
    idempotency_key: str


class BulkMixin(StoreBase):
    """Bulk snapshot, ledger, outbox and score-history methods of `StateStore`."""

    def _upsert(self, table: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
        if not rows:
            return
        dialect = self.engine.dialect.name
        maker = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = maker(table)
        updates = {c: statement.excluded[c] for c in rows[0] if c not in keys}
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
        # One statement compiled once and run as executemany: a multi-VALUES statement per chunk costs a
        # fresh compile of thousands of bound parameters each time.
        self._execute_many(statement, rows)

    def _execute_many(self, statement: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT, upsert or UPDATE once per row of `rows`, as one executemany per chunk."""
        if not rows:
            return
        dialect = self.engine.dialect
        names = list(rows[0])
        compiled = statement.compile(dialect=dialect, column_keys=names)
        plan = _positional_plan(compiled, statement, names) if dialect.name == "sqlite" else None
        with self.session() as s:
            connection = s.connection()
            if plan is None:
                for chunk in _chunks(rows, 5000):
                    connection.execute(statement, list(chunk))
                return
            # SQLite: the binds' own type processors, then the driver's executemany directly; the per-row
            # parameter handling of a Core executemany costs more than the statement itself.
            for chunk in _chunks(rows, 5000):
                params = [
                    tuple(
                        constant if name is None else (row[name] if convert is None else convert(row[name]))
                        for name, convert, constant in plan
                    )
                    for row in chunk
                ]
                connection.exec_driver_sql(compiled.string, params)

    # ---- snapshots ---------------------------------------------------------------------------------

    def snapshot_hashes(self, crm: str, obj: str, record_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each stored snapshot among `record_ids`."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, str] = {}
        with self.session() as s:
            for chunk in _chunks(ids):
                query = select(SnapshotRow.record_id, SnapshotRow.content_hash).where(
                    SnapshotRow.crm == crm, SnapshotRow.object == obj, SnapshotRow.record_id.in_(chunk)
                )
                out.update({row[0]: row[1] for row in s.execute(query)})
        return out

    def put_snapshots(self, crm: str, obj: str, puts: Sequence[SnapshotPut]) -> None:
        """Save many records' raw values at once (insert or replace)."""
        now = self.now()
        rows = [
            {
                "crm": crm,
                "object": obj,
                "record_id": p.record_id,
                "content_hash": p.content_hash,
                "values": p.values,
                "modified_at": None if p.modified_at is None else self._at(p.modified_at),
                "pulled_at": now,
            }
            for p in puts
        ]
        self._upsert(SnapshotRow.__table__, rows, ("crm", "object", "record_id"))

    def drop_snapshots(self, crm: str, obj: str, record_ids: Iterable[str]) -> None:
        """Forget deleted records."""
        ids = list(record_ids)
        with self.session() as s:
            for chunk in _chunks(ids):
                s.execute(
                    delete(SnapshotRow).where(
                        SnapshotRow.crm == crm, SnapshotRow.object == obj, SnapshotRow.record_id.in_(chunk)
                    )
                )

    def iter_snapshot_values(self, crm: str, obj: str, batch: int = 5000) -> Iterator[tuple[str, JSONValue]]:
        """Every stored record of one object, in pages (a fresh process rebuilds its graph from them)."""
        last = ""
        while True:
            query = (
                select(SnapshotRow.record_id, SnapshotRow.values)
                .where(SnapshotRow.crm == crm, SnapshotRow.object == obj, SnapshotRow.record_id > last)
                .order_by(SnapshotRow.record_id)
                .limit(batch)
            )
            with self.session() as s:
                page = [(row[0], row[1]) for row in s.execute(query)]
            yield from page
            if len(page) < batch:
                return
            last = page[-1][0]

    # ---- ledger ------------------------------------------------------------------------------------

    def ledger_for_records(
        self, crm: str, obj: str, record_ids: Iterable[str]
    ) -> dict[str, dict[str, LedgerEntry]]:
        """Ledger entries of many records: record id -> field -> entry."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, dict[str, LedgerEntry]] = {}
        table = cast(Table, LedgerRow.__table__)
        names = list(LedgerEntry.__dataclass_fields__)
        columns = [table.c[name] for name in names]
        with self.session() as s:
            connection = s.connection()
            for chunk in _chunks(ids):
                query = select(*columns).where(
                    table.c.crm == crm, table.c.object == obj, table.c.record_id.in_(chunk)
                )
                # Plain rows, not ORM objects: a 100k-lead cycle reads half a million entries.
                for row in connection.execute(query):
                    entry = LedgerEntry(*row)
                    out.setdefault(entry.record_id, {})[entry.field] = entry
        return out

    def plan_writes(self, crm: str, planned: Sequence[PlannedField]) -> None:
        """`plan_write` for many fields: state planned, attempts reset, the last landed value kept."""
        now = self.now()
        rows = [
            {
                "crm": crm,
                "object": p.object,
                "record_id": p.record_id,
                "field": p.field,
                "old_value": p.old_value,
                "new_value": p.new_value,
                "state": "planned",
                "attempts": 0,
                "last_error": None,
                "updated_at": now,
            }
            for p in planned
        ]
        self._upsert(LedgerRow.__table__, rows, ("crm", "object", "record_id", "field"))

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
        now = self.now()
        table = cast(Table, LedgerRow.__table__)
        where = (
            (table.c.crm == bindparam("b_crm"))
            & (table.c.object == bindparam("b_object"))
            & (table.c.record_id == bindparam("b_record_id"))
            & (table.c.field == bindparam("b_field"))
        )
        keys = [
            {
                "b_crm": crm,
                "b_object": obj,
                "b_record_id": record_id,
                "b_field": name,
                "value": values.get(name),
            }
            for obj, record_id, names, values in records
            for name in names
        ]
        if not keys:
            return
        if state == "written":
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
        else:
            statement = (
                update(table)
                .where(where)
                .values(state=state, last_error=error, attempts=table.c.attempts + 1, updated_at=now)
            )
            for key in keys:
                key.pop("value")
        self._execute_many(statement, keys)

    # ---- outbox ------------------------------------------------------------------------------------

    def enqueue_many(self, items: Sequence[NewOutboxItem]) -> int:
        """Add planned writes whose keys are new (a key already present keeps its first payload)."""
        if not items:
            return 0
        now = self.now()
        keys = [item.idempotency_key for item in items]
        with self.session() as s:
            existing: set[str] = set()
            for chunk in _chunks(keys):
                query = select(OutboxRow.idempotency_key).where(OutboxRow.idempotency_key.in_(chunk))
                existing.update(s.scalars(query))
            fresh: dict[str, dict[str, Any]] = {}
            for item in items:
                if item.idempotency_key in existing or item.idempotency_key in fresh:
                    continue
                fresh[item.idempotency_key] = {
                    "crm": item.crm,
                    "kind": item.kind,
                    "object": item.object,
                    "record_id": item.record_id,
                    "payload": item.payload,
                    "idempotency_key": item.idempotency_key,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            rows = list(fresh.values())
        self._execute_many(insert(cast(Table, OutboxRow.__table__)), rows)
        return len(rows)

    def claim_pending_many(self, limit: int, crm: str) -> list[OutboxItem]:
        """`claim_pending(limit, crm=crm)` in two set statements: take up to `limit` pending items of `crm`,
        oldest first, and mark them `sent` (one attempt more)."""
        table = cast(Table, OutboxRow.__table__)
        names = list(OutboxItem.__dataclass_fields__)
        query = (
            select(*(table.c[name] for name in names))
            .where(table.c.state == "pending", table.c.crm == crm)
            .order_by(table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        now = self.now()
        with self.session() as s:
            connection = s.connection()
            rows = [dict(zip(names, row, strict=True)) for row in connection.execute(query)]
            for chunk in _chunks([row["id"] for row in rows]):
                connection.execute(
                    update(table)
                    .where(table.c.id.in_(chunk))
                    .values(state="sent", attempts=table.c.attempts + 1, updated_at=now)
                )
        return [
            OutboxItem(**{**row, "state": "sent", "attempts": row["attempts"] + 1, "updated_at": now})
            for row in rows
        ]

    def mark_done_many(self, item_ids: Sequence[int]) -> None:
        """Mark many sent items done (the connector confirmed them)."""
        now = self.now()
        with self.session() as s:
            for chunk in _chunks(list(item_ids)):
                s.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(chunk))
                    .values(state="done", last_error=None, updated_at=now)
                    .execution_options(synchronize_session=False)
                )

    def cancel_pending(self, crm: str, kind: OutboxKind, obj: str, record_ids: Iterable[str]) -> int:
        """Park pending writes a newer plan supersedes (the newer one carries the current values)."""
        ids = list(record_ids)
        count = 0
        with self.session() as s:
            for chunk in _chunks(ids):
                result = s.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.crm == crm,
                        OutboxRow.kind == kind,
                        OutboxRow.object == obj,
                        OutboxRow.state == "pending",
                        OutboxRow.record_id.in_(chunk),
                    )
                    .values(state="done", last_error="superseded by a newer plan", updated_at=self.now())
                )
                count += int(result.rowcount)  # type: ignore[attr-defined]
        return count

    def in_flight(self, crm: str) -> list[OutboxItem]:
        """Items `sent` whose outcome a crash hid: to requeue before anything else."""
        query = (
            select(OutboxRow).where(OutboxRow.crm == crm, OutboxRow.state == "sent").order_by(OutboxRow.id)
        )
        with self.session() as s:
            return [to_record(OutboxItem, row) for row in s.scalars(query)]

    # ---- score history -----------------------------------------------------------------------------

    def add_scores_bulk(self, scores: Sequence[ScoreRecord]) -> None:
        """Append many scores to the history in a few statements."""
        rows = [
            {name: getattr(score, name) for name in ScoreRecord.__dataclass_fields__}
            | {"scored_at": self._at(score.scored_at)}
            for score in scores
        ]
        self._execute_many(insert(cast(Table, ScoreRow.__table__)), rows)

    def latest_scores(self, crm: str, lead_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        """The newest history entry of each lead among `lead_ids` (for the "what changed" line)."""
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, ScoreRecord] = {}
        table = cast(Table, ScoreRow.__table__)
        columns = [table.c[name] for name in ScoreRecord.__dataclass_fields__]
        with self.session() as s:
            connection = s.connection()
            for chunk in _chunks(ids):
                query = (
                    select(*columns)
                    .where(table.c.crm == crm, table.c.lead_id.in_(chunk))
                    .order_by(table.c.lead_id, table.c.scored_at, table.c.id)
                )
                for row in connection.execute(query):
                    record = ScoreRecord(*row)
                    out[record.lead_id] = record
        return out

    # ---- audit -------------------------------------------------------------------------------------

    def audit_many(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Append many audit entries (keys as `audit()` takes them; `obj` is the object name)."""
        now = self.now()
        rows = [
            {
                "at": self._at(e.get("at")) if e.get("at") else now,
                "actor": e["actor"],
                "action": e["action"],
                "crm": e.get("crm"),
                "object": e.get("obj"),
                "record_id": e.get("record_id"),
                "field": e.get("field"),
                "old": e.get("old"),
                "new": e.get("new"),
                "model_version": e.get("model_version"),
                "policy_version": e.get("policy_version"),
                "detail": e.get("detail"),
            }
            for e in entries
        ]
        self._execute_many(insert(cast(Table, AuditRow.__table__)), rows)
