"""Set-at-a-time store methods for the cycle's hot path: a 100k-lead cycle cannot afford a round trip
per record. Each joins the caller's `transaction()` like every other store method."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
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
        with self.session() as s:
            for chunk in _chunks(rows, 200):
                statement = maker(table).values(list(chunk))
                updates = {c: statement.excluded[c] for c in chunk[0] if c not in keys}
                s.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))

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
        with self.session() as s:
            for chunk in _chunks(ids):
                query = select(LedgerRow).where(
                    LedgerRow.crm == crm, LedgerRow.object == obj, LedgerRow.record_id.in_(chunk)
                )
                for row in s.scalars(query):
                    out.setdefault(row.record_id, {})[row.field] = to_record(LedgerEntry, row)
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
            {"b_crm": crm, "b_object": obj, "b_record_id": record_id, "b_field": name, "value": values.get(name)}
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
        with self.session() as s:
            s.connection().execute(statement, keys)

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
            for chunk in _chunks(rows, 200):
                s.execute(insert(OutboxRow), list(chunk))
        return len(rows)

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
        query = select(OutboxRow).where(OutboxRow.crm == crm, OutboxRow.state == "sent").order_by(OutboxRow.id)
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
        with self.session() as s:
            for chunk in _chunks(rows, 500):
                s.execute(insert(ScoreRow), list(chunk))

    def latest_scores(self, crm: str, lead_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        """The newest history entry of each lead among `lead_ids` (for the "what changed" line)."""
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, ScoreRecord] = {}
        with self.session() as s:
            for chunk in _chunks(ids):
                query = (
                    select(ScoreRow)
                    .where(ScoreRow.crm == crm, ScoreRow.lead_id.in_(chunk))
                    .order_by(ScoreRow.lead_id, ScoreRow.scored_at, ScoreRow.id)
                )
                for row in s.scalars(query):
                    out[row.lead_id] = to_record(ScoreRecord, row)
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
        with self.session() as s:
            for chunk in _chunks(rows, 500):
                s.execute(insert(AuditRow), list(chunk))
