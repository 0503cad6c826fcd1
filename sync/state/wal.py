"""Checkpointing a WAL database off the commit path (SQLite file stores only)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger("leadq.state")


IDLE_SECONDS = 5.0
"""After this long without a commit the checkpointer's thread ends (until the next commit)."""


class WalCheckpointer:
    """Checkpoints a WAL database on a daemon thread with its own connection, so commits never wait for it.

    `nudge()` after each committed transaction wakes the thread (starting it if needed); it runs a PASSIVE
    checkpoint, which copies the committed pages into the database file without blocking the writer or
    readers, then lets commits gather for `gap_seconds` before the next one. After `idle_seconds` without
    a commit, or on `close()`, it checkpoints once more and the thread ends: an idle daemon, or a store
    nobody closed, keeps no thread.

    SQLite starts the WAL over (from the start of the file, trimmed to `WAL_KEEP_BYTES`) when a write
    transaction begins with every frame already copied, which these checkpoints make the rule whenever
    the writer pauses; a writer committing back to back, or a thread that falls behind or cannot run, is
    held to about `WAL_BACKSTOP_BYTES` by the store's connections checkpointing past it (copying only what
    this thread has not yet). When the last connection closes, SQLite checkpoints and removes the WAL.

    Only PASSIVE: a RESTART or TRUNCATE checkpoint from this connection would rewrite the WAL header under
    a transaction that began reading with the WAL fully copied (it holds no WAL read mark to wait for),
    and that transaction's first write would then fail with SQLITE_BUSY_SNAPSHOT ("database is locked"),
    in this process or in another one using the same file. A checkpoint error is logged and the next
    nudge tries again; it never reaches the committing thread.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        idle_seconds: float = IDLE_SECONDS,
        gap_seconds: float = 0.2,
    ) -> None:
        self._connect = connect
        self._idle = idle_seconds
        self._gap = gap_seconds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._disabled = False
        self.checkpoints = 0
        """Checkpoints run so far (for tests and diagnostics)."""
        self.last_result: tuple[int, int, int] | None = None
        """The last checkpoint's (busy, frames in the WAL, frames copied), as SQLite reports it."""

    @property
    def disabled(self) -> bool:
        """Whether the checkpointer gave up (no connection, or the database is not in WAL mode); the
        committing connections' backstop checkpoints then keep the WAL bounded on their own."""
        return self._disabled

    @property
    def running(self) -> bool:
        """Whether the checkpoint thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def nudge(self) -> None:
        """A transaction committed: checkpoint soon. Cheap enough to call after every commit."""
        self._wake.set()
        if self._thread is not None or self._disabled:
            return
        with self._lock:
            if self._thread is None and not self._disabled and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="leadq-wal-checkpoint", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the thread after a last checkpoint; later nudges do nothing."""
        with self._lock:
            self._stop.set()
            self._wake.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            self._give_up(f"cannot open its connection ({exc})")
            return
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                self._give_up(f"the database is in journal mode {mode!r}, not WAL")
                return
            while self._loop(connection):
                pass
        finally:
            connection.close()

    def _loop(self, connection: sqlite3.Connection) -> bool:
        """One wait and what follows it; False when the thread should end."""
        woken = self._wake.wait(self._idle)
        self._wake.clear()
        self._checkpoint(connection)
        if woken and not self._stop.is_set():
            self._stop.wait(self._gap)  # commits arriving meanwhile share the next checkpoint
            return True
        with self._lock:  # idle or closing
            if self._wake.is_set() and not self._stop.is_set():
                return True  # a commit came in meanwhile: keep going rather than start another thread
            self._thread = None
            return False

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (%s); the next commit tries again", exc)
            return
        self.checkpoints += 1
        self.last_result = (int(busy), int(frames), int(copied))

    def _give_up(self, why: str) -> None:
        log.warning("WAL checkpoints stay in the committing connection: the checkpointer %s", why)
        with self._lock:
            self._disabled = True
            self._thread = None


WAL_BACKSTOP_BYTES = 64 * 1024 * 1024
"""WAL size past which a committing connection checkpoints by itself (SQLite's `wal_autocheckpoint`).

SQLite's default, 1000 pages (~4 MB), made nearly every commit of the send phase copy its pages into the
database file and fsync it (~30-90 ms a commit) before returning. The `WalCheckpointer` does that work off
the commit path; this larger threshold only bounds the WAL if the checkpointer falls behind or is gone.
"""

WAL_KEEP_BYTES = 64 * 1024 * 1024
"""`journal_size_limit`: a WAL file grown past this (one very large transaction) is cut back to it when
SQLite next starts the log over, instead of keeping its high-water size on disk."""
