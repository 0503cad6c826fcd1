"""End-to-end cycles against the sandbox through the real clients, on both CRMs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.protocol import CRMConnector, RecordUpdate, TaskSpec, WriteOutcome, WriteStatus
from sandbox import SandboxServer
from sync.context import CycleContext
from sync.cycle import run_cycle
from tests.sync.crm_access import SCORE, TITLE, Org
from tests.sync.cycle_fixtures import (
    close,
    context,
    seeded_sandbox,
    set_up_context,
)

CRMS = ("salesforce", "hubspot")
REVIEW_ALL = {
    "borderline: [45, 60]": "borderline: [0, 100]",
    "max_open_per_reviewer: 25": "max_open_per_reviewer: 2",
}


@pytest.fixture()
def server(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    with seeded_sandbox(sandbox_state_dir, leads=40) as running:
        yield running


def make_ctx(tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch,
             replace: dict[str, str] | None = None) -> CycleContext:  # fmt: skip
    return set_up_context(tmp_path, server, crm, monkeypatch, replace)


def assert_crm_holds_the_latest_scores(
    ctx: CycleContext, server: SandboxServer, crm: str, scored: int
) -> None:
    """Every scored person's CRM score is the latest in leadq's score history."""
    in_crm = Org(server, crm).scores()
    history = {i: ctx.store.score_history(crm, i, limit=1)[0].score for i in in_crm if in_crm[i] is not None}
    assert len(history) == scored
    assert all(float(in_crm[i]) == score for i, score in history.items())


@pytest.mark.parametrize("crm", CRMS)
def test_first_cycle_scores_and_writes_then_an_idle_cycle_writes_nothing(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch)
    try:
        first = run_cycle(ctx).crms[crm]
        assert first.scored > 0 and first.written == first.scored
        assert first.stopped is None and first.pending == 0
        task_object = "Task" if crm == "salesforce" else "tasks"
        review_cursor = ctx.store.get_cursor(crm, "review_tasks")
        assert review_cursor is not None and review_cursor == ctx.store.get_cursor(crm, task_object), (
            "the first read of completed review tasks starts where the task pull stood, not at the epoch"
        )
        assert_crm_holds_the_latest_scores(ctx, server, crm, first.scored)

        idle = run_cycle(ctx).crms[crm]
        assert (idle.scored, idle.written, idle.tasks_created) == (0, 0, 0)
        assert idle.echoes > 0  # our own writes came back and were recognised
        runs = ctx.store.recent_runs()
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
    finally:
        close(ctx)


@pytest.mark.parametrize("crm", CRMS)
def test_a_persons_edit_of_a_score_is_left_alone_and_reported_once(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch)
    org = Org(server, crm)
    try:
        run_cycle(ctx)
        person = next(i for i, v in org.scores().items() if v is not None)
        org.update(person, {SCORE[crm]: 99, TITLE[crm]: "VP Sales and Marketing"})
        second = run_cycle(ctx).crms[crm]
        assert second.scored >= 1  # the title changed: re-scored
        assert second.human_edits == 1
        assert float(org.scores()[person]) == 99
        edits = [e for e in ctx.store.audit_export() if e["action"] == "human_edit"]
        assert [(e["record_id"], e["field"]) for e in edits] == [(person, SCORE[crm])]

        org.update(person, {TITLE[crm]: "Chief Revenue Officer"})
        third = run_cycle(ctx).crms[crm]
        assert third.human_edits == 0 and float(org.scores()[person]) == 99
    finally:
        close(ctx)


@pytest.mark.parametrize("crm", CRMS)
def test_a_dry_run_plans_exact_writes_and_changes_nothing(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch, replace=REVIEW_ALL)
    org = Org(server, crm)
    try:
        report = run_cycle(ctx, dry_run=True)
        planned = report.crms[crm].planned
        kinds = Counter(p.kind for p in planned)
        assert kinds["field_update"] > 0 and kinds["task"] > 0
        assert all(SCORE[crm] in p.values for p in planned if p.kind == "field_update")
        assert all(v is None for v in org.scores().values())
        assert org.review_tasks() == []
        assert ctx.store.recent_runs() == [] and ctx.store.count_pending(crm) == 0
        assert ctx.store.get_cursor(crm, "Lead" if crm == "salesforce" else "contacts") is None
    finally:
        close(ctx)


@pytest.mark.parametrize("crm", CRMS)
def test_review_task_created_once_completed_picked_up_and_override_sticks(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch, replace=REVIEW_ALL)
    org = Org(server, crm)
    try:
        first = run_cycle(ctx).crms[crm]
        tasks = org.review_tasks()
        assert first.tasks_created == len(tasks) > 0
        assert len({t["key"] for t in tasks}) == len(tasks)

        again = run_cycle(ctx).crms[crm]
        assert again.tasks_created == 0 and len(org.review_tasks()) == len(tasks)

        task = ctx.store.review_tasks(crm, state="open")[0]
        org.update(
            task.lead_id, {"leadq_Override_Score__c" if crm == "salesforce" else "leadq_override_score": 77}
        )
        org.complete_task(str(task.task_id), "override")
        picked = run_cycle(ctx).crms[crm]
        assert picked.tasks_completed == 1, (picked.problems, picked.overrides, picked.scored)
        assert picked.overrides == 1, (picked.problems, picked.scored, list(ctx.store.audit_export())[-3:])
        assert float(org.scores()[task.lead_id]) == 77
        assert ctx.store.active_override(crm, task.lead_id, now=ctx.clock()) is not None

        org.update(task.lead_id, {TITLE[crm]: "Head of Procurement"})
        run_cycle(ctx)
        assert float(org.scores()[task.lead_id]) == 77  # sticky until it expires or is cleared
    finally:
        close(ctx)


class SimulatedCrash(BaseException):
    """The process dies: nothing after this point runs."""


class CrashAfterSend:
    """The real connector, except that the process dies right after a write landed, before leadq records it."""

    def __init__(self, inner: CRMConnector, *, on: str) -> None:
        self.inner = inner
        self.on = on

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        outcomes = self.inner.apply_updates(obj, updates)
        if self.on == "update":
            raise SimulatedCrash
        return outcomes

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
        outcomes = self.inner.create_tasks(tasks)
        if self.on == "task":
            raise SimulatedCrash
        return outcomes


@pytest.mark.parametrize("crm", CRMS)
@pytest.mark.parametrize("on", ["update", "task"])
def test_a_crash_between_send_and_checkpoint_converges_without_duplicates(
    tmp_path: Path, server: SandboxServer, crm: str, on: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch, replace=REVIEW_ALL)
    inner = ctx.connectors["salesforce" if crm == "salesforce" else "hubspot"]
    ctx.connectors = {crm: CrashAfterSend(inner, on=on)}  # type: ignore[dict-item]
    with pytest.raises(SimulatedCrash):
        run_cycle(ctx)
    close(ctx)

    restarted = context(ctx.config, tmp_path)  # a fresh process: new connectors, world rebuilt from the store
    org = Org(server, crm)
    try:
        run_cycle(restarted)
        run_cycle(restarted)
        assert restarted.store.count_pending(crm) == 0
        assert restarted.store.outbox_items("sent", crm) == []
        keys = Counter(t["key"] for t in org.review_tasks())
        assert keys and max(keys.values()) == 1  # no duplicate task
        scores = org.scores()
        scored = {r.lead_id for r in restarted.store.review_tasks(crm)}
        assert all(scores[i] is not None for i in scored)  # nothing lost
        history_ids = {i for i in scores if restarted.store.score_history(crm, i, limit=1)}
        assert all(scores[i] is not None for i in history_ids)
    finally:
        close(restarted)


@pytest.mark.parametrize("crm", CRMS)
def test_rescoring_everyone_after_a_model_change_never_mistakes_our_writes_for_a_persons(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, crm, monkeypatch)
    try:
        first = run_cycle(ctx).crms[crm]
        ctx.store.set_cursor(crm, "scored_with_model", {"value": "an-older-champion"})
        again = run_cycle(ctx).crms[crm]
        assert again.scored >= first.scored  # everyone, not only what changed
        assert (again.human_edits, again.parked, again.written) == (0, 0, 0)
        fresh = context(ctx.config, tmp_path)  # a new process rebuilds its world from the store
        fresh.store.set_cursor(crm, "scored_with_model", {"value": "an-older-champion"})
        third = run_cycle(fresh).crms[crm]
        close(fresh)
        assert (third.human_edits, third.parked, third.written) == (0, 0, 0)
    finally:
        close(ctx)


def test_everyone_is_rescored_once_a_day_and_only_changed_values_are_written(
    tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, "salesforce", monkeypatch)
    try:
        first = run_cycle(ctx).crms["salesforce"]
        assert run_cycle(ctx).crms["salesforce"].scored == 0
        day_ago = (ctx.clock() - timedelta(days=1, minutes=1)).isoformat()
        ctx.store.set_cursor("salesforce", "full_rescore", {"value": day_ago})
        daily = run_cycle(ctx).crms["salesforce"]
        assert daily.scored == first.scored and daily.human_edits == 0
        assert daily.written <= daily.scored  # ages moved on; only what changed is written
        assert run_cycle(ctx).crms["salesforce"].scored == 0  # the mark moved: not again today
    finally:
        close(ctx)


class QuotaSpent:
    """The real connector, except that the cycle's quota share is spent before any write goes out."""

    def __init__(self, inner: CRMConnector) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        return [
            WriteOutcome(u.id, WriteStatus.RETRYABLE, code="LEADQ_QUOTA_SHARE", message="share spent")
            for u in updates
        ]


def test_a_spent_quota_stops_the_send_phase_and_never_costs_an_attempt(
    tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, "salesforce", monkeypatch)
    real = ctx.connectors["salesforce"]
    try:
        ctx.connectors = {"salesforce": QuotaSpent(real)}
        for _ in range(7):  # more cycles than the retry bound
            report = run_cycle(ctx).crms["salesforce"]
            assert report.stopped is not None and "LEADQ_QUOTA_SHARE" in report.stopped
            assert (report.written, report.write_failures, report.parked) == (0, 0, 0)
        pending = ctx.store.outbox_items("pending", "salesforce")
        assert pending and all(item.attempts == 0 for item in pending)
        ctx.connectors = {"salesforce": real}
        resumed = run_cycle(ctx).crms["salesforce"]
        assert resumed.stopped is None and resumed.written == len(pending) and resumed.pending == 0
    finally:
        close(ctx)


def test_a_large_send_goes_through_bulk_api_jobs_with_the_same_result(
    tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above `bulk_threshold` updates of one object in a batch, the send makes a Bulk API 2.0 ingest job of
    them (a handful of calls) instead of a Collections call per 200 records."""
    ctx = make_ctx(tmp_path, server, "salesforce", monkeypatch, {"bulk_threshold: 2000": "bulk_threshold: 5"})
    try:
        first = run_cycle(ctx).crms["salesforce"]
        assert first.scored > 5 and first.written == first.scored and first.pending == 0
        calls = first.api_calls
        assert any(k.startswith("POST") and k.endswith("/jobs/ingest") for k in calls), calls
        assert not any(k.startswith("PATCH") and "composite/sobjects" in k for k in calls), calls
        assert_crm_holds_the_latest_scores(ctx, server, "salesforce", first.scored)
        idle = run_cycle(ctx).crms["salesforce"]
        assert (idle.scored, idle.written) == (0, 0), "what the jobs wrote is recognised as ours"
    finally:
        close(ctx)
