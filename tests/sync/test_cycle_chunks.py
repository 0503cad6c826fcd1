"""Deciding a cycle's people in chunks gives exactly what one batch gives: the same org cycled on two
identical sandboxes, one with a chunk larger than the org and one with a tiny chunk, ends with the same
store contents and the same CRM state, on both CRMs, through a first (rule-based) cycle with review caps
binding mid-way and a re-score of everyone with a trained champion (drift measured over all chunks)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from mappings import Crm, ScoringConfig
from sandbox import SandboxServer
from scoring.features import build_features
from scoring.registry import ModelRegistry
from scoring.training import train
from sync.context import CycleContext
from sync.cycle import run_cycle, world_of
from sync.plan import WRITTEN_SLOTS
from sync.report import CrmReport
from sync.state.models import AuditRow, LabelRow, LedgerRow, OutboxRow, OverrideRow, ReviewTaskRow, ScoreRow
from tests.conftest import hubspot_client, salesforce_client
from tests.scoring.model_fixtures import one_thread
from tests.sync.crm_access import SCORE, Org
from tests.sync.cycle_fixtures import close, context, load, sandbox_config, seeded_sandbox, set_up

CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")
WHOLE = 10**9  # larger than any org here: one batch, as before chunking
TINY = 3
CAP = 2  # two reviewers with two open tasks each: the caps bind a few chunks in


def users(server: SandboxServer, crm: Crm) -> list[str]:
    """Two real users (Salesforce) or owners (HubSpot) of the sandbox org: the reviewers."""
    if crm == "salesforce":
        rows = salesforce_client(server).query("SELECT Id FROM User ORDER BY Id LIMIT 2")["records"]
        found = [str(r["Id"]) for r in rows]
    else:
        found = sorted(str(o.id) for o in hubspot_client(server).crm.owners.owners_api.get_page().results)[:2]
    assert len(found) == 2, found
    return found


def settings(crm: Crm, reviewers: list[str], pools: bool = False) -> dict[str, str]:
    """Review caps that bind, a small label minimum for the hand-made champion, no retraining mid-test;
    with `pools`, every lead is routed to a capped pool of the reviewers."""
    replace = {
        f"    {crm}: []": f"    {crm}: {json.dumps(reviewers)}",
        "max_open_per_reviewer: 25": f"max_open_per_reviewer: {CAP}",
        "borderline: [45, 60]": "borderline: [0, 100]",
        "min_labels_per_class: 200": "min_labels_per_class: 20",
        "every_n_labels: 100": "every_n_labels: 1000000",
        'schedule: "0 3 * * 0"': "schedule: null",
    }
    if pools:
        owners = json.dumps(reviewers)
        replace["  policies: []"] = (
            f"  routing: {{pools: {{sdr: {{owners: {owners}, cap: 5}}}}}}\n"
            "  policies:\n"
            "    - {name: to_sdr, when: 'score >= 0', action: route, target: 'pool:sdr', reason: SDRs call}"
        )
    return replace


@dataclasses.dataclass
class Frozen:
    """One clock for both orgs, fixed within a cycle: both decide "as of" the same instant."""

    at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.at

    def tick(self) -> None:
        # Ahead of the sandboxes: a query window ends on a whole second (see cycle_fixtures.ahead).
        self.at = datetime.now(UTC) + timedelta(seconds=2)


@dataclasses.dataclass
class Twin:
    """One of the two orgs: its sandbox, its leadq context, and the chunk size it cycles with."""

    server: SandboxServer
    ctx: CycleContext
    chunk: int


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def twins(
    stack: ExitStack, tmp_path: Path, state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch, clock: Frozen,
    *, pools: bool = False,
) -> tuple[Twin, Twin]:  # fmt: skip
    made = []
    for name, chunk in (("whole", WHOLE), ("tiny", TINY)):
        server = stack.enter_context(seeded_sandbox(state_dir, leads=60))
        folder = tmp_path / name
        folder.mkdir()
        replace = settings(crm, users(server, crm), pools)
        config = load(sandbox_config(folder, server, crm, replace=replace), server, monkeypatch)
        set_up(config)
        ctx = context(config, folder, clock=clock)
        stack.callback(close, ctx)
        made.append(Twin(server, ctx, chunk))
    return made[0], made[1]


def install_champion(ctx: CycleContext, crm: Crm, now: datetime) -> str:
    """A champion trained on the org's own people (alternating labels): a re-score of everyone next."""
    world = world_of(ctx, crm)
    people = sorted(world.people.values(), key=lambda p: p.id)
    frame = build_features(people, graph=world.graph, features=ctx.mapping(crm).features, crm=crm, now=now)
    labels = pd.Series(np.arange(len(people)) % 2, index=frame.data.index)
    trained = train(frame, labels, ScoringConfig(min_labels_per_class=20))
    registry = ModelRegistry(ctx.state_dir / crm)
    version = registry.save(trained)
    registry.promote(version)
    return version


def copy_models(source: CycleContext, target: CycleContext, crm: Crm) -> None:
    """The same champion (same version, same artifact) in the other org's state folder."""
    shutil.copytree(source.state_dir / crm, target.state_dir / crm, dirs_exist_ok=True)


_UNSTABLE = {"id", "at", "created_at", "updated_at", "written_at", "decided_at", "set_at", "cleared_at"}
_TABLES: dict[str, tuple[Any, bool]] = {  # table -> (model, whether its row order must match too)
    "outbox": (OutboxRow, True),
    "score_history": (ScoreRow, True),
    "review_tasks": (ReviewTaskRow, True),
    "ledger": (LedgerRow, False),
    "audit_log": (AuditRow, False),
    "labels": (LabelRow, False),
    "overrides": (OverrideRow, False),
}


def store_contents(ctx: CycleContext) -> dict[str, list[str]]:
    """Every row leadq keeps of its decisions, without ids and timestamps; ordered by id where the order
    is part of the result (send order, history, task rotation), sorted elsewhere."""
    out: dict[str, list[str]] = {}
    with ctx.store.session() as s:
        for name, (model, ordered) in _TABLES.items():
            columns = [c for c in model.__table__.columns if c.name not in _UNSTABLE]
            query = select(*columns)
            if "id" in model.__table__.columns:
                query = query.order_by(model.__table__.columns["id"])
            rows = [json.dumps(dict(r._mapping), sort_keys=True, default=str) for r in s.execute(query)]
            out[name] = rows if ordered else sorted(rows)
    return out


def crm_state(server: SandboxServer, ctx: CycleContext, crm: Crm) -> dict[str, Any]:
    """Our writeback fields on every person, and leadq's tasks (by key), as the CRM holds them."""
    fields = [ctx.mapping(crm).writeback.field_for(slot).field for slot in (*WRITTEN_SLOTS, "scored_at")]
    if crm == "salesforce":
        sf = salesforce_client(server)
        people = {
            r["Id"]: {f: r[f] for f in fields}
            for obj in ("Lead", "Contact")
            for r in sf.query_all(f"SELECT Id, {', '.join(fields)} FROM {obj}")["records"]
        }
        tasks = {
            r["leadq_Key__c"]: {
                k: r[k] for k in ("OwnerId", "WhoId", "Subject", "Description", "ActivityDate")
            }
            for r in sf.query_all(
                "SELECT leadq_Key__c, OwnerId, WhoId, Subject, Description, ActivityDate FROM Task "
                "WHERE leadq_Key__c != null"
            )["records"]
        }
        return {"people": people, "tasks": tasks}
    hs = hubspot_client(server)
    people = {
        c.id: {f: c.properties.get(f) for f in fields} for c in hs.crm.contacts.get_all(properties=fields)
    }
    props = ["leadq_key", "hubspot_owner_id", "hs_task_subject", "hs_task_body", "hs_timestamp"]
    tasks = {
        t.properties["leadq_key"]: {
            **{p: t.properties.get(p) for p in props},
            "who": sorted(a.id for a in t.associations["contacts"].results) if t.associations else [],
        }
        for t in hs.crm.objects.get_all("tasks", properties=props, associations=["contacts"])
        if t.properties.get("leadq_key")
    }
    return {"people": people, "tasks": tasks}


def same_counts(a: CrmReport, b: CrmReport) -> None:
    keys = ("scored", "explained", "written", "fields_written", "human_edits", "tasks_created", "labels",
            "overrides", "pending", "model_version", "rule_based", "drift", "planned")  # fmt: skip
    assert {k: getattr(a, k) for k in keys} == {k: getattr(b, k) for k in keys}
    assert set(a.phases) == set(b.phases)  # the chunks' timings summed under the same phases


def assert_same(whole: Twin, tiny: Twin, crm: Crm) -> None:
    left, right = store_contents(whole.ctx), store_contents(tiny.ctx)
    for table in _TABLES:
        if left[table] != right[table]:
            pairs = [(a, b) for a, b in zip(left[table], right[table], strict=False) if a != b]
            first = pairs[0] if pairs else (len(left[table]), len(right[table]))
            pytest.fail(f"{table}: {len(pairs)} rows differ, first:\n{first[0]}\n{first[1]}")
    assert crm_state(whole.server, whole.ctx, crm) == crm_state(tiny.server, tiny.ctx, crm)


def run_both(whole: Twin, tiny: Twin, crm: Crm, clock: Frozen, **kw: Any) -> tuple[CrmReport, CrmReport]:
    clock.tick()
    reports = []
    for twin in (whole, tiny):
        out = run_cycle(twin.ctx, chunk=twin.chunk, **kw).crms[crm]
        assert out.stopped is None, out.stopped
        reports.append(out)
    same_counts(*reports)
    return reports[0], reports[1]


def first_cycles(whole: Twin, tiny: Twin, crm: Crm, clock: Frozen) -> CrmReport:
    """A dry run, then the first cycle (everyone scored, rule-based); the review caps bind a few chunks in."""
    assert crm_state(whole.server, whole.ctx, crm) == crm_state(tiny.server, tiny.ctx, crm)  # twins
    preview, _ = run_both(whole, tiny, crm, clock, dry_run=True)
    assert preview.planned and sum(p.kind == "task" for p in preview.planned) == CAP * 2

    first, _ = run_both(whole, tiny, crm, clock)
    assert first.scored > 10 * TINY and first.rule_based and first.tasks_created == CAP * 2
    assert {"pull", "graph", "plan", "commit", "write"} <= set(
        first.phases
    ) and "commit" not in preview.phases
    tasks = whole.ctx.store.review_tasks(crm)
    assert {t.reviewer for t in tasks} == set(users(whole.server, crm))
    rank = {i: n for n, i in enumerate(sorted(world_of(whole.ctx, crm).people))}
    scored = [e for e in whole.ctx.store.audit_export() if e["action"] == "scored"]
    wanted = [rank[e["record_id"]] for e in scored if e["new"]["review"]]
    last_task = max(rank[t.lead_id] for t in tasks)
    assert last_task >= TINY and max(wanted) > last_task, "the caps bind in a later chunk than the first"
    assert_same(whole, tiny, crm)
    return first


@pytest.mark.parametrize("crm", CRMS)
def test_chunks_give_the_same_first_and_idle_cycles_as_one_batch(
    tmp_path: Path, sandbox_state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Frozen()
    with ExitStack() as stack:
        whole, tiny = twins(stack, tmp_path, sandbox_state_dir, crm, monkeypatch, clock)
        first_cycles(whole, tiny, crm, clock)
        # People's edits of our score on a few records spanning several chunks: the echoes' ledger is read
        # a chunk at a time, and finds the same edits as one read.
        edited = sorted(i for i, v in Org(whole.server, crm).scores().items() if v is not None)[
            : 2 * TINY + 1
        ]
        for twin in (whole, tiny):
            org = Org(twin.server, crm)
            for person in edited:
                org.update(person, {SCORE[crm]: 99})
        idle, _ = run_both(whole, tiny, crm, clock)
        assert idle.scored == 0 and idle.echoes > 0 and idle.human_edits == len(edited)
        assert_same(whole, tiny, crm)


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_chunks_give_the_same_rescore_with_a_champion_as_one_batch(
    tmp_path: Path, sandbox_state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Frozen()
    with ExitStack() as stack:
        whole, tiny = twins(stack, tmp_path, sandbox_state_dir, crm, monkeypatch, clock)
        first = first_cycles(whole, tiny, crm, clock)
        version = install_champion(whole.ctx, crm, clock())
        copy_models(whole.ctx, tiny.ctx, crm)
        rescored, _ = run_both(whole, tiny, crm, clock)  # a new champion: everyone is re-scored
        assert rescored.model_version == version and not rescored.rule_based
        assert rescored.scored == first.scored and rescored.drift["rows"] == rescored.scored
        assert rescored.drift["columns"], rescored.drift  # measured over all chunks (equal reports)
        assert_same(whole, tiny, crm)

        idle, _ = run_both(whole, tiny, crm, clock)
        assert idle.scored == 0
        assert_same(whole, tiny, crm)


def test_pools_deal_over_the_whole_cycle_whatever_the_chunk(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool deals its leads best score first across everyone scored: one batch, at any chunk size."""
    crm: Crm = "salesforce"
    clock = Frozen()
    with ExitStack() as stack:
        whole, tiny = twins(stack, tmp_path, sandbox_state_dir, crm, monkeypatch, clock, pools=True)
        first, _ = run_both(whole, tiny, crm, clock)
        targets = Counter(r.contributions["target"] for r in latest(whole.ctx, crm))
        owners = users(whole.server, crm)
        assert targets == {owners[0]: 5, owners[1]: 5, None: first.scored - 10}, targets  # caps of 5
        assert_same(whole, tiny, crm)


def latest(ctx: CycleContext, crm: Crm) -> list[Any]:
    with ctx.store.session() as s:
        return list(s.scalars(select(ScoreRow).where(ScoreRow.crm == crm)))
