"""Engine, sessions and transactions of the state store (the part every table's methods share)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from sync.state.checkpoint import BehindCheckpoint
from sync.state.columns import as_utc, utcnow

T = TypeVar("T")

Clock = Callable[[], datetime]


def to_record(cls: type[T], row: object) -> T:
    """Copy the ORM row's attributes named like the dataclass `cls`'s fields into a new `cls`."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: getattr(row, name) for name in names})


WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of WAL file kept once a checkpoint has emptied it
_RESUME = "leadq_checkpoint_behind"  # a connection's info key: resume the automatic checkpoint at checkin


def prepare_sqlite(engine: Engine) -> None:
    """Make pysqlite transactional in the SQL sense, and let readers run beside the daemon.

    By default the driver begins a transaction lazily before the first write, so reads inside a unit of
    work are not isolated and SAVEPOINT misbehaves; SQLAlchemy's documented remedy is to turn the driver's
    handling off and emit BEGIN ourselves. WAL lets `leadq history` read while the daemon writes.

    A file database also runs with `synchronous=NORMAL`: in WAL mode that syncs at checkpoints rather than
    at every commit (the default, FULL, cost ~22 ms a commit and a cycle commits hundreds of times). A
    killed process (the chaos suite SIGKILLs the daemon) still loses nothing committed, because the commit
    is in the WAL file, which the operating system keeps; only an OS crash or power loss can drop the
    last commits. The database stays consistent then, as if the daemon had been killed right after the
    last commit that survived, which is the crash the outbox recovers from: sent items are requeued, the
    pull cursor only ever follows durable writes, and re-sent writes carry their idempotency keys, so the
    CRM sees no duplicates.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if engine.url.database not in (None, "", ":memory:"):
            cursor = dbapi_connection.cursor()
            (mode,) = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            # Per connection (not stored in the file). NORMAL is safe in WAL only (see the docstring); a
            # file system that cannot do WAL keeps the rollback journal and the default, FULL.
            if str(mode).lower() == "wal":
                cursor.execute("PRAGMA synchronous=NORMAL")
                # A cycle's commit is one transaction (gigabytes of WAL at 1M leads); without a limit the
                # WAL file keeps that size on disk for good after the checkpoint has copied it back.
                cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


class StoreBase:
    """Session plumbing: one unit of work per thread, joined by every store call made inside it."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._local = threading.local()
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._behind = BehindCheckpoint(path) if path not in (None, "", ":memory:") else None
        if self._behind is not None:
            event.listen(engine, "checkin", self._on_checkin)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests; store methods are the supported interface)."""
        return self._engine

    def now(self) -> datetime:
        """The store's clock, timezone-aware UTC."""
        return as_utc(self._clock())

    def _at(self, value: datetime | None) -> datetime:
        return self.now() if value is None else as_utc(value)

    @contextmanager
    def transaction(self, *, checkpoint_behind: bool = False) -> Iterator[Session]:
        """A unit of work: every store call inside it commits together at the end, or not at all.

        An exception leaving the block rolls everything back (the outbox and ledger of a batch are never
        half-written). Nested `transaction()` blocks join the outer one rather than committing early.
        `checkpoint_behind` (a SQLite file; for a big transaction) leaves copying its WAL back into the
        database to a background thread, so the commit returns at once (see `sync.state.checkpoint`).
        """
        active: Session | None = getattr(self._local, "session", None)
        if active is not None:
            yield active
            return
        behind = self._behind if checkpoint_behind else None
        with self._sessions.begin() as session:
            self._local.session = session
            try:
                if behind is not None:
                    connection = session.connection()
                    behind.pause(connection.connection.dbapi_connection)
                    # Back on (and the copy started) as the connection returns to the pool: after the
                    # commit, before any other thread can take the connection.
                    connection.info[_RESUME] = True
                yield session
            finally:
                self._local.session = None

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        resume = record is not None and record.info.pop(_RESUME, False)
        if resume and dbapi_connection is not None and self._behind is not None:
            self._behind.resume(dbapi_connection)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The session of the active `transaction()`, or a new one committed when the block ends.

        For ad hoc queries on the ORM models; store methods use it too, which is how they join a
        surrounding transaction.
        """
        with self.transaction() as session:
            yield session

    def close(self) -> None:
        """Release the engine's connections (the store can no longer be used)."""
        if self._behind is not None:
            self._behind.wait()
        self._engine.dispose()
