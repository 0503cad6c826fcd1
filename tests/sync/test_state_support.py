"""Shared helpers of the state store tests: one store per test on SQLite, or PostgreSQL when configured.

Set `LEADQ_TEST_POSTGRES_URL` (for example `postgresql+psycopg://postgres@127.0.0.1:5432/leadq_test`) to
run every store test on PostgreSQL as well; each test then gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from sync.state import StateStore

POSTGRES_URL = os.environ.get("LEADQ_TEST_POSTGRES_URL", "")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="LEADQ_TEST_POSTGRES_URL is not set"),
    ),
]

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    current: datetime = field(default=T0)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on `backend`, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'leadq.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def open_store(backend: str, tmp_path: Path, clock: FakeClock | None = None) -> Iterator[StateStore]:
    """A migrated, empty store on `backend`."""
    with database_url(backend, tmp_path) as url:
        store = StateStore.open(url, clock=clock or FakeClock())
        try:
            yield store
        finally:
            store.close()
