"""`StateStore`: everything leadq remembers between cycles, behind typed methods.

Threading: the daemon runs one cycle at a time on one thread, and that thread is the store's only writer.
A unit of work belongs to the thread that opened it (`transaction()`), so a second thread (a metrics
endpoint, say) may read through the same store without joining the daemon's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, delete, select
from sqlalchemy.engine import make_url

from sync.state.base import Clock, prepare_sqlite, to_record
from sync.state.bulk import BulkMixin
from sync.state.columns import JSONValue, utcnow
from sync.state.decisions import DecisionsMixin
from sync.state.migrate import upgrade
from sync.state.models import CursorRow, RunRow, SnapshotRow
from sync.state.records import Run, Snapshot
from sync.state.review_bulk import ReviewBulkMixin
from sync.state.writes import WritesMixin

DEFAULT_DB_NAME = "leadq.db"


def default_url(config_path: Path) -> str:
    """The default database: an SQLite file `leadq.db` next to the config file."""
    return f"sqlite:///{config_path.resolve().parent / DEFAULT_DB_NAME}"


def content_hash(values: JSONValue) -> str:
    """A stable SHA-256 of mapped values (key order and whitespace do not matter)."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class StateStore(WritesMixin, DecisionsMixin, BulkMixin, ReviewBulkMixin):
    """The state store: cursors, snapshots, ledger, outbox, runs, audit, reviews, overrides, labels,
    model index and score history, on SQLite or PostgreSQL.

    Every method joins the calling thread's active `transaction()` if there is one, else commits on its
    own. Datetimes must be timezone-aware and come back in UTC. Open it with `StateStore.open(url)`.
    """

    @classmethod
    def open(cls, url: str, *, clock: Clock = utcnow, migrate: bool = True, echo: bool = False) -> StateStore:
        """Connect to `url` (e.g. `sqlite:///path/leadq.db`, `postgresql+psycopg://...`) and, unless
        `migrate` is False, upgrade the schema to the newest revision shipped with leadq.

        A missing SQLite file (and its folder) is created.
        """
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        if is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, pool_pre_ping=not is_sqlite)
        if is_sqlite:
            prepare_sqlite(engine)
        if migrate:
            upgrade(engine)
        return cls(engine, clock)

    # ---- cursors -----------------------------------------------------------------------------------

    def get_cursor(self, crm: str, obj: str) -> dict[str, JSONValue] | None:
        """The saved pull cursor of one CRM object (`{"value": iso}`), or None before the first pull."""
        with self.session() as s:
            row = s.get(CursorRow, (crm, obj))
            return None if row is None else dict(row.cursor)

    def set_cursor(self, crm: str, obj: str, cursor: dict[str, JSONValue]) -> None:
        """Save the pull cursor of one CRM object (only once the cycle's writes are durable)."""
        now = self.now()
        with self.session() as s:
            row = s.get(CursorRow, (crm, obj))
            if row is None:
                s.add(CursorRow(crm=crm, object=obj, cursor=dict(cursor), updated_at=now))
            else:
                row.cursor = dict(cursor)
                row.updated_at = now

    # ---- snapshots ---------------------------------------------------------------------------------

    def put_snapshot(
        self,
        crm: str,
        obj: str,
        record_id: str,
        values: JSONValue,
        *,
        modified_at: datetime | None = None,
        digest: str | None = None,
    ) -> Snapshot:
        """Save the mapped values of a record as just pulled; `digest` defaults to `content_hash(values)`."""
        now = self.now()
        with self.session() as s:
            row = s.get(SnapshotRow, (crm, obj, record_id))
            if row is None:
                row = SnapshotRow(crm=crm, object=obj, record_id=record_id)
                s.add(row)
            row.values = values
            row.content_hash = digest if digest is not None else content_hash(values)
            row.modified_at = None if modified_at is None else self._at(modified_at)
            row.pulled_at = now
            s.flush()
            return to_record(Snapshot, row)

    def get_snapshot(self, crm: str, obj: str, record_id: str) -> Snapshot | None:
        """The last pulled snapshot of one record."""
        with self.session() as s:
            row = s.get(SnapshotRow, (crm, obj, record_id))
            return None if row is None else to_record(Snapshot, row)

    def get_snapshots(self, crm: str, obj: str, record_ids: Iterable[str]) -> dict[str, Snapshot]:
        """The snapshots of many records of one object, by record id (missing ones are absent)."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, Snapshot] = {}
        with self.session() as s:
            # Chunked: SQLite and drivers cap the number of bound parameters in one statement.
            for start in range(0, len(ids), 500):
                query = select(SnapshotRow).where(
                    SnapshotRow.crm == crm,
                    SnapshotRow.object == obj,
                    SnapshotRow.record_id.in_(ids[start : start + 500]),
                )
                found.update({row.record_id: to_record(Snapshot, row) for row in s.scalars(query)})
        return found

    def delete_snapshot(self, crm: str, obj: str, record_id: str) -> bool:
        """Forget a record's snapshot (the record was deleted in the CRM); True if there was one."""
        query = delete(SnapshotRow).where(
            SnapshotRow.crm == crm, SnapshotRow.object == obj, SnapshotRow.record_id == record_id
        )
        with self.session() as s:
            return bool(s.execute(query).rowcount)  # type: ignore[attr-defined]

    # ---- runs --------------------------------------------------------------------------------------

    def start_run(self, started_at: datetime | None = None) -> Run:
        """Record the start of a cycle (status `running`)."""
        row = RunRow(started_at=self._at(started_at), status="running")
        with self.session() as s:
            s.add(row)
            s.flush()
            return to_record(Run, row)

    def finish_run(
        self, run_id: int, status: str, report: JSONValue, finished_at: datetime | None = None
    ) -> Run:
        """Record how a cycle ended (`succeeded`, `partial`, `failed`, ...) and its report."""
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise KeyError(run_id)
            row.status = status
            row.report = report
            row.finished_at = self._at(finished_at)
            s.flush()
            return to_record(Run, row)

    def get_run(self, run_id: int) -> Run | None:
        """One run by id."""
        with self.session() as s:
            row = s.get(RunRow, run_id)
            return None if row is None else to_record(Run, row)

    def recent_runs(self, limit: int = 20) -> list[Run]:
        """The latest runs, newest first."""
        query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
        with self.session() as s:
            return [to_record(Run, row) for row in s.scalars(query)]
