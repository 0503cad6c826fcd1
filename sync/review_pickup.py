"""Reading reviewers' decisions back: completed review tasks become labels, overrides, CRM updates, audit.

Each picked-up task is handled in its own unit of work (joined into the caller's `transaction()` if there
is one), and a task already handled (state no longer open) is skipped, so reading the same window again
after a crash labels nothing twice. For exactly-once CRM updates, the cycle enqueues `Pickup.updates` in
the outbox in the same transaction it saves `Pickup.cursor`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from connector.cursor import advance, parse_value
from connector.errors import ConnectorError
from connector.protocol import CRMConnector, RecordUpdate
from mappings import Crm, Task, translate_batch
from mappings.config.writeback import WritebackField
from sync.context import CycleContext
from sync.review_common import (
    OPEN_STATES,
    RECORD_OWNER_FIELD,
    STATUS_CANDIDATES,
    STATUS_FIELD,
    TASK_OBJECT,
    detail_of,
    is_review_key,
    is_user_id,
    lead_object,
    task_closing,
)
from sync.state import ReviewState, ReviewTask, as_utc

CURSOR_OBJECT = "review_tasks"
ALL_STATES: tuple[ReviewState, ...] = get_args(ReviewState)
# What the `task` translators read from a review task (only fields every org has: a missing one fails the
# whole query).
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "salesforce": ("IsDeleted", "SystemModstamp", "CreatedDate", "OwnerId", "Subject", "Status", "IsClosed",
                   "WhoId", "ActivityDate", "CompletedDateTime"),
    "hubspot": ("hs_task_subject", "hs_task_status", "hs_timestamp", "hs_task_completion_date", "hs_createdate",
                "hubspot_owner_id"),
}  # fmt: skip
_DECISION_TEXT = re.compile(
    r"^\s*(approve|approved|reject|rejected|override)\b\W*(\d{1,3}(?:\.\d+)?)?\s*$", re.I
)


@dataclass
class Pickup:
    """What reading completed review tasks found, and what the cycle must do about it."""

    completed: int = 0
    labels: int = 0
    overrides: int = 0
    updates: list[tuple[str, RecordUpdate]] = field(default_factory=list)  # (object, update) to apply
    rescore: set[str] = field(default_factory=set)  # lead ids whose state changed
    cursor: dict[str, Any] | None = None  # new cursor for completed tasks; the cycle saves it
    problems: list[str] = field(default_factory=list)


def read_decision(decoded: str | None, raw: object) -> tuple[str | None, float | None]:
    """The decision and, for an override typed into a text field ("override 75"), its score."""
    text = raw if isinstance(raw, str) else None
    match = _DECISION_TEXT.match(text) if text else None
    score = float(match.group(2)) if match and match.group(2) else None
    if decoded is not None:
        return decoded, score if decoded == "override" else None
    if match is None:
        return None, None
    word = match.group(1).lower()
    decision = (
        "approve" if word.startswith("approve") else "reject" if word.startswith("reject") else "override"
    )
    return decision, score if decision == "override" else None


class _Statuses:
    """Status values for nurture and disqualify, chosen from what the CRM's picklist offers."""

    def __init__(self, connector: CRMConnector, crm: str) -> None:
        self.connector = connector
        self.crm = crm
        self.options: dict[tuple[str, str], tuple[str, ...] | None] = {}

    def pick(self, obj: str, status_field: str, action: str) -> str | None:
        candidates = STATUS_CANDIDATES[(self.crm, action)]
        if (obj, status_field) not in self.options:
            try:
                info = self.connector.describe(obj).fields.get(status_field)
                self.options[(obj, status_field)] = info.picklist_values if info is not None else None
            except ConnectorError:
                self.options[(obj, status_field)] = None  # describe failed: the standard value
        options = self.options[(obj, status_field)]
        if not options:
            return candidates[-1]
        offered = {option.casefold(): option for option in options}
        return next((offered[c.casefold()] for c in candidates if c.casefold() in offered), None)


def _raw(record: Mapping[str, Any], name: str) -> object:
    props = record.get("properties")
    if isinstance(props, Mapping) and name in props:
        return props[name]
    return record.get(name)


def pick_up_decisions(
    ctx: CycleContext, crm: Crm, *, run_started: datetime, task_cursor: dict[str, Any] | None = None
) -> Pickup:
    """Decisions on review tasks completed since the `review_tasks` cursor.

    - approve: the recommended action recorded with the task is carried out (route: owner change;
      nurture/disqualify: status); label 1 if that action was a route, 0 if nurture or disqualify (the
      reviewer confirmed the lead is not sales-ready), else by the score's tier; audit `review_approved`.
    - reject: label 0, `review.on_reject` is applied the same way; audit `review_rejected`.
    - override: the score from the decision text ("override 75") or else the lead's override field as last
      pulled (`ctx.worlds`); a sticky override for `override_expiry_days`, label 1 if the score reaches
      tier B; audit `review_overridden`. Without a score: completed, a problem, no override.
    - no or unreadable decision: completed with none, audit `review_completed_without_decision`, a problem.
    Unknown keys are ignored. A decision cancels (and closes) the lead's other open review tasks. The
    cursor is the highest page stamp seen, or the task pull's `task_cursor` when a whole read found less;
    a connector failure ends the read early with a problem.
    Without an open review task of ours nothing is read; before the first one exists the cursor starts at
    `task_cursor`, the cycle's pull cursor of the task object (so the first read does not scan every task
    the CRM ever stamped).
    """
    connector = ctx.connectors[crm]
    mapping = ctx.mapping(crm)
    obj = TASK_OBJECT[crm]
    decision_spec = mapping.writeback.field_for("task_decision")
    pickup = Pickup()
    cursor = ctx.store.get_cursor(crm, CURSOR_OBJECT)
    if not ctx.store.has_review_tasks(crm, OPEN_STATES):
        # Only our own open tasks can carry a decision (any other task is ignored): nothing to read.
        if cursor is None and task_cursor and not ctx.store.has_review_tasks(crm, ALL_STATES):
            # None of ours exists yet, and each one created from now on is stamped after the tasks this
            # cycle pulled (the CRM's own clock): the first read starts there, not at the epoch.
            pickup.cursor = dict(task_cursor)
        return pickup
    statuses = _Statuses(connector, crm)
    high: datetime | None = None
    fields = [*TASK_FIELDS[crm], decision_spec.field, mapping.writeback.field_for("task_key").field]
    pages = connector.completed_tasks(fields, cursor, run_started=run_started)
    try:
        for page in pages:
            translated = translate_batch(crm, obj, page.records, mapping, now=run_started)
            raws = {str(r.get("Id") or r.get("id")): r for r in page.records}
            for record in translated.records:
                if not isinstance(record, Task) or not is_review_key(crm, record.idempotency_key):
                    continue
                raw_decision = _raw(raws.get(record.id, {}), decision_spec.field)
                one = Pickup()  # merged only once the task's unit of work committed
                try:
                    _handle(ctx, crm, record, raw_decision, decision_spec, statuses, one, run_started)
                except (KeyError, ValueError, TypeError) as exc:
                    pickup.problems.append(f"{crm} task {record.id} ({record.idempotency_key}): {exc}")
                    continue
                _merge(pickup, one)
            if page.high_water is not None and (high is None or page.high_water > high):
                high = page.high_water
    except ConnectorError as exc:
        pickup.problems.append(
            f"{crm}: reading completed review tasks stopped early, resumes next cycle: {exc}"
        )
    else:
        high = _past_the_task_pull(high, task_cursor)
    if high is not None:
        pickup.cursor = advance(cursor, confirmed_up_to=high, run_started=run_started)
    return pickup


def _past_the_task_pull(high: datetime | None, task_cursor: dict[str, Any] | None) -> datetime | None:
    """How far a whole read confirms: its newest completed task, or the task pull's cursor if later.

    The read's window ends where the cycle's task pull window ends, and it ran after the pull: a review
    task stamped up to the pull's cursor and completed was in it. Open tasks return nothing, so without
    this the window would stay open back to the last completed one and every cycle would search all the
    tasks opened since (24k at 100k leads)."""
    pulled = parse_value(task_cursor)
    if pulled is None:
        return high
    return pulled if high is None or pulled > high else high


def _merge(into: Pickup, one: Pickup) -> None:
    into.completed += one.completed
    into.labels += one.labels
    into.overrides += one.overrides
    into.updates.extend(one.updates)
    into.rescore |= one.rescore
    into.problems.extend(one.problems)


def _handle(
    ctx: CycleContext,
    crm: Crm,
    task: Task,
    raw_decision: object,
    decision_spec: WritebackField,
    statuses: _Statuses,
    pickup: Pickup,
    run_started: datetime,
) -> None:
    store = ctx.store
    stored = store.review_task(task.idempotency_key)
    if stored is None or stored.crm != crm or stored.state not in OPEN_STATES:
        return  # not ours, or already handled (a re-read window, or a sibling was decided first)
    decision, typed_score = read_decision(task.decision, raw_decision)
    detail = detail_of(stored.detail)
    obj = str(detail.get("lead_object") or lead_object(crm, stored.lead_id, None))
    reviewer = task.owner_id or stored.reviewer or "unknown"
    actor = f"reviewer:{reviewer}"
    decided_at = (
        min(as_utc(task.completed_at), as_utc(run_started)) if task.completed_at else as_utc(run_started)
    )
    where = f"{crm} task {task.id} ({task.idempotency_key}) on {obj} {stored.lead_id}"
    audit: dict[str, Any] = {"crm": crm, "obj": obj, "record_id": stored.lead_id, "at": decided_at}
    about = {"task": task.idempotency_key, "task_id": task.id, "reviewer": reviewer}
    with store.transaction():
        pickup.completed += 1
        pickup.rescore.add(stored.lead_id)
        store.update_review_task(
            task.idempotency_key, task_id=task.id, state="completed", decision=decision, decided_at=decided_at
        )
        _cancel_siblings(ctx, crm, stored, pickup)
        if decision is None:
            said = (
                f"reads {raw_decision!r}, which is not" if raw_decision not in (None, "") else "is empty, not"
            )
            pickup.problems.append(
                f"{where}: was completed but {decision_spec.field} {said} approve, reject or override; "
                "recorded without a decision and no label; the lead is re-scored and asked about again if it "
                "still needs review"
            )
            store.audit(actor, "review_completed_without_decision", field=decision_spec.field,
                        new=_jsonable(raw_decision), detail=about, **audit)  # fmt: skip
            return
        if decision == "override":
            _override(ctx, crm, stored, typed_score, actor, reviewer, decided_at, where, about, audit, pickup)
            return
        if decision == "approve":
            action, target = str(detail.get("action") or "none"), detail.get("target")
            label = _approval_label(ctx, action, detail.get("score"))
            name = "review_approved"
        else:
            action, target, label, name = ctx.config.review.on_reject, None, 0, "review_rejected"
        updates, problem = _action_updates(crm, obj, stored.lead_id, action, target, statuses)
        if problem:
            pickup.problems.append(f"{where}: {problem}")
        pickup.updates.extend(updates)
        store.add_label(
            crm, stored.lead_id, label, "review", at=decided_at, detail={**about, "decision": decision}
        )
        pickup.labels += 1
        changes = {f"{o}.{k}": v for o, u in updates for k, v in u.values.items()}
        store.audit(actor, name, new=decision, detail={**about, "action": action, "target": target,
                    "label": label, "updates": changes}, **audit)  # fmt: skip


def _override(
    ctx: CycleContext,
    crm: Crm,
    stored: ReviewTask,
    typed_score: float | None,
    actor: str,
    reviewer: str,
    decided_at: datetime,
    where: str,
    about: dict[str, Any],
    audit: dict[str, Any],
    pickup: Pickup,
) -> None:
    store = ctx.store
    override_field = ctx.mapping(crm).writeback.field_for("override").field
    score = typed_score if typed_score is not None else _lead_override(ctx, crm, stored.lead_id)
    if score is None or not 0 <= score <= 100:
        got = "no score" if score is None else f"score {score:g}, outside 0-100"
        pickup.problems.append(
            f"{where}: decision is override but found {got} (in the decision or {override_field} on the "
            "record); no override was set; the lead is re-scored and asked about again if it still needs review"
        )
        store.audit(actor, "review_override_without_score", field=override_field, detail=about, **audit)
        return
    value = round(score)
    days = ctx.config.review.override_expiry_days
    store.set_override(crm, stored.lead_id, value, reviewer, set_at=decided_at,
                       expires_at=decided_at + timedelta(days=days))  # fmt: skip
    label = 1 if value >= ctx.config.scoring.tiers.B else 0
    store.add_label(crm, stored.lead_id, label, "review", at=decided_at,
                    detail={**about, "decision": "override", "score": value})  # fmt: skip
    pickup.overrides += 1
    pickup.labels += 1
    store.audit(actor, "review_overridden", field=override_field, old=detail_of(stored.detail).get("score"),
                new=value, detail={**about, "label": label, "expires_in_days": days}, **audit)  # fmt: skip


def _approval_label(ctx: CycleContext, action: str, score: object) -> int:
    """Approving a route says "qualified"; approving nurture or disqualify says "not yet"; approving a
    score alone says what the score says."""
    if action == "route":
        return 1
    if action in ("nurture", "disqualify"):
        return 0
    return 1 if isinstance(score, int | float) and score >= ctx.config.scoring.tiers.B else 0


def _lead_override(ctx: CycleContext, crm: Crm, lead_id: str) -> float | None:
    """The lead's override field as the cycle last pulled it."""
    world = ctx.worlds.get(crm)
    person = world.people.get(lead_id) if world is not None else None
    value = person.writeback.get("override") if person is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cancel_siblings(ctx: CycleContext, crm: Crm, decided: ReviewTask, pickup: Pickup) -> None:
    """A lead's other open review tasks (an escalation's second task) are moot once one is decided."""
    for other in ctx.store.review_tasks(crm, lead_id=decided.lead_id):
        if other.idempotency_key == decided.idempotency_key or other.state not in OPEN_STATES:
            continue
        ctx.store.update_review_task(other.idempotency_key, state="cancelled")
        if other.task_id:
            pickup.updates.append(task_closing(crm, other.task_id))


def _action_updates(
    crm: Crm, obj: str, lead_id: str, action: str, target: object, statuses: _Statuses
) -> tuple[list[tuple[str, RecordUpdate]], str | None]:
    """The CRM updates that carry out an action on the lead: an owner change or a status."""
    if action == "route":
        if target is None:
            return [], None  # routed to the owner it has
        if not is_user_id(crm, str(target)):
            return [], f"the recommended owner {target!r} is not a user id; change the owner by hand"
        return [(obj, RecordUpdate(lead_id, {RECORD_OWNER_FIELD[crm]: str(target)}))], None
    if action in ("nurture", "disqualify"):
        status_field = STATUS_FIELD.get((crm, obj))
        if status_field is None:
            return [], None  # e.g. a Salesforce Contact has no status to set
        value = statuses.pick(obj, status_field, action)
        if value is None:
            wanted = " or ".join(STATUS_CANDIDATES[(crm, action)])
            return [], f"{obj}.{status_field} offers none of {wanted} for {action}; set the status by hand"
        return [(obj, RecordUpdate(lead_id, {status_field: value}))], None
    return [], None


def _jsonable(value: object) -> str | int | float | bool | None:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
