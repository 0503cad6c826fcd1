"""Engine, sessions and transactions of the state store (the part every table's methods share)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from sync.state.columns import as_utc, utcnow
from sync.state.wal import IDLE_SECONDS, WAL_BACKSTOP_BYTES, WAL_KEEP_BYTES, WalCheckpointer

T = TypeVar("T")

Clock = Callable[[], datetime]


def to_record(cls: type[T], row: object) -> T:
    """Copy the ORM row's attributes named like the dataclass `cls`'s fields into a new `cls`."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: getattr(row, name) for name in names})


def prepare_sqlite(
    engine: Engine, *, backstop_bytes: int = WAL_BACKSTOP_BYTES, idle_seconds: float = IDLE_SECONDS
) -> WalCheckpointer | None:
    """Make pysqlite transactional in the SQL sense, and let readers run beside the daemon; for a file
    database, the `WalCheckpointer` the store must nudge after commits and stop when it closes.
    `backstop_bytes` and `idle_seconds` (see `WAL_BACKSTOP_BYTES` and `WalCheckpointer`) are for tests.

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

    Checkpoints (copying the WAL's pages into the database file) run on the checkpointer's own thread and
    connection; the store's connections only checkpoint past `WAL_BACKSTOP_BYTES`. Where a checkpoint runs
    changes nothing of the above: a commit is durable once it is in the WAL, and a checkpoint killed
    half-way is redone from the WAL when the database is next opened.
    """
    file_database = engine.url.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if file_database:
            cursor = dbapi_connection.cursor()
            (mode,) = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            # Per connection (not stored in the file). NORMAL is safe in WAL only (see the docstring); a
            # file system that cannot do WAL keeps the rollback journal and the default, FULL.
            if str(mode).lower() == "wal":
                (page_size,) = cursor.execute("PRAGMA page_size").fetchone()
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA wal_autocheckpoint={max(1, backstop_bytes // int(page_size))}")
                cursor.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    if not file_database:
        return None
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    dbapi = engine.dialect.loaded_dbapi

    def connect() -> sqlite3.Connection:
        # Its own plain connection, outside the pool: it must not take a connection the store needs.
        connection: sqlite3.Connection = dbapi.connect(*args, **{**kwargs, "check_same_thread": False})
        connection.isolation_level = None
        return connection

    return WalCheckpointer(connect, idle_seconds=idle_seconds)


class StoreBase:
    """Session plumbing: one unit of work per thread, joined by every store call made inside it."""

    def __init__(self, engine: Engine, clock: Clock = utcnow, wal: WalCheckpointer | None = None) -> None:
        self._engine = engine
        self._wal = wal
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._local = threading.local()

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
    def transaction(self) -> Iterator[Session]:
        """A unit of work: every store call inside it commits together at the end, or not at all.

        An exception leaving the block rolls everything back (the outbox and ledger of a batch are never
        half-written). Nested `transaction()` blocks join the outer one rather than committing early.
        """
        active: Session | None = getattr(self._local, "session", None)
        if active is not None:
            yield active
            return
        with self._sessions.begin() as session:
            self._local.session = session
            try:
                yield session
            finally:
                self._local.session = None
        if self._wal is not None:
            self._wal.nudge()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The session of the active `transaction()`, or a new one committed when the block ends.

        For ad hoc queries on the ORM models; store methods use it too, which is how they join a
        surrounding transaction.
        """
        with self.transaction() as session:
            yield session

    def close(self) -> None:
        """Stop the WAL checkpointer (after a last checkpoint) and release the engine's connections (the
        store can no longer be used)."""
        if self._wal is not None:
            self._wal.close()
        self._engine.dispose()
