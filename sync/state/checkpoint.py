"""Copying a big transaction's WAL back into the SQLite file beside the work that follows, not in its commit.

SQLite checkpoints on the commit that leaves the WAL past `wal_autocheckpoint` pages, on the committing
thread: after a cycle's commit (a gigabyte and more of WAL at 100k leads) that copy held up the send that
follows for seconds. A transaction marked `checkpoint_behind` commits with the automatic checkpoint off;
a thread with its own connection then runs a passive checkpoint (SQLite's own locking keeps it safe beside
the store's connection, and the driver lets go of the GIL while SQLite works), and the automatic
checkpoint is back on for the next transaction. Should the thread fail or be slow, nothing is lost: the
WAL is durable as it is, and the next commit's automatic checkpoint does the copy.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

log = logging.getLogger("leadq.state")

AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, restored after each transaction checkpointed behind


class BehindCheckpoint:
    """At most one background checkpoint of one SQLite file at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0  # checkpoints finished (for tests and tools)

    @staticmethod
    def pause(dbapi_connection: Any) -> None:
        """Turn the automatic checkpoint off on the connection about to commit a big transaction."""
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    def resume(self, dbapi_connection: Any) -> None:
        """Turn the automatic checkpoint back on and start the background one (once the last is done)."""
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return  # the running one copies what it finds; the next commit's automatic one the rest
            self._thread = threading.Thread(target=self._run, name="leadq-wal-checkpoint", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background checkpoint, if one runs."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                connection.close()
            self.runs += 1
        except sqlite3.Error as exc:  # the next commit's automatic checkpoint covers for it
            log.warning(
                "background WAL checkpoint of %s failed (the next commit does it): %s", self.path, exc
            )
