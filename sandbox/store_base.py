"""The SQLite connection under the sandbox store: one connection, one re-entrant lock, one clock.

`sandbox.store.Store` builds on this with the Salesforce tables and `sandbox.store_hubspot` with the
HubSpot ones. All access is serialised by the lock: the sandbox favours faithfulness over concurrency.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sandbox.clock import Clock


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

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one SQLite transaction (a nested block joins the outer one)."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
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
        """Close the connection; the store is unusable afterwards."""
        with self.lock:
            self.conn.close()
