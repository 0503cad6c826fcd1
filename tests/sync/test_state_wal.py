"""The state store's WAL checkpoints: off the committing connection, bounded, and no risk to what committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

import sync
from sync.state import StateStore, upgrade
from sync.state.base import prepare_sqlite
from sync.state.wal import WAL_BACKSTOP_BYTES, WAL_KEEP_BYTES, WalCheckpointer
from tests.sync.test_state_support import FakeClock

REPO = Path(sync.__file__).resolve().parents[1]


def _pragma(store: StateStore, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar_one()


def _wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _audit_batch(n: int, tag: str) -> list[dict[str, object]]:
    """`n` audit entries shaped like the send's `fields_written` entries (a few hundred bytes each)."""
    return [
        {"actor": "leadq", "action": "fields_written", "crm": "salesforce", "obj": "Lead",
         "record_id": f"{tag}-{i}", "field": None, "old": {"LeadQ_Score__c": None},
         "new": {"LeadQ_Score__c": i % 100, "LeadQ_Reasons__c": f"reason {tag} {i} " * 8}}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture()
def small_store(tmp_path: Path) -> Iterator[tuple[StateStore, WalCheckpointer, Path]]:
    """A file store whose backstop is 256 KB (so a test can pass it) and whose checkpointer never idles."""
    db = tmp_path / "leadq.db"
    engine = create_engine(f"sqlite:///{db}")
    wal = prepare_sqlite(engine, backstop_bytes=256 * 1024, idle_seconds=3600)
    assert wal is not None
    upgrade(engine)
    store = StateStore(engine, FakeClock(), wal)
    try:
        yield store, wal, db
    finally:
        store.close()


# ---- connection set-up ---------------------------------------------------------------------------


def test_a_file_store_raises_the_autocheckpoint_and_caps_the_wal_on_every_connection(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}")
    try:
        page_size = int(str(_pragma(store, "page_size")))
        with store.engine.connect() as first, store.engine.connect() as second:
            for conn in (first, second):
                assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == (
                    WAL_BACKSTOP_BYTES // page_size
                )
                assert conn.execute(text("PRAGMA journal_size_limit")).scalar_one() == WAL_KEEP_BYTES
    finally:
        store.close()


def test_an_in_memory_store_keeps_sqlites_checkpoint_defaults_and_gets_no_checkpointer() -> None:
    engine = create_engine("sqlite://")
    assert prepare_sqlite(engine) is None
    upgrade(engine)
    store = StateStore(engine, FakeClock())
    try:
        with store.transaction():
            store.set_cursor("salesforce", "Lead", {"value": "x"})
        assert _pragma(store, "wal_autocheckpoint") == 1000  # SQLite's default: nothing was changed
        assert _pragma(store, "journal_size_limit") == -1
    finally:
        store.close()


# ---- the checkpointer thread -----------------------------------------------------------------------


def test_a_commit_starts_the_checkpointer_and_close_stops_it_leaving_no_wal(
    small_store: tuple[StateStore, WalCheckpointer, Path],
) -> None:
    store, wal, db = small_store
    with store.transaction():
        store.audit_many(_audit_batch(200, "a"))
    assert wal.running
    store.close()
    assert not wal.running
    assert wal.checkpoints >= 1  # the closing checkpoint at least
    assert _wal_size(db) == 0  # checkpointed and removed by SQLite as the last connection closed
    wal.nudge()  # after close: nothing starts again
    assert not wal.running


def test_an_idle_checkpointer_copies_the_whole_wal_and_ends_its_thread(tmp_path: Path) -> None:
    db = tmp_path / "leadq.db"
    engine = create_engine(f"sqlite:///{db}")
    wal = prepare_sqlite(engine, idle_seconds=0.01)
    assert wal is not None
    upgrade(engine)
    store = StateStore(engine, FakeClock(), wal)
    ended = threading.Event()
    try:
        with store.transaction():
            store.audit_many(_audit_batch(300, "idle"))
        # Waits for the thread to end on its own (no duration asserted: only that it happens).
        for _ in range(6000):
            if not wal.running:
                ended.set()
                break
            ended.wait(0.01)
        assert ended.is_set()
        assert wal.last_result is not None
        busy, frames, copied = wal.last_result
        assert (busy, copied) == (0, frames) and frames > 0
        before = wal.checkpoints
        with store.transaction():  # and the next commit starts it again
            store.set_cursor("salesforce", "Lead", {"value": "again"})
        assert store.get_cursor("salesforce", "Lead") == {"value": "again"}
    finally:
        store.close()
    assert not wal.running
    assert wal.checkpoints > before


def test_a_checkpointer_on_a_database_not_in_wal_mode_gives_up_and_stays_stopped(tmp_path: Path) -> None:
    db = tmp_path / "rollback.db"
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA journal_mode=DELETE")
    setup.execute("CREATE TABLE t (x)")
    setup.commit()
    setup.close()
    wal = WalCheckpointer(lambda: sqlite3.connect(db, check_same_thread=False))
    wal.nudge()
    wal.close()  # joins the thread, which gave up on its own
    assert wal.disabled
    assert not wal.running
    assert wal.checkpoints == 0


# ---- bounds -------------------------------------------------------------------------------------


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=50, max_value=400), min_size=40, max_size=80))
def test_the_wal_stays_bounded_over_many_back_to_back_commits(
    small_store: tuple[StateStore, WalCheckpointer, Path], sizes: list[int]
) -> None:
    store, _wal, db = small_store
    for n, size in enumerate(sizes):
        with store.transaction():
            store.audit_many(_audit_batch(size, f"b{n}"))
        # The 256 KB backstop plus the transaction that crossed it (400 entries stay well under 512 KB);
        # unbounded, the 40+ transactions of 50+ entries each would pass it several times over.
        assert _wal_size(db) <= 768 * 1024, (n, size, _wal_size(db))
    assert _pragma(store, "integrity_check") == "ok"


def test_the_wal_file_shrinks_back_to_the_cap_after_one_very_large_transaction(tmp_path: Path) -> None:
    db = tmp_path / "leadq.db"
    engine = create_engine(f"sqlite:///{db}")
    wal = prepare_sqlite(engine, idle_seconds=3600)
    assert wal is not None
    upgrade(engine)
    store = StateStore(engine, FakeClock(), wal)
    try:
        with store.engine.connect() as conn:  # a low cap so the test need not write 64 MB
            conn.exec_driver_sql("PRAGMA journal_size_limit=65536")
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1")
            conn.commit()
            conn.exec_driver_sql("CREATE TABLE big (x)")
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                "INSERT INTO big SELECT randomblob(1000) FROM n"
            )
            conn.commit()  # checkpoints itself (autocheckpoint 1): every frame is copied
            grown = _wal_size(db)
            conn.exec_driver_sql("INSERT INTO big VALUES (1)")
            conn.commit()  # starts the log over, and trims the file to the cap
        assert grown > 1_000_000
        assert _wal_size(db) <= 65536 + 8192
    finally:
        store.close()


# ---- readers and crashes -------------------------------------------------------------------------


def test_a_reader_on_another_connection_sees_commits_while_the_checkpointer_runs(
    small_store: tuple[StateStore, WalCheckpointer, Path],
) -> None:
    store, wal, db = small_store
    reader = StateStore.open(f"sqlite:///{db}", migrate=False)
    raw = sqlite3.connect(db)
    try:
        with store.transaction():
            store.set_cursor("salesforce", "Lead", {"value": "one"})
        raw.execute("BEGIN")  # an open snapshot, as a long `leadq history` read holds one
        assert raw.execute("SELECT count(*) FROM cursors").fetchone() == (1,)
        for n in range(20):
            with store.transaction():
                store.audit_many(_audit_batch(100, f"r{n}"))
                store.set_cursor("salesforce", f"Obj{n}", {"value": n})
            assert reader.get_cursor("salesforce", f"Obj{n}") == {"value": n}
        assert raw.execute("SELECT count(*) FROM cursors").fetchone() == (1,)  # its snapshot held
        raw.execute("COMMIT")
        assert raw.execute("SELECT count(*) FROM cursors").fetchone() == (21,)
        assert wal.running
    finally:
        raw.close()
        reader.close()


def test_checkpoints_never_fail_a_transaction_that_read_before_it_writes(
    small_store: tuple[StateStore, WalCheckpointer, Path],
) -> None:
    """A checkpoint that started the WAL over (RESTART/TRUNCATE) would fail this write with
    SQLITE_BUSY_SNAPSHOT: the transaction began reading with the WAL fully copied."""
    store, wal, db = small_store
    other = StateStore.open(f"sqlite:///{db}", migrate=False)  # `leadq history` in another process, say
    with store.transaction():
        store.set_cursor("salesforce", "Lead", {"value": "before"})
    assert other.get_cursor("salesforce", "Lead") == {"value": "before"}  # starts its checkpointer too
    raw = sqlite3.connect(db)
    try:  # everything copied (busy while one of the checkpointers is at it: then again)
        results = (raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone() for _ in range(10_000))
        assert any(busy == 0 and frames == copied for busy, frames, copied in results)
    finally:
        raw.close()
    with store.transaction():
        assert store.get_cursor("salesforce", "Lead") == {"value": "before"}
        other.close()  # its last checkpoint, and the store's own, run while this transaction is open
        wal.close()
        store.set_cursor("salesforce", "Lead", {"value": "after"})
    assert store.get_cursor("salesforce", "Lead") == {"value": "after"}


CHILD = textwrap.dedent(
    """
    import sys
    from sync.state import StateStore

    store = StateStore.open(sys.argv[1])
    n = 0
    while True:  # commits until killed, the checkpointer copying behind it
        with store.transaction():
            store.set_cursor("salesforce", f"Obj{n}", {"value": n})
            store.audit_many([{"actor": "leadq", "action": "fields_written", "record_id": f"{n}-{i}",
                               "new": {"reason": "x" * 300}} for i in range(200)])
        print(n, flush=True)
        n += 1
    """
)


def test_commits_survive_a_sigkill_of_the_process_that_made_them(tmp_path: Path) -> None:
    db = tmp_path / "leadq.db"
    url = f"sqlite:///{db}"
    StateStore.open(url).close()  # migrated up front, so the child only commits
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    assert child.stdout is not None
    try:
        last = -1
        while last < 40:
            line = child.stdout.readline()
            assert line, "the child ended before it was killed"
            last = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    store = StateStore.open(url)
    try:
        for n in range(last + 1):
            assert store.get_cursor("salesforce", f"Obj{n}") == {"value": n}
        assert _pragma(store, "integrity_check") == "ok"
    finally:
        store.close()
