"""The send phase: outbox items to the CRM, outcomes back into the ledger, the outbox and the audit log.

An item is marked `sent` before its call and settled after it, each step committed: an item found `sent`
at start-up is one whose outcome a crash hid, and is simply sent again (field updates are idempotent;
tasks are looked up by key in the CRM before being created). Retryable failures go back to the outbox for
the next cycle until `MAX_ATTEMPTS`, then are parked with the CRM's reason; a record the CRM rejects is
parked at once. Quota exhaustion stops the phase: what is left stays in the outbox.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connector.errors import AuthError, QuotaExhaustedError, RateLimitedError, RetryableError
from connector.protocol import CRMConnector, RecordUpdate, TaskSpec, WriteOutcome, WriteStatus
from sync.report import CrmReport
from sync.state import OutboxItem, StateStore

MAX_ATTEMPTS = 5
# Outcomes that mean "not sent: the quota is spent" (this cycle's share, the org's day, HubSpot's day):
# the item goes back untouched and the send phase stops.
QUOTA_CODES = frozenset({"LEADQ_QUOTA_SHARE", "REQUEST_LIMIT_EXCEEDED", "DAILY"})
CLAIM = 2000
TasksCreated = Callable[[Sequence[tuple[str, str | None]]], None]  # (idempotency key, CRM id) of each


def task_payload(spec: TaskSpec) -> dict[str, Any]:
    """A task spec as JSON for the outbox."""
    return {
        "idempotency_key": spec.idempotency_key,
        "who_object": spec.who_object,
        "who_id": spec.who_id,
        "owner_id": spec.owner_id,
        "subject": spec.subject,
        "body": spec.body,
        "due": spec.due.isoformat(),
        "priority": spec.priority,
        "extra": dict(spec.extra),
    }


def task_spec(payload: dict[str, Any]) -> TaskSpec:
    """The task spec an outbox payload holds."""
    return TaskSpec(**{**payload, "due": datetime.fromisoformat(payload["due"])})


def recover_in_flight(store: StateStore, crm: str) -> int:
    """Return items a crash left `sent` to the queue; returns how many."""
    items = store.in_flight(crm)
    for item in items:
        store.requeue(item.id)
    return len(items)


class Sender:
    """Sends one CRM's pending outbox items."""

    def __init__(
        self,
        store: StateStore,
        connector: CRMConnector,
        crm: str,
        report: CrmReport,
        *,
        on_tasks_created: TasksCreated | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.connector = connector
        self.crm = crm
        self.report = report
        self.on_tasks_created = on_tasks_created
        self.should_stop = should_stop
        self._retry_later: list[int] = []
        self._quota_hit = False

    def send_all(self) -> None:
        """Send until the outbox is empty, the quota stops us, or a stop was requested."""
        started = time.perf_counter()
        try:
            while not self.should_stop():
                items = self.store.claim_pending_many(CLAIM, self.crm)
                if not items:
                    break
                try:
                    self._send(items)
                except (QuotaExhaustedError, AuthError, RateLimitedError) as exc:
                    self._release(items)
                    self.report.stopped = str(exc)
                    break
                if self._quota_hit:
                    break
        finally:
            for item_id in self._retry_later:
                self.store.requeue(item_id)
            self.report.pending = self.store.count_pending(self.crm)
            self.report.phase("write", time.perf_counter() - started)

    def _release(self, items: Sequence[OutboxItem]) -> None:
        held = []
        for item in items:
            current = self.store.outbox_item(item.id)
            if current is not None and current.state == "sent":
                held.append(item.id)
        self.store.release(held)

    def _hold_back(
        self, items: Sequence[OutboxItem], outcomes: Sequence[WriteOutcome]
    ) -> tuple[list[OutboxItem], list[WriteOutcome]]:
        """Set aside what the quota refused (back to pending, no attempt counted); the rest to settle."""
        kept: list[tuple[OutboxItem, WriteOutcome]] = []
        held: list[int] = []
        for item, outcome in zip(items, outcomes, strict=True):
            if not outcome.ok and outcome.code in QUOTA_CODES:
                held.append(item.id)
                self.report.stopped = self.report.stopped or f"{outcome.code}: {outcome.message}"
            else:
                kept.append((item, outcome))
        if held:
            self.store.release(held)
            self._quota_hit = True
        return [k[0] for k in kept], [k[1] for k in kept]

    def _send(self, items: Sequence[OutboxItem]) -> None:
        by_object: dict[str, list[OutboxItem]] = defaultdict(list)
        tasks: list[OutboxItem] = []
        for item in items:
            (tasks if item.kind == "task" else by_object[item.object]).append(item)
        for obj, group in by_object.items():
            if self._quota_hit:
                self.store.release([i.id for i in group])
                continue
            updates = [RecordUpdate(str(i.record_id), dict(i.payload["values"])) for i in group]
            try:
                outcomes = self.connector.apply_updates(obj, updates)
            except RetryableError as exc:
                outcomes = [WriteOutcome(u.id, WriteStatus.RETRYABLE, message=str(exc)) for u in updates]
            with self.store.transaction():
                self._settle_updates(*self._hold_back(group, outcomes))
        if tasks and self._quota_hit:
            self.store.release([i.id for i in tasks])
        elif tasks:
            specs = [task_spec(dict(i.payload)) for i in tasks]
            try:
                outcomes = self.connector.create_tasks(specs)
            except RetryableError as exc:
                outcomes = [
                    WriteOutcome(s.idempotency_key, WriteStatus.RETRYABLE, message=str(exc)) for s in specs
                ]
            with self.store.transaction():
                self._settle_tasks(*self._hold_back(tasks, outcomes))

    def _failed(self, item: OutboxItem, outcome: WriteOutcome) -> str | None:
        """Book a failure; returns the parking reason when the item is given up on."""
        reason = f"{outcome.code or outcome.status.value}: {outcome.message or 'no message'}"
        if outcome.status is WriteStatus.REJECTED or item.attempts >= MAX_ATTEMPTS:
            why = (
                reason
                if outcome.status is WriteStatus.REJECTED
                else f"{reason} (after {item.attempts} attempts)"
            )
            self.store.mark_parked(item.id, why)
            self.report.parked += 1
            return why
        self.store.mark_failed(item.id, reason, retryable=False)
        self._retry_later.append(item.id)
        self.report.write_failures += 1
        return None

    def _settle_updates(self, group: Sequence[OutboxItem], outcomes: Sequence[WriteOutcome]) -> None:
        done: list[OutboxItem] = []
        # Failed fields are settled together per (state, error): one statement, not one per record.
        failed: dict[tuple[str, str], list[tuple[str, str, Sequence[str], Mapping[str, Any]]]] = {}
        parked: list[dict[str, Any]] = []
        for item, outcome in zip(group, outcomes, strict=True):
            if outcome.ok:
                done.append(item)
            else:
                self._settle_failed_update(item, outcome, failed, parked)
        for (state, error), records in failed.items():
            self.store.settle_many(self.crm, records, state, error)
        self.store.audit_many(parked)
        self.store.mark_done_many([item.id for item in done])
        landed = [
            (i.object, str(i.record_id), list(i.payload["values"]), dict(i.payload["values"])) for i in done
        ]
        self.store.settle_many(self.crm, landed, "written")
        self.report.written += len(done)
        self.report.fields_written += sum(len(i.payload["values"]) for i in done)
        # One entry per record written, its fields' old and new values side by side: a 100k-lead cycle
        # writes ~6 fields a record, and one row per field made the audit log the bulk of the write phase.
        self.store.audit_many(
            [
                {"actor": "leadq", "action": "fields_written", "crm": self.crm, "obj": item.object,
                 "record_id": item.record_id, "field": None,
                 "old": {name: (item.payload.get("old") or {}).get(name) for name in item.payload["values"]},
                 "new": dict(item.payload["values"]), "model_version": item.payload.get("model_version")}
                for item in done
            ]
        )  # fmt: skip

    def _settle_failed_update(
        self,
        item: OutboxItem,
        outcome: WriteOutcome,
        failed: dict[tuple[str, str], list[tuple[str, str, Sequence[str], Mapping[str, Any]]]],
        audits: list[dict[str, Any]],
    ) -> None:
        """Book one failed update; its ledger fields join `failed` and its parking audit `audits`."""
        record_id = str(item.record_id)
        parked = self._failed(item, outcome)
        state = "parked" if parked else "retryable"
        error = parked or f"{outcome.code}: {outcome.message}"
        failed.setdefault((state, error), []).append(
            (item.object, record_id, list(item.payload["values"]), {})
        )
        if parked:
            audits.append(
                {"actor": "leadq", "action": "write_parked", "crm": self.crm, "obj": item.object,
                 "record_id": record_id, "detail": {"reason": parked}}
            )  # fmt: skip

    def _settle_tasks(self, items: Sequence[OutboxItem], outcomes: Sequence[WriteOutcome]) -> None:
        """Book task outcomes a batch at a time: a model change can ask for tens of thousands of reviews."""
        done: list[tuple[int, Any]] = []
        created: list[tuple[str, str | None]] = []
        audits: list[dict[str, Any]] = []
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.ok:
                done.append((item.id, {"task_id": outcome.crm_id, "created": outcome.created}))
                created.append((item.idempotency_key, outcome.crm_id))
                self.report.tasks_created += int(outcome.created)
                audits.append(
                    {"actor": "leadq", "action": "task_created" if outcome.created else "task_found",
                     "crm": self.crm, "obj": item.object, "record_id": item.record_id,
                     "detail": {"key": item.idempotency_key, "task_id": outcome.crm_id}}
                )  # fmt: skip
            elif parked := self._failed(item, outcome):
                audits.append(
                    {"actor": "leadq", "action": "task_parked", "crm": self.crm, "obj": item.object,
                     "record_id": item.record_id, "detail": {"key": item.idempotency_key, "reason": parked}}
                )  # fmt: skip
        self.store.mark_done_with_results(done)
        if self.on_tasks_created is not None and created:
            self.on_tasks_created(created)
        self.store.audit_many(audits)
