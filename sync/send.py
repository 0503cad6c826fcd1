"""The send phase: outbox items to the CRM, outcomes back into the outbox, the ledger and the audit log
(a landed item's ledger fields read as written through the item: only the exceptions are rewritten).

An item is marked `sent` before its call and settled after it, each step committed: an item found `sent`
at start-up is one whose outcome a crash hid, and is simply sent again (field updates are idempotent;
tasks are looked up by key in the CRM before being created). Retryable failures go back to the outbox for
the next cycle until `MAX_ATTEMPTS`, then are parked with the CRM's reason; a record the CRM rejects is
parked at once. Quota exhaustion stops the phase: what is left stays in the outbox.

Claimed batches are pipelined (see `Sender`): after a kill, up to two batches can be found `sent` (the one
on the wire and the next, claimed meanwhile); recovery requeues both, and the second's claim then counts
as an attempt although it was never sent.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Call:
    """One connector call of a claimed batch: the field updates of one object, or (`tasks` not empty) the
    batch's tasks."""

    items: Sequence[OutboxItem]
    obj: str  # the object updated; unused for tasks
    updates: Sequence[RecordUpdate] = ()
    tasks: Sequence[TaskSpec] = ()

    def outcome_keys(self) -> list[str]:
        """The outcome key of each item, in order (for outcomes made up when the whole call failed)."""
        return [u.id for u in self.updates] if not self.tasks else [t.idempotency_key for t in self.tasks]


@dataclass
class _Sent:
    """What the worker brings back from one batch: each call made with its outcomes, in order; the calls
    not made; and the exception that stopped it, if one did."""

    made: list[tuple[_Call, list[WriteOutcome]]]
    not_made: list[_Call]
    error: BaseException | None = None

    @property
    def refused(self) -> bool:
        """The quota refused something: nothing more is sent this phase."""
        return any(_refused(o) for _, outcomes in self.made for o in outcomes)


def _refused(outcome: WriteOutcome) -> bool:
    return not outcome.ok and outcome.code in QUOTA_CODES


class Sender:
    """Sends one CRM's pending outbox items.

    Pipelined: while one claimed batch is on the wire (one worker thread, one batch in flight, never more:
    the discipline of `connector.readahead`), the caller's thread settles the batch before and claims and
    prepares the next. The CRM and leadq no longer take turns waiting for each other, and requests keep
    their order. The store is touched only from the caller's thread, the connector only from the worker
    while a batch is in flight: `on_tasks_created` and `should_stop` run on the caller's thread and must not
    use the connector. `batch_size` outbox items are claimed at a time.
    """

    def __init__(
        self,
        store: StateStore,
        connector: CRMConnector,
        crm: str,
        report: CrmReport,
        *,
        on_tasks_created: TasksCreated | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        batch_size: int = CLAIM,
    ) -> None:
        self.store = store
        self.connector = connector
        self.crm = crm
        self.report = report
        self.on_tasks_created = on_tasks_created
        self.should_stop = should_stop
        self.batch_size = batch_size
        self._retry_later: list[int] = []

    def send_all(self) -> None:
        """Send until the outbox is empty, the quota stops us, or a stop was requested.

        A stop (quota, auth, rate limit, `should_stop`) lets the batch in flight finish and settles it;
        what was claimed and not sent goes back to pending untouched. Any other exception from the
        connector reaches the caller unchanged once the worker is joined, after the calls made before it
        are settled (the items of the call that raised stay `sent`, for `recover_in_flight`).
        """
        started = time.perf_counter()
        try:
            # Leaving `with` (normally or by an exception) waits for the batch in flight and joins the worker.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"leadq-send-{self.crm}") as pool:
                self._pipeline(pool)
        finally:
            for item_id in self._retry_later:
                self.store.requeue(item_id)
            self.report.pending = self.store.count_pending(self.crm)
            self.report.phase("write", time.perf_counter() - started)

    def _pipeline(self, pool: ThreadPoolExecutor) -> None:
        claimed = self._claim()
        in_flight = pool.submit(self._transmit, self._calls(claimed)) if claimed else None
        while in_flight is not None:
            # Batch N+1 is claimed (committed as `sent`) and prepared while N is on the wire.
            following = self._claim()
            calls = self._calls(following)
            sent = in_flight.result()  # the worker catches everything: this only waits
            in_flight = None
            # Whether to go on is known from the outcomes alone, before settling them: nothing is sent
            # after a stop was seen, as before the pipeline.
            if following and sent.error is None and not sent.refused and not self.should_stop():
                in_flight = pool.submit(self._transmit, calls)
            elif following:
                self.store.release([item.id for item in following])  # claimed, never sent: no attempt
            self._settle(sent)  # batch N, while N+1 is on the wire

    def _claim(self) -> list[OutboxItem]:
        if self.should_stop():
            return []
        with self.store.transaction(checkpoint_behind=True):  # its WAL copied back beside the wire
            return self.store.claim_pending_many(self.batch_size, self.crm)

    @staticmethod
    def _calls(items: Sequence[OutboxItem]) -> list[_Call]:
        """A batch's connector calls, in order: the updates of each object, then the tasks."""
        by_object: dict[str, list[OutboxItem]] = defaultdict(list)
        tasks: list[OutboxItem] = []
        for item in items:
            (tasks if item.kind == "task" else by_object[item.object]).append(item)
        calls = [
            _Call(
                group, obj, updates=[RecordUpdate(str(i.record_id), dict(i.payload["values"])) for i in group]
            )
            for obj, group in by_object.items()
        ]
        if tasks:
            calls.append(_Call(tasks, "", tasks=[task_spec(dict(i.payload)) for i in tasks]))
        return calls

    def _transmit(self, calls: Sequence[_Call]) -> _Sent:
        """On the worker: make a batch's calls in order, stopping at the first the quota refuses or that
        raises. Touches the connector only (never the store, which belongs to the caller's thread)."""
        sent = _Sent([], [])
        for n, call in enumerate(calls):
            try:
                if call.tasks:
                    outcomes = self.connector.create_tasks(call.tasks)
                else:
                    outcomes = self.connector.apply_updates(call.obj, call.updates)
            except RetryableError as exc:
                outcomes = [
                    WriteOutcome(key, WriteStatus.RETRYABLE, message=str(exc)) for key in call.outcome_keys()
                ]
            except BaseException as exc:  # carried to the caller's thread with what was made before it
                sent.error = exc
                sent.not_made = list(calls[n:])
                return sent
            sent.made.append((call, list(outcomes)))
            if any(_refused(o) for o in outcomes):
                sent.not_made = list(calls[n + 1 :])
                return sent
        return sent

    def _settle(self, sent: _Sent) -> None:
        """Book a batch's outcomes, a transaction per call; release what the stop kept from being sent."""
        for call, outcomes in sent.made:
            with self.store.transaction(checkpoint_behind=True):  # the copy beside the next batch's work
                if call.tasks:
                    self._settle_tasks(*self._hold_back(call.items, outcomes))
                else:
                    self._settle_updates(*self._hold_back(call.items, outcomes))
        error = sent.error
        if error is not None and not isinstance(error, QuotaExhaustedError | AuthError | RateLimitedError):
            raise error  # unchanged; the unsettled items stay `sent` and are sent again after recovery
        for call in sent.not_made:
            self.store.release([item.id for item in call.items])
        if error is not None:
            self.report.stopped = str(error)

    def _hold_back(
        self, items: Sequence[OutboxItem], outcomes: Sequence[WriteOutcome]
    ) -> tuple[list[OutboxItem], list[WriteOutcome]]:
        """Set aside what the quota refused (back to pending, no attempt counted); the rest to settle."""
        kept: list[tuple[OutboxItem, WriteOutcome]] = []
        held: list[int] = []
        for item, outcome in zip(items, outcomes, strict=True):
            if _refused(outcome):
                held.append(item.id)
                self.report.stopped = self.report.stopped or f"{outcome.code}: {outcome.message}"
            else:
                kept.append((item, outcome))
        if held:
            self.store.release(held)
        return [k[0] for k in kept], [k[1] for k in kept]

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
        # The ledger fields planned with these items read as written through them: only the others (a
        # field planned again since, or parked meanwhile) are settled here.
        self.store.settle_landed(
            self.crm, [(i.id, i.object, str(i.record_id), dict(i.payload["values"])) for i in done]
        )
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
