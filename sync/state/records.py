"""Plain, immutable values the `StateStore` returns, and the vocabularies of its state columns.

Callers never hold ORM instances: a returned value stays valid after its session is gone, and changing it
cannot silently write to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, get_args

from sync.state.columns import JSONValue

LedgerState = Literal["planned", "sent", "written", "rejected", "retryable", "parked"]
OutboxState = Literal["pending", "sent", "done", "failed", "parked"]
OutboxKind = Literal["field_update", "task", "note"]
ReviewState = Literal["open", "completed", "escalated", "cancelled"]
LabelSource = Literal["outcome", "review"]
ModelRole = Literal["champion", "challenger", "retired"]

LEDGER_STATES: tuple[str, ...] = get_args(LedgerState)
OUTBOX_STATES: tuple[str, ...] = get_args(OutboxState)
KINDS: tuple[str, ...] = get_args(OutboxKind)
REVIEW_STATES: tuple[str, ...] = get_args(ReviewState)
LABEL_SOURCES: tuple[str, ...] = get_args(LabelSource)
MODEL_ROLES: tuple[str, ...] = get_args(ModelRole)
AUDIT_ACTORS_HINT = "'leadq', a person's CRM user id, or 'reviewer:<id>'"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The mapped fields of a record as last pulled."""

    crm: str
    object: str
    record_id: str
    content_hash: str
    values: JSONValue
    modified_at: datetime | None
    pulled_at: datetime


class LedgerEntry(NamedTuple):
    """The ledger of one record field: the last planned write (`new_value`, `state`) and the last landed one.

    As read: a field whose outbox item is done reads `written`, with `new_value` as `written_value` and the
    item's last update as `written_at` and `updated_at` (`sync.state.ledger_view`).

    A named tuple rather than a frozen dataclass like the others: a big cycle reads hundreds of thousands of
    entries, and a tuple is made from a row in one step (`LedgerEntry._make(row)`), where a frozen
    dataclass sets each field through `object.__setattr__`. Read it by attribute; it is as immutable.
    """

    crm: str
    object: str
    record_id: str
    field: str
    old_value: JSONValue
    new_value: JSONValue
    state: LedgerState
    attempts: int
    last_error: str | None
    written_value: JSONValue
    written_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A planned write in the outbox."""

    id: int
    crm: str
    kind: OutboxKind
    object: str
    record_id: str | None
    payload: JSONValue
    idempotency_key: str
    state: OutboxState
    attempts: int
    last_error: str | None
    result: JSONValue
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """One sync cycle."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    report: JSONValue


@dataclass(frozen=True, slots=True)
class ReviewTask:
    """A review task and, once decided, its decision."""

    id: int
    crm: str
    task_id: str | None
    lead_id: str
    idempotency_key: str
    reviewer: str | None
    due: datetime | None
    state: ReviewState
    decision: str | None
    decided_at: datetime | None
    detail: JSONValue
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Override:
    """A reviewer's score override."""

    id: int
    crm: str
    lead_id: str
    score: int
    set_by: str
    set_at: datetime
    expires_at: datetime | None
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True)
class Label:
    """A training label (1 qualified, 0 not)."""

    id: int
    crm: str
    lead_id: str
    label: int
    source: LabelSource
    at: datetime
    detail: JSONValue


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """An entry of the model index."""

    id: int
    version: str
    crm: str
    segment: str
    path: str
    created_at: datetime
    metrics: JSONValue
    role: ModelRole
    promoted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """One score given to one lead."""

    crm: str
    lead_id: str
    scored_at: datetime
    score: int
    tier: str
    probability: float | None
    reasons: str
    contributions: JSONValue
    model_version: str | None
    policy_version: str | None
