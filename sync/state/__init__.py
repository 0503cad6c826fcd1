"""The state store: what leadq remembers between cycles (SQLAlchemy over SQLite or PostgreSQL).

Open it with `StateStore.open(url)`, which also migrates the schema with the Alembic revisions shipped in
`sync/state/migrations/`.
"""

from __future__ import annotations

from sync.state.columns import as_utc, utcnow
from sync.state.migrate import current_revision, head_revision, upgrade
from sync.state.records import (
    Label,
    LabelSource,
    LedgerEntry,
    LedgerState,
    ModelEntry,
    ModelRole,
    OutboxItem,
    OutboxKind,
    OutboxState,
    Override,
    ReviewState,
    ReviewTask,
    Run,
    ScoreRecord,
    Snapshot,
)
from sync.state.store import DEFAULT_DB_NAME, StateStore, content_hash, default_url
from sync.state.writes import json_equal

__all__ = [
    "DEFAULT_DB_NAME",
    "Label",
    "LabelSource",
    "LedgerEntry",
    "LedgerState",
    "ModelEntry",
    "ModelRole",
    "OutboxItem",
    "OutboxKind",
    "OutboxState",
    "Override",
    "ReviewState",
    "ReviewTask",
    "Run",
    "ScoreRecord",
    "Snapshot",
    "StateStore",
    "as_utc",
    "content_hash",
    "current_revision",
    "default_url",
    "head_revision",
    "json_equal",
    "upgrade",
    "utcnow",
]
