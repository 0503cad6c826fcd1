"""The SQLite connection under the sandbox store: one connection, one re-entrant lock, one clock.

`sandbox.store.Store` builds on this with the Salesforce tables and `sandbox.store_hubspot` with the
HubSpot ones. Writes and most reads are serialised by the lock: the sandbox favours faithfulness over
concurrency. Long query answers are the exception: a file-backed store hands out `ReadSnapshot`s, read-only
connections each holding one WAL snapshot open, which page through their rows without the lock while other
requests (writes included) go on.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sandbox.clock import Clock

SNAPSHOT_TTL_SECONDS = 15 * 60  # an idle query locator lives about 15 minutes on the real API
SNAPSHOT_WRITE_IDLE_SECONDS = 120.0
SNAPSHOT_MAX_OPEN = 64


class SnapshotExpired(Exception):
    """The snapshot was released (expired, evicted or closed) before this read."""


class ReadSnapshot:
    """One read-only connection inside one read transaction: every read sees the database as it was when the
    snapshot was taken, whatever was written since. Use it through `use()`, one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._clock = clock
        self._lock = threading.Lock()
        self.touched = clock()
        self.closed = False
        self._cursors: list[sqlite3.Cursor] = []

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """The connection, held for this thread; `SnapshotExpired` if it was released."""
        with self._lock:
            if self.closed:
                raise SnapshotExpired
            self.touched = self._clock()
            yield self._conn
            self.touched = self._clock()

    def track(self, cursor: sqlite3.Cursor) -> sqlite3.Cursor:
        """Keep `cursor` (a statement read a step at a time across calls) to be closed with the snapshot."""
        self._cursors.append(cursor)
        return cursor

    def close(self, *, wait: bool = True) -> bool:
        """End the read transaction and close the connection. With `wait=False` a snapshot in use is left
        alone (False is returned)."""
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            if not self.closed:
                self.closed = True
                # A half-read statement (a locator's keys) would keep the connection, and its read
                # transaction, alive past `close()`: the snapshot would go on pinning the WAL, which no
                # checkpoint could then reset (it grew by every write made after: tens of GB at 1M leads).
                for cursor in self._cursors:
                    cursor.close()
                self._cursors.clear()
                self._conn.close()
            return True
        finally:
            self._lock.release()


class Snapshots:
    """The open `ReadSnapshot`s of a file-backed store, bounded in number and age.

    An open snapshot keeps SQLite from checkpointing the WAL past it, so the WAL grows with every write made
    meanwhile. Hence: a snapshot idle for `ttl_seconds` is released; one idle for `write_idle_seconds` is
    released when a write begins (a locator left half-read, as a client does when it switches to Bulk API
    2.0, must not pin a whole write-back's WAL); and past `max_open` the least recently used idle ones go.
    """

    def __init__(
        self,
        path: str | None,
        *,
        ttl_seconds: float = SNAPSHOT_TTL_SECONDS,
        write_idle_seconds: float = SNAPSHOT_WRITE_IDLE_SECONDS,
        max_open: int = SNAPSHOT_MAX_OPEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.ttl_seconds = ttl_seconds
        self.write_idle_seconds = write_idle_seconds
        self.max_open = max_open
        self.clock = clock
        self._lock = threading.Lock()
        self._open: list[ReadSnapshot] = []

    def open(self) -> ReadSnapshot | None:
        """A new snapshot of the database as it is now, or None for an in-memory store (no second
        connection can see its data: callers read it under the store lock instead)."""
        if self.path is None:
            return None
        self.release_idle(self.ttl_seconds)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("BEGIN")
            # the read transaction, and with it the snapshot, starts at the first read
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        snap = ReadSnapshot(conn, self.clock)
        with self._lock:
            self._open.append(snap)
            over = len(self._open) - self.max_open
        if over > 0:
            self._release(sorted(self._open, key=lambda s: s.touched)[:over], wait=False)
        return snap

    def release_idle(self, idle_seconds: float) -> None:
        """Release the snapshots not used for `idle_seconds` (skipping any in use right now)."""
        if not self._open:
            return
        now = self.clock()
        with self._lock:
            stale = [s for s in self._open if now - s.touched >= idle_seconds]
        self._release(stale, wait=False)

    def before_write(self) -> None:
        """Called as a write transaction begins: release snapshots idle long enough to count as abandoned."""
        self.release_idle(min(self.write_idle_seconds, self.ttl_seconds))

    def close_all(self) -> None:
        with self._lock:
            snaps = list(self._open)
        self._release(snaps, wait=True)

    def __len__(self) -> int:
        with self._lock:
            self._open = [s for s in self._open if not s.closed]
            return len(self._open)

    def _release(self, snaps: list[ReadSnapshot], *, wait: bool) -> None:
        closed = [s for s in snaps if s.close(wait=wait)]
        with self._lock:
            self._open = [s for s in self._open if not s.closed and s not in closed]


WAL_SIZE_LIMIT = 64 * 1024 * 1024


class StoreBase:
    """An SQLite database (a file, or memory when `path` is None) tuned for a single local server."""

    def __init__(self, path: str | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.path = path
        self.conn = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=OFF")
        if path:  # a large org's bulk writes leave a WAL of gigabytes; keep the file small once checkpointed
            self.conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self.snapshots = Snapshots(path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one SQLite transaction (a nested block joins the outer one)."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.snapshots.before_write()
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def sql(self, statement: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Run one read statement under the lock."""
        with self.lock:
            return self.conn.execute(statement, params).fetchall()

    def close(self) -> None:
        """Close the connection and any open snapshot; the store is unusable afterwards."""
        self.snapshots.close_all()
        with self.lock:
            self.conn.close()
