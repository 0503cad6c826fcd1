"""Set-at-a-time store methods for the cycle's hot path: a 100k-lead cycle cannot afford a round trip
per record. Each joins the caller's `transaction()` like every other store method.

Rows travel column by column (`Columns`, see `sync.state.columns`); how they are executed and read is
`sync.state.bulk_exec`'s part.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter, methodcaller
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update

from sync.state.base import to_record
from sync.state.bulk_exec import chunks as _chunks
from sync.state.bulk_exec import column as _column
from sync.state.bulk_ledger import LedgerBulkMixin
from sync.state.columns import Columns, JSONValue, Same, UTCText
from sync.state.decisions import check_probabilities
from sync.state.models import AuditRow, OutboxRow, ScoreRow, SnapshotRow
from sync.state.records import OutboxItem, OutboxKind, ScoreRecord


@dataclass(frozen=True, slots=True)
class SnapshotPut:
    """One record's raw values as pulled, with the hash of what matters in them."""

    record_id: str
    values: JSONValue
    content_hash: str
    modified_at: datetime | None


@dataclass(frozen=True, slots=True)
class SnapshotBatch:
    """Records of one object column by column, as `put_snapshot_batch` stores them: row i is
    `SnapshotPut(record_ids[i], values[i], digests[i], stamps[i])`, with values and stamps as the pull
    spooled them (`EncodedJSON`, `UTCText`) or as Python values."""

    record_ids: list[str]
    values: list[JSONValue]
    digests: list[str]
    stamps: list[datetime | UTCText | None]

    def __len__(self) -> int:
        return len(self.record_ids)


@dataclass(frozen=True, slots=True)
class NewOutboxItem:
    crm: str
    kind: OutboxKind
    object: str
    record_id: str | None
    payload: JSONValue
    idempotency_key: str


class BulkMixin(LedgerBulkMixin):
    """Bulk snapshot, ledger, outbox and score-history methods of `StateStore`."""

    # ---- snapshots ---------------------------------------------------------------------------------

    def snapshot_hashes(self, crm: str, obj: str, record_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each stored snapshot among `record_ids`."""
        ids = list(dict.fromkeys(record_ids))
        table = cast(Table, SnapshotRow.__table__)
        # An object never stored (an org's first pull: ~800k records at 100k leads) is answered by one
        # look at the index rather than a look-up per record.
        with self.session() as s:
            exists = select(table.c.record_id).where(table.c.crm == crm, table.c.object == obj).limit(1)
            if not ids or s.execute(exists).first() is None:
                return {}
        # One statement compiled once and run per chunk on the driver: the pull asks about every record it
        # pulled, and an ORM statement built and compiled per chunk cost more than the lookups themselves.
        rows = self._select_in(
            [table.c.record_id, table.c.content_hash], {"crm": crm, "object": obj}, table.c.record_id, ids
        )
        return dict(rows)

    def put_snapshots(self, crm: str, obj: str, puts: Sequence[SnapshotPut]) -> None:
        """Save many records' raw values at once (insert or replace)."""
        batch = SnapshotBatch(
            _column(puts, attrgetter("record_id")),
            _column(puts, attrgetter("values")),
            _column(puts, attrgetter("content_hash")),
            _column(puts, attrgetter("modified_at")),
        )
        self.put_snapshot_batch(crm, obj, batch)

    def put_snapshot_batch(self, crm: str, obj: str, batch: SnapshotBatch) -> None:
        """`put_snapshots` of records given column by column (what the commit reads from the pull's spool)."""
        columns: Columns = {
            "crm": Same(crm),
            "object": Same(obj),
            "record_id": batch.record_ids,
            "content_hash": batch.digests,
            "values": batch.values,
            # UTCDateTime converts (and refuses naive values) as it binds, as `_at` would.
            "modified_at": batch.stamps,
            "pulled_at": Same(self.now()),
        }
        self._upsert_columns(SnapshotRow.__table__, columns, ("crm", "object", "record_id"))

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
                page = [(row[0], row[1]) for row in s.execute(query).all()]
            yield from page
            if len(page) < batch:
                return
            last = page[-1][0]

    # ---- outbox ------------------------------------------------------------------------------------

    def enqueue_many(self, items: Sequence[NewOutboxItem]) -> int:
        """Add planned writes whose keys are new (a key already present keeps its first payload)."""
        if not items:
            return 0
        new = self._unstored(OutboxRow.idempotency_key, items)
        now = self.now()
        columns: Columns = {
            name: _column(new, attrgetter(name))
            for name in ("crm", "kind", "object", "record_id", "payload", "idempotency_key")
        }
        columns |= {
            "state": Same("pending"),
            "attempts": Same(0),
            "created_at": Same(now),
            "updated_at": Same(now),
        }
        self._execute_columns(insert(cast(Table, OutboxRow.__table__)), columns)
        return len(new)

    def outbox_ids(self, idempotency_keys: Sequence[str]) -> dict[str, int]:
        """The id of each stored item among `idempotency_keys` (a key not stored is left out)."""
        table = cast(Table, OutboxRow.__table__)
        keys = list(dict.fromkeys(idempotency_keys))
        return {key: item_id for item_id, key in self._select_in(
            [table.c.id, table.c.idempotency_key], {}, table.c.idempotency_key, keys
        )}  # fmt: skip

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
            rows = connection.execute(query).all()
            for chunk in _chunks([row[0] for row in rows]):
                connection.execute(
                    update(table)
                    .where(table.c.id.in_(chunk))
                    .values(state="sent", attempts=table.c.attempts + 1, updated_at=now)
                )
        # Positionally, in the dataclass's field order (the order of `names`): a send claims ~145k items at
        # 100k leads, and a dict per row merged into keywords cost ~10 us an item.
        return [
            OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], "sent", r[8] + 1, r[9], r[10], r[11], now)
            for r in rows
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
        """Append many scores to the history in a few statements (a NaN or infinite probability is
        refused: SQLite would store it as NULL, which reads back as "no probability")."""
        columns: Columns = {
            name: _column(scores, attrgetter(name)) for name in ScoreRecord.__dataclass_fields__
        }
        check_probabilities(cast(list[Any], columns["probability"]), scores)
        at = cast(list[Any], columns["scored_at"])
        if None in at:  # `_at` semantics: a missing time is now
            now = self.now()
            columns["scored_at"] = [now if value is None else value for value in at]
        self._execute_columns(insert(cast(Table, ScoreRow.__table__)), columns)

    def latest_scores(self, crm: str, lead_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        """The newest history entry of each lead among `lead_ids` (for the "what changed" line)."""
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, ScoreRecord] = {}
        table = cast(Table, ScoreRow.__table__)
        columns = [table.c[name] for name in ScoreRecord.__dataclass_fields__]
        with self.session() as s:
            connection = s.connection()
            for chunk in _chunks(ids):
                # Rank each lead's rows newest first (ties on `scored_at`: the later id) on the columns the
                # (crm, lead_id, scored_at) index holds, and read whole rows, JSON included, for the
                # newest only: a lead scored every cycle has a long history, and all of it used to be read.
                ranked = (
                    select(
                        table.c.id,
                        func.row_number()
                        .over(
                            partition_by=table.c.lead_id,
                            order_by=(table.c.scored_at.desc(), table.c.id.desc()),
                        )
                        .label("newest_first"),
                    )
                    .where(table.c.crm == crm, table.c.lead_id.in_(chunk))
                    .subquery()
                )
                newest = select(ranked.c.id).where(ranked.c.newest_first == 1)
                query = select(*columns).where(table.c.id.in_(newest)).order_by(table.c.lead_id)
                for row in connection.execute(query).all():
                    record = ScoreRecord(*row)
                    out[record.lead_id] = record
        return out

    # ---- audit -------------------------------------------------------------------------------------

    def audit_many(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Append many audit entries (keys as `audit()` takes them; `obj` is the object name)."""
        if not entries:
            return
        ats = _column(entries, methodcaller("get", "at"))
        now = self.now()
        columns: Columns = {
            # UTCDateTime converts (and refuses naive values) as it binds, as `_at` would.
            "at": [at if at else now for at in ats] if any(ats) else Same(now),
            "actor": _column(entries, itemgetter("actor")),
            "action": _column(entries, itemgetter("action")),
        }
        for column, key in _AUDIT_OPTIONAL:
            columns[column] = _column(entries, methodcaller("get", key))
        self._execute_columns(insert(cast(Table, AuditRow.__table__)), columns)


_AUDIT_OPTIONAL = (
    ("crm", "crm"),
    ("object", "obj"),
    ("record_id", "record_id"),
    ("field", "field"),
    ("old", "old"),
    ("new", "new"),
    ("model_version", "model_version"),
    ("policy_version", "policy_version"),
    ("detail", "detail"),
)
