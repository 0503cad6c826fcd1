"""What the review modules share: the planned task, keys, the objects and fields of each CRM, rotation.

Nothing here talks to the CRM; the one store read (`open_load`) is a single grouped query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from connector.protocol import RecordUpdate, TaskSpec
from mappings import Crm, Lead
from sync.state import StateStore
from sync.state.models import ReviewTaskRow

OPEN_STATES = ("open", "escalated")
ESCALATED_SUFFIX = ":escalated"
TASK_OBJECT: dict[str, str] = {"salesforce": "Task", "hubspot": "tasks"}
TASK_OWNER_FIELD: dict[str, str] = {"salesforce": "OwnerId", "hubspot": "hubspot_owner_id"}
RECORD_OWNER_FIELD: dict[str, str] = {"salesforce": "OwnerId", "hubspot": "hubspot_owner_id"}
# The status field of the people objects that have one (a Salesforce Contact has none).
STATUS_FIELD: dict[tuple[str, str], str] = {
    ("salesforce", "Lead"): "Status",
    ("hubspot", "contacts"): "hs_lead_status",
}
# Status values for nurture / disqualify, most specific first: the first one the CRM's picklist offers is
# used. The last of each list exists in every org that kept the CRM's standard values.
STATUS_CANDIDATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("salesforce", "nurture"): ("Nurturing", "Nurture", "Recycled", "Open - Not Contacted"),
    ("salesforce", "disqualify"): ("Unqualified", "Disqualified", "Closed - Not Converted"),
    ("hubspot", "nurture"): ("NURTURING", "NURTURE", "BAD_TIMING"),
    ("hubspot", "disqualify"): ("DISQUALIFIED", "UNQUALIFIED"),
}  # fmt: skip
_USER_ID: dict[str, re.Pattern[str]] = {
    "salesforce": re.compile(r"(005|00G)[A-Za-z0-9]{12}([A-Za-z0-9]{3})?"),  # a user, or a Lead queue
    "hubspot": re.compile(r"\d{1,20}"),
}


@dataclass(frozen=True)
class PlannedTask:
    """A review task leadq will create: the connector's spec plus what the store and audit keep."""

    spec: TaskSpec  # what the connector will create (idempotency_key set)
    lead_id: str
    lead_object: str  # "Lead" | "Contact" | "contacts"
    reviewer: str | None
    reasons: tuple[str, ...]  # review reasons, plain words
    # What the store keeps with the task (score, tier, recommended action and target, model version):
    # what an approval later executes.
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)


def review_key(crm: str, lead_id: str, n: int) -> str:
    """The idempotency key of a lead's `n`-th review task (0-based)."""
    return f"leadq:{crm}:{lead_id}:review:{n}"


def is_review_key(crm: str, key: str | None) -> bool:
    """Whether `key` looks like one of leadq's review-task keys of `crm`."""
    return bool(key) and str(key).startswith(f"leadq:{crm}:") and ":review:" in str(key)


def lead_object(crm: Crm, lead_id: str, person: Lead | None) -> str:
    """The CRM object a person lives in: HubSpot `contacts`; Salesforce `Lead` or `Contact`."""
    if crm == "hubspot":
        return "contacts"
    if person is not None:
        return "Contact" if person.kind == "contact" else "Lead"
    return "Contact" if lead_id.startswith("003") else "Lead"


def is_user_id(crm: str, value: str | None) -> bool:
    """Whether `value` can be written to an owner field of `crm` (not an email or a pool name)."""
    return bool(value) and _USER_ID[crm].fullmatch(str(value)) is not None


def due_value(crm: str, due: datetime) -> str:
    """A task due time as the task's due field takes it (Salesforce: a date; HubSpot: a timestamp)."""
    stamp = due.astimezone(UTC)
    if crm == "salesforce":
        return stamp.date().isoformat()
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_reassignment(crm: str, task_id: str, owner: str, due: datetime) -> tuple[str, RecordUpdate]:
    """Give a CRM task to another owner with a new due date."""
    due_field = "ActivityDate" if crm == "salesforce" else "hs_timestamp"
    values = {TASK_OWNER_FIELD[crm]: owner, due_field: due_value(crm, due)}
    return TASK_OBJECT[crm], RecordUpdate(task_id, values)


def task_closing(crm: str, task_id: str) -> tuple[str, RecordUpdate]:
    """Close a CRM task that another decision made moot."""
    values = {"Status": "Completed"} if crm == "salesforce" else {"hs_task_status": "COMPLETED"}
    return TASK_OBJECT[crm], RecordUpdate(task_id, values)


@dataclass
class Rotation:
    """Where a cycle's round robin of review tasks stands: open tasks per reviewer and whose turn is next.

    Read from the store on first use (`start`); planning a cycle's decisions in chunks hands one Rotation
    to every chunk, so turns and caps continue across chunks exactly as in one batch (the chunks' tasks
    are recorded only once all are planned, so the store cannot carry them in between)."""

    load: dict[str, int] = field(default_factory=dict)
    turn: int = 0
    started: bool = False

    def start(self, store: StateStore, crm: str, reviewers: Sequence[str]) -> None:
        """Read the open load and the rotation's start from the store, once."""
        if not self.started:
            self.load = open_load(store, crm)
            self.turn = rotation_start(store, crm, reviewers)
            self.started = True


def rotate(reviewers: Sequence[str], load: Mapping[str, int], cap: int, start: int) -> tuple[str | None, int]:
    """The next reviewer under `cap`, looking from `start`; (None, start) when everyone is at cap."""
    size = len(reviewers)
    for step in range(size):
        index = (start + step) % size
        if load.get(reviewers[index], 0) < cap:
            return reviewers[index], (index + 1) % size
    return None, start


def open_load(store: StateStore, crm: str) -> dict[str, int]:
    """Open (or escalated) review tasks per reviewer, in one query."""
    query = (
        select(ReviewTaskRow.reviewer, func.count())
        .where(ReviewTaskRow.crm == crm, ReviewTaskRow.state.in_(OPEN_STATES))
        .group_by(ReviewTaskRow.reviewer)
    )
    with store.session() as s:
        return {str(reviewer): int(count) for reviewer, count in s.execute(query) if reviewer is not None}


def rotation_start(store: StateStore, crm: str, reviewers: Sequence[str]) -> int:
    """Where the round robin resumes: after the reviewer of the newest task given to one of `reviewers`.

    Derived from the store, so a restarted daemon (or a dry run) continues the same rotation.
    """
    if not reviewers:
        return 0
    query = (
        select(ReviewTaskRow.reviewer)
        .where(ReviewTaskRow.crm == crm, ReviewTaskRow.reviewer.in_(list(reviewers)))
        .order_by(ReviewTaskRow.id.desc())
        .limit(1)
    )
    with store.session() as s:
        last = s.scalars(query).first()
    return 0 if last is None else (list(reviewers).index(last) + 1) % len(reviewers)


def detail_of(value: Any) -> dict[str, Any]:
    """A review task's `detail` as a dict (tasks recorded by older versions may hold none)."""
    return dict(value) if isinstance(value, Mapping) else {}
