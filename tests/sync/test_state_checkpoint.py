"""A transaction marked `checkpoint_behind` commits without copying its WAL into the database file; a
background thread does the copy, and the automatic checkpoint is on again for the next transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text

from sync.state import StateStore
from sync.state.bulk import SnapshotPut
from sync.state.checkpoint import AUTOCHECKPOINT_PAGES, BehindCheckpoint


class SizeAtCommit(BehindCheckpoint):
    """Notes the database file's size when the commit is done, before the background copy starts."""

    size: int | None = None

    def resume(self, dbapi_connection: Any) -> None:
        self.size = Path(self.path).stat().st_size
        super().resume(dbapi_connection)


def _puts(n: int, tag: str) -> list[SnapshotPut]:
    # ~10 MB of records: past the automatic checkpoint's 1000 pages (4 MB).
    return [SnapshotPut(f"{tag}{i:06d}", {"Subject": "x" * 400, "i": i}, f"h{i}", None) for i in range(n)]


def _store(tmp_path: Path) -> tuple[StateStore, Path]:
    path = tmp_path / "leadq.db"
    return StateStore.open(f"sqlite:///{path}"), path


def test_the_commit_leaves_the_copy_to_the_background_and_the_copy_happens(tmp_path: Path) -> None:
    store, path = _store(tmp_path)
    recording = SizeAtCommit(str(path))
    store._behind = recording  # the hook the store calls at checkin
    before = path.stat().st_size
    with store.transaction(checkpoint_behind=True):
        store.put_snapshots("salesforce", "Task", _puts(20_000, "t"))
    recording.wait(timeout=60)
    assert recording.size == before  # committed: every new page still only in the WAL
    assert recording.runs == 1
    assert path.stat().st_size > before + 5_000_000  # copied back by the thread
    with sqlite3.connect(path) as raw:
        busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == copied
    with store.session() as s:  # the connection that committed checkpoints by itself again
        assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == AUTOCHECKPOINT_PAGES
    assert len(store.snapshot_hashes("salesforce", "Task", ["t000000", "t019999"])) == 2
    store.close()


def test_an_ordinary_transaction_checkpoints_in_its_commit(tmp_path: Path) -> None:
    store, path = _store(tmp_path)
    recording = SizeAtCommit(str(path))
    store._behind = recording
    before = path.stat().st_size
    with store.transaction():
        store.put_snapshots("salesforce", "Task", _puts(20_000, "t"))
    assert path.stat().st_size > before + 5_000_000  # SQLite's automatic checkpoint, at the commit
    assert recording.size is None and recording.runs == 0
    store.close()


def test_a_failed_transaction_leaves_the_automatic_checkpoint_on(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    try:
        with store.transaction(checkpoint_behind=True):
            store.put_snapshots("salesforce", "Task", _puts(10, "t"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.session() as s:
        assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == AUTOCHECKPOINT_PAGES
    assert store.snapshot_hashes("salesforce", "Task", ["t000000"]) == {}
    store.close()


def test_in_memory_and_nested_transactions_ignore_the_mark(tmp_path: Path) -> None:
    memory = StateStore.open("sqlite:///:memory:")
    with memory.transaction(checkpoint_behind=True):
        memory.put_snapshots("salesforce", "Task", _puts(10, "m"))
    assert len(memory.snapshot_hashes("salesforce", "Task", ["m000000"])) == 1
    memory.close()
    store, path = _store(tmp_path)
    recording = SizeAtCommit(str(path))
    store._behind = recording
    with store.transaction(), store.transaction(checkpoint_behind=True):  # joins the outer one
        store.put_snapshots("salesforce", "Task", _puts(10, "n"))
    assert recording.size is None
    store.close()
