"""The state store's tables (SQLAlchemy 2 declarative, portable across SQLite and PostgreSQL).

Enumerated columns are plain strings guarded by CHECK constraints rather than database enum types, so
adding a state later is a one-line migration on every backend. Every datetime column is `UTCDateTime`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sync.state.columns import JSONValue, UTCDateTime, json_type
from sync.state.records import (
    AUDIT_ACTORS_HINT,
    KINDS,
    LABEL_SOURCES,
    LEDGER_STATES,
    MODEL_ROLES,
    OUTBOX_STATES,
    REVIEW_STATES,
)

# Stable constraint names make later Alembic migrations (and SQLite batch mode) deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CRM = String(32)
NAME = String(64)
RECORD_ID = String(64)
KEY = String(255)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    # Spelled as equalities, not `IN (...)`: SQLite evaluates a CHECK's IN list of more than two constants
    # by building a temporary index of the list, again for every row an executemany inserts or updates,
    # which was half the cost of writing a ledger or outbox row. The two forms accept the same values.
    return " OR ".join(f"{column} = '{v}'" for v in values)


class Base(DeclarativeBase):
    """Declarative base; its `metadata` is what the Alembic migrations must reproduce."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CursorRow(Base):
    """The incremental-pull cursor per CRM and object, in the connector's shape (`{"value": iso}`)."""

    __tablename__ = "cursors"
    crm: Mapped[str] = mapped_column(CRM, primary_key=True)
    object: Mapped[str] = mapped_column(NAME, primary_key=True)
    cursor: Mapped[JSONValue] = mapped_column(json_type())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SnapshotRow(Base):
    """The last pulled mapped fields of one record (echo suppression and change detection)."""

    __tablename__ = "snapshots"
    crm: Mapped[str] = mapped_column(CRM, primary_key=True)
    object: Mapped[str] = mapped_column(NAME, primary_key=True)
    record_id: Mapped[str] = mapped_column(RECORD_ID, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    values: Mapped[JSONValue] = mapped_column(json_type())
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerRow(Base):
    """What leadq last planned and last confirmed writing to one field of one record."""

    __tablename__ = "ledger"
    __table_args__ = (CheckConstraint(_one_of("state", LEDGER_STATES), name="state"),)
    crm: Mapped[str] = mapped_column(CRM, primary_key=True)
    object: Mapped[str] = mapped_column(NAME, primary_key=True)
    record_id: Mapped[str] = mapped_column(RECORD_ID, primary_key=True)
    field: Mapped[str] = mapped_column(String(128), primary_key=True)
    old_value: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    new_value: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The planned value can move on while a send fails; human-edit detection needs the last value that
    # actually landed in the CRM.
    written_value: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The outbox item carrying the planned value. Once that item is done the field reads as written with
    # `new_value` (see `sync.state.ledger_view`): a landed send changes the item alone, not ~6 ledger
    # rows a record. NULL for a plan made without an item (and for rows older than revision 0003).
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OutboxRow(Base):
    """A planned CRM write, durable before it is sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("state", OUTBOX_STATES), name="state"),
        CheckConstraint(_one_of("kind", KINDS), name="kind"),
        Index(None, "state", "crm", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(CRM)
    kind: Mapped[str] = mapped_column(String(16))
    object: Mapped[str] = mapped_column(NAME)
    record_id: Mapped[str | None] = mapped_column(RECORD_ID, nullable=True)
    payload: Mapped[JSONValue] = mapped_column(json_type())
    idempotency_key: Mapped[str] = mapped_column(KEY, unique=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunRow(Base):
    """One sync cycle and its report."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    report: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)


class AuditRow(Base):
    """One append-only audit entry: who did what to which field, from which value to which."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128), doc=AUDIT_ACTORS_HINT)
    crm: Mapped[str | None] = mapped_column(CRM, nullable=True)
    object: Mapped[str | None] = mapped_column(NAME, nullable=True)
    record_id: Mapped[str | None] = mapped_column(RECORD_ID, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(128), nullable=True)
    old: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    new: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    model_version: Mapped[str | None] = mapped_column(NAME, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(NAME, nullable=True)
    detail: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)


class ReviewTaskRow(Base):
    """A review task leadq asked a person to complete in the CRM."""

    __tablename__ = "review_tasks"
    __table_args__ = (
        CheckConstraint(_one_of("state", REVIEW_STATES), name="state"),
        Index(None, "crm", "state"),
        Index(None, "crm", "lead_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(CRM)
    task_id: Mapped[str | None] = mapped_column(RECORD_ID, nullable=True)
    lead_id: Mapped[str] = mapped_column(RECORD_ID)
    idempotency_key: Mapped[str] = mapped_column(KEY, unique=True)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    detail: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OverrideRow(Base):
    """A reviewer's score override; it sticks until it expires or is cleared."""

    __tablename__ = "overrides"
    __table_args__ = (Index(None, "crm", "lead_id", "set_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(CRM)
    lead_id: Mapped[str] = mapped_column(RECORD_ID)
    score: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LabelRow(Base):
    """A training label for a lead, from an outcome (converted, won, lost) or a review decision."""

    __tablename__ = "labels"
    __table_args__ = (
        CheckConstraint("label IN (0, 1)", name="label"),
        CheckConstraint(_one_of("source", LABEL_SOURCES), name="source"),
        Index(None, "crm", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(CRM)
    lead_id: Mapped[str] = mapped_column(RECORD_ID)
    label: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)


class ModelRow(Base):
    """One model artifact the scoring package stored, and its role."""

    __tablename__ = "model_index"
    __table_args__ = (
        CheckConstraint(_one_of("role", MODEL_ROLES), name="role"),
        UniqueConstraint("crm", "version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(NAME)
    crm: Mapped[str] = mapped_column(CRM)
    segment: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    metrics: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ScoreRow(Base):
    """One score given to one lead (what `leadq history LEAD` shows)."""

    __tablename__ = "score_history"
    __table_args__ = (Index(None, "crm", "lead_id", "scored_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm: Mapped[str] = mapped_column(CRM)
    lead_id: Mapped[str] = mapped_column(RECORD_ID)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(8))
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    reasons: Mapped[str] = mapped_column(Text)
    contributions: Mapped[JSONValue] = mapped_column(json_type(), nullable=True)
    model_version: Mapped[str | None] = mapped_column(NAME, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(NAME, nullable=True)
