"""The write side of the state store: the per-field ledger and the outbox of planned writes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from sync.state.base import StoreBase, to_record
from sync.state.columns import JSONValue
from sync.state.ledger_view import LEDGER, WAITING, entry_columns, joined
from sync.state.models import LedgerRow, OutboxRow
from sync.state.records import LedgerEntry, LedgerState, OutboxItem, OutboxKind, OutboxState

_LEDGER_STATES_WITH_ERROR = frozenset({"rejected", "retryable", "parked"})


def json_equal(a: JSONValue, b: JSONValue) -> bool:
    """Equality of JSON values where `True` is not `1` (Python says it is) but `1` is `1.0`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _fold(s: Session, row: LedgerRow) -> None:
    """Keep in the row what its outbox item says landed, before the row moves on (`ledger_view.folded`)."""
    if row.state in WAITING and row.outbox_id is not None:
        item = s.get(OutboxRow, row.outbox_id)
        if item is not None and item.state == "done":
            row.written_value = row.new_value
            row.written_at = item.updated_at


class WritesMixin(StoreBase):
    """Ledger and outbox methods of `StateStore`."""

    # ---- ledger -------------------------------------------------------------------------------------

    def _ledger_row(self, s: Session, crm: str, obj: str, record_id: str, field: str) -> LedgerRow | None:
        return s.get(LedgerRow, (crm, obj, record_id, field))

    def plan_write(
        self,
        crm: str,
        obj: str,
        record_id: str,
        field: str,
        old_value: JSONValue,
        new_value: JSONValue,
        outbox_id: int | None = None,
    ) -> LedgerEntry:
        """Record that leadq plans to change `field` from `old_value` to `new_value` (state `planned`),
        carried by outbox item `outbox_id` (the field reads as written once that item is done).

        A new plan replaces the previous one and resets its attempts and error; the last value that landed
        (`written_value`) is kept, since it is what human-edit detection compares against.
        """
        now = self.now()
        with self.session() as s:
            row = self._ledger_row(s, crm, obj, record_id, field)
            if row is None:
                row = LedgerRow(crm=crm, object=obj, record_id=record_id, field=field)
                s.add(row)
            else:
                _fold(s, row)
            row.outbox_id = outbox_id
            row.old_value = old_value
            row.new_value = new_value
            row.state = "planned"
            row.attempts = 0
            row.last_error = None
            row.updated_at = now
            s.flush()
        return self._read_entry(crm, obj, record_id, field)

    def set_ledger_state(
        self, crm: str, obj: str, record_id: str, field: str, state: LedgerState, error: str | None = None
    ) -> LedgerEntry:
        """Move a ledger entry to `state`; raises `KeyError` if nothing was planned for that field.

        `sent` counts an attempt; `written` records `new_value` as the value that landed in the CRM;
        `rejected`, `retryable` and `parked` keep `error` as the last error.
        """
        now = self.now()
        with self.session() as s:
            row = self._ledger_row(s, crm, obj, record_id, field)
            if row is None:
                raise KeyError((crm, obj, record_id, field))
            _fold(s, row)
            row.state = state
            row.updated_at = now
            if state == "sent":
                row.attempts += 1
            elif state == "written":
                row.written_value = row.new_value
                row.written_at = now
                row.last_error = None
            if state in _LEDGER_STATES_WITH_ERROR:
                row.last_error = error
            s.flush()
        return self._read_entry(crm, obj, record_id, field)

    def _read_entry(self, crm: str, obj: str, record_id: str, field: str) -> LedgerEntry:
        entry = self.ledger_entry(crm, obj, record_id, field)
        assert entry is not None  # just written in this session's transaction
        return entry

    def _ledger_entries(self, *where: ColumnElement[bool]) -> list[LedgerEntry]:
        """Entries as they read (through their outbox items, `ledger_view`), in key order."""
        columns = entry_columns()
        query = (
            select(*columns)
            .select_from(joined())
            .where(*where)
            .order_by(LEDGER.c.object, LEDGER.c.record_id, LEDGER.c.field)
        )
        with self.session() as s:
            return [LedgerEntry._make(row) for row in s.execute(query)]

    def ledger_entry(self, crm: str, obj: str, record_id: str, field: str) -> LedgerEntry | None:
        """The ledger entry of one field, or None if leadq never planned a write to it."""
        found = self._ledger_entries(
            LEDGER.c.crm == crm,
            LEDGER.c.object == obj,
            LEDGER.c.record_id == record_id,
            LEDGER.c.field == field,
        )
        return found[0] if found else None

    def ledger_for_record(self, crm: str, obj: str, record_id: str) -> dict[str, LedgerEntry]:
        """Every ledger entry of one record, by field name."""
        found = self._ledger_entries(
            LEDGER.c.crm == crm, LEDGER.c.object == obj, LEDGER.c.record_id == record_id
        )
        return {entry.field: entry for entry in found}

    def ledger_in_state(self, crm: str, state: LedgerState) -> list[LedgerEntry]:
        """The ledger entries of a CRM in one state as they read (for example everything `parked`, or
        `written`, which includes fields whose outbox item is done)."""
        state_read = next(c for c in entry_columns() if c.key == "state")
        return self._ledger_entries(LEDGER.c.crm == crm, state_read == state)

    def was_changed_by_a_person(
        self, crm: str, obj: str, record_id: str, field: str, crm_value: JSONValue
    ) -> bool:
        """Whether the CRM's current `crm_value` of a writeback field was set by someone other than leadq.

        True only when leadq has written the field before and the value now differs both from what last
        landed and from what is planned or in flight (a write whose outcome a crash hid may have landed).
        A field leadq never wrote is nobody's edit as far as the ledger knows: False.
        """
        entry = self.ledger_entry(crm, obj, record_id, field)
        if entry is None or entry.written_at is None:
            return False
        return not (json_equal(crm_value, entry.written_value) or json_equal(crm_value, entry.new_value))

    # ---- outbox -------------------------------------------------------------------------------------

    def enqueue(
        self,
        crm: str,
        kind: OutboxKind,
        obj: str,
        record_id: str | None,
        payload: JSONValue,
        idempotency_key: str,
    ) -> OutboxItem:
        """Add a planned write unless one with `idempotency_key` exists; returns the item either way.

        The first enqueue wins: a later call with the same key never changes the stored payload, so the
        key must identify the intended effect (for example lead, field and value, or lead and review cycle).
        """
        now = self.now()
        with self.session() as s:
            # Look before inserting: a failed INSERT would abort the whole surrounding PostgreSQL
            # transaction, and the daemon is the only writer, so there is no race to lose.
            existing = s.scalars(
                select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key)
            ).first()
            if existing is not None:
                return to_record(OutboxItem, existing)
            row = OutboxRow(
                crm=crm,
                kind=kind,
                object=obj,
                record_id=record_id,
                payload=payload,
                idempotency_key=idempotency_key,
                state="pending",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            return to_record(OutboxItem, row)

    def claim_pending(
        self, limit: int, crm: str | None = None, kind: OutboxKind | None = None
    ) -> list[OutboxItem]:
        """Take up to `limit` pending items, oldest first, and mark them `sent` (one attempt more).

        Call it in the same transaction as the send's bookkeeping or commit it before sending: an item in
        `sent` after a crash is one whose outcome is unknown, which the cycle must reconcile.
        """
        query = select(OutboxRow).where(OutboxRow.state == "pending")
        if crm is not None:
            query = query.where(OutboxRow.crm == crm)
        if kind is not None:
            query = query.where(OutboxRow.kind == kind)
        # SKIP LOCKED matters only on PostgreSQL; SQLite ignores FOR UPDATE and has a single writer anyway.
        query = query.order_by(OutboxRow.id).limit(limit).with_for_update(skip_locked=True)
        now = self.now()
        with self.session() as s:
            rows = list(s.scalars(query))
            for row in rows:
                row.state = "sent"
                row.attempts += 1
                row.updated_at = now
            s.flush()
            return [to_record(OutboxItem, row) for row in rows]

    def _outbox_update(
        self,
        item_id: int,
        state: OutboxState,
        error: str | None,
        result: JSONValue = None,
    ) -> OutboxItem:
        with self.session() as s:
            row = s.get(OutboxRow, item_id)
            if row is None:
                raise KeyError(item_id)
            row.state = state
            row.last_error = error
            if result is not None:
                row.result = result
            row.updated_at = self.now()
            s.flush()
            return to_record(OutboxItem, row)

    def mark_done(self, item_id: int, result: JSONValue = None) -> OutboxItem:
        """The connector confirmed the write; `result` keeps what it returned (for example a created id)."""
        return self._outbox_update(item_id, "done", None, result)

    def mark_failed(
        self, item_id: int, error: str, *, retryable: bool, result: JSONValue = None
    ) -> OutboxItem:
        """The connector reported a failure: a retryable one returns the item to `pending`, else `failed`."""
        return self._outbox_update(item_id, "pending" if retryable else "failed", error, result)

    def mark_parked(self, item_id: int, reason: str) -> OutboxItem:
        """Set an item aside until a person looks at it (it is never claimed while parked)."""
        return self._outbox_update(item_id, "parked", reason)

    def requeue(self, item_id: int) -> OutboxItem:
        """Return an item to `pending` (a `sent` item found not to have landed, or a released parked one)."""
        with self.session() as s:
            row = s.get(OutboxRow, item_id)
            last_error = None if row is None else row.last_error
        return self._outbox_update(item_id, "pending", last_error)

    def release(self, item_ids: Sequence[int]) -> None:
        """Return claimed items to `pending` without counting the attempt (they were never sent: the quota
        or a stop held them back)."""
        now = self.now()
        with self.session() as s:
            for start in range(0, len(item_ids), 500):
                s.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(list(item_ids[start : start + 500])))
                    .values(
                        state="pending",
                        attempts=case((OutboxRow.attempts > 0, OutboxRow.attempts - 1), else_=0),
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        """One outbox item by id."""
        with self.session() as s:
            row = s.get(OutboxRow, item_id)
            return None if row is None else to_record(OutboxItem, row)

    def outbox_by_key(self, idempotency_key: str) -> OutboxItem | None:
        """One outbox item by idempotency key."""
        with self.session() as s:
            row = s.scalars(select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key)).first()
            return None if row is None else to_record(OutboxItem, row)

    def outbox_items(self, state: OutboxState, crm: str | None = None) -> list[OutboxItem]:
        """Every item in `state`, oldest first."""
        query = select(OutboxRow).where(OutboxRow.state == state)
        if crm is not None:
            query = query.where(OutboxRow.crm == crm)
        with self.session() as s:
            return [to_record(OutboxItem, row) for row in s.scalars(query.order_by(OutboxRow.id))]

    def count_pending(self, crm: str | None = None) -> int:
        """How many items wait to be sent."""
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.state == "pending")
        if crm is not None:
            query = query.where(OutboxRow.crm == crm)
        with self.session() as s:
            return int(s.scalar(query) or 0)
