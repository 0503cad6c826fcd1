"""How the store sets up its SQLite connections: WAL, and the commit durability that goes with it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from sync.state import StateStore
from sync.state.base import WAL_SIZE_LIMIT


def _pragma(store: StateStore, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar_one()


def test_a_file_store_runs_in_wal_with_synchronous_normal(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}")
    try:
        assert _pragma(store, "journal_mode") == "wal"
        assert _pragma(store, "synchronous") == 1  # NORMAL
        # Every pooled connection gets it, not only the first one (the pragma is per connection).
        with store.engine.connect() as first, store.engine.connect() as second:
            assert first.execute(text("PRAGMA synchronous")).scalar_one() == 1
            assert second.execute(text("PRAGMA synchronous")).scalar_one() == 1
    finally:
        store.close()


def test_commits_on_a_file_store_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadq.db'}"
    store = StateStore.open(url)
    try:
        with store.transaction():
            store.set_cursor("salesforce", "Lead", {"value": "2025-03-01T12:00:00Z"})
    finally:
        store.close()
    again = StateStore.open(url)
    try:
        assert again.get_cursor("salesforce", "Lead") == {"value": "2025-03-01T12:00:00Z"}
    finally:
        again.close()


def test_an_in_memory_store_keeps_the_default_journal(tmp_path: Path) -> None:
    store = StateStore.open("sqlite://")
    try:
        assert _pragma(store, "journal_mode") == "memory"
        assert _pragma(store, "synchronous") == 2  # FULL, SQLite's default: nothing was changed
    finally:
        store.close()


def test_the_wal_file_shrinks_back_after_a_large_commit(tmp_path: Path) -> None:
    """A full cycle at 1M leads commits ~12 GB in one transaction; the WAL file must not stay that size."""
    store = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}")
    wal = tmp_path / "leadq.db-wal"
    big = WAL_SIZE_LIMIT + 16 * 1024 * 1024
    try:
        with store.engine.begin() as conn:
            conn.execute(text("CREATE TABLE scratch (blob BLOB)"))
            conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) "
                    "INSERT INTO scratch SELECT randomblob(65536) FROM n"
                ),
                {"rows": big // 65536},
            )
        assert wal.stat().st_size > big  # the transaction went through the WAL
        with store.transaction():  # the next write starts the WAL over, and trims the file
            store.set_cursor("salesforce", "Lead", {"value": "2025-03-01T12:00:00Z"})
        assert wal.stat().st_size <= WAL_SIZE_LIMIT
        assert _pragma(store, "journal_size_limit") == WAL_SIZE_LIMIT
    finally:
        store.close()
