"""The admin's drift task: planned once per (CRM, champion model) when scores drift, created in the CRM
through the outbox, attached to no person; none without an admin. End to end against the sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Crm, ScoringConfig
from mappings.config.loader import parse_config
from sandbox import SandboxServer
from scoring.features import build_features
from scoring.registry import ModelRegistry
from scoring.training import train
from sync.context import CycleContext
from sync.cycle import run_cycle, world_of
from sync.decide import MODEL_MARK
from sync.drift_task import DUE_AFTER, LISTED, drift_key, plan_drift_tasks, record_drift_tasks
from sync.state import StateStore
from tests.conftest import hubspot_client, salesforce_client
from tests.scoring.model_fixtures import one_thread
from tests.sync.cycle_fixtures import (
    close,
    context,
    seeded_sandbox,
    set_up_context,
)
from tests.sync.test_cycle import CrashAfterSend, SimulatedCrash

CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")
NOW = datetime(2026, 6, 12, 12, 0, tzinfo=UTC)
# A small label minimum (the hand-made champion is trained on the sandbox's ~150 people), no retraining
# (a retrain could promote a new model mid-test, which may rightly raise a new task), and no review tasks
# (hundreds of them under a drifted model: slow, and beside the point here).
SMALL_MODEL = {
    "review:\n  enabled: true": "review:\n  enabled: false",
    "min_labels_per_class: 200": "min_labels_per_class: 20",
    "every_n_labels: 100": "every_n_labels: 1000000",
    'schedule: "0 3 * * 0"': "schedule: null",
}


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture()
def server(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    with seeded_sandbox(sandbox_state_dir, leads=150) as running:
        yield running


def admin_of(server: SandboxServer, crm: str) -> str:
    """A real user (Salesforce) or owner (HubSpot) of the sandbox org."""
    if crm == "salesforce":
        rows = salesforce_client(server).query("SELECT Id FROM User LIMIT 1")["records"]
        return str(rows[0]["Id"])
    return str(hubspot_client(server).crm.owners.owners_api.get_page().results[0].id)


def drift_tasks_in_crm(server: SandboxServer, crm: str) -> list[dict[str, Any]]:
    """leadq's drift tasks as the CRM holds them: key, owner, subject, body, who."""
    if crm == "salesforce":
        sf = salesforce_client(server)
        rows = sf.query_all(
            "SELECT Id, leadq_Key__c, OwnerId, Subject, Description, WhoId, Priority FROM Task "
            "WHERE leadq_Key__c != null"
        )["records"]
        found = [{"id": r["Id"], "key": r["leadq_Key__c"], "owner": r["OwnerId"], "subject": r["Subject"],
                  "body": r["Description"], "who": r["WhoId"]} for r in rows]  # fmt: skip
    else:
        hs = hubspot_client(server)
        props = ["leadq_key", "hubspot_owner_id", "hs_task_subject", "hs_task_body"]
        tasks = hs.crm.objects.get_all("tasks", properties=props, associations=["contacts"])
        found = [
            {"id": t.id, "key": t.properties.get("leadq_key"), "owner": t.properties.get("hubspot_owner_id"),
             "subject": t.properties.get("hs_task_subject"), "body": t.properties.get("hs_task_body"),
             "who": [a.id for a in t.associations["contacts"].results] if t.associations else None}
            for t in tasks
        ]  # fmt: skip
    return [t for t in found if ":drift:" in str(t["key"] or "")]


def install_drifted_champion(ctx: CycleContext, crm: Crm) -> str:
    """A champion trained on the CRM's own people with every number shifted far up: today's leads (the
    real numbers) then sit outside all of its training ranges, which is drift at alert level."""
    world = world_of(ctx, crm)
    people = sorted(world.people.values(), key=lambda p: p.id)
    frame = build_features(people, graph=world.graph, features=ctx.mapping(crm).features, crm=crm, now=NOW)
    numbers = [c for c in frame.data.columns if pd.api.types.is_numeric_dtype(frame.data[c])]
    assert numbers, list(frame.data.columns)
    shifted = frame.data.assign(**{c: frame.data[c].fillna(0) + 1e6 for c in numbers})
    labels = pd.Series(np.arange(len(people)) % 2, index=frame.data.index)
    trained = train(dataclasses.replace(frame, data=shifted), labels, ScoringConfig(min_labels_per_class=20))
    registry = ModelRegistry(ctx.state_dir / crm)
    version = registry.save(trained)
    registry.promote(version)
    return version


def make_ctx(tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch,
             admin: str | None) -> CycleContext:  # fmt: skip
    replace = dict(SMALL_MODEL)
    if admin is not None:
        replace["admin: {}"] = f"admin: {{{crm}: '{admin}'}}"
    return set_up_context(tmp_path, server, crm, monkeypatch, replace)


@pytest.mark.parametrize("crm", CRMS)
def test_a_drifting_cycle_gives_the_admin_one_task_per_model(
    tmp_path: Path, server: SandboxServer, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_of(server, crm)
    ctx = make_ctx(tmp_path, server, crm, monkeypatch, admin)
    try:
        first = run_cycle(ctx).crms[crm]
        assert first.drift == {} and drift_tasks_in_crm(server, crm) == []  # rules only: nothing to drift

        version = install_drifted_champion(ctx, crm)
        drifting = run_cycle(ctx).crms[crm]  # a new champion: everyone is re-scored
        assert drifting.drift["level"] == "alert", drifting.drift
        assert drifting.drift["model_version"] == version and drifting.stopped is None
        tasks = drift_tasks_in_crm(server, crm)
        assert len(tasks) == 1, tasks
        task = tasks[0]
        assert task["key"] == drift_key(crm, version) == f"leadq:{crm}:drift:{version}"
        assert task["owner"] == admin
        assert task["who"] in (None, [])  # about no person
        assert task["subject"] == f"leadq: lead scores drifting (model {version})"
        body = str(task["body"])
        assert f"Score PSI: {drifting.drift['score_psi']:.3f}" in body
        worst = drifting.drift["drifted"][0]
        assert f"{drifting.drift['columns'][worst]:.3f} (alert)" in body
        assert body.count("\n- ") == min(len(drifting.drift["drifted"]), LISTED) + 4 + (
            len(drifting.drift["drifted"]) > LISTED
        )  # the inputs (at most LISTED, then "and N more"), then the four things to do
        assert "alert at 0.25" in body and f"leadq report --crm {crm}" in body
        assert f"leadq model rollback --crm {crm}" in body and "1000000 new labels" in body
        planned = [e for e in ctx.store.audit_export() if e["action"] == "drift_task_planned"]
        assert [(e["new"], e["model_version"], e["detail"]["admin"]) for e in planned] == [
            (task["key"], version, admin)
        ]
        created = [e for e in ctx.store.audit_export()
                   if e["action"] == "task_created" and ":drift:" in e["detail"]["key"]]  # fmt: skip
        assert [e["detail"]["task_id"] for e in created] == [task["id"]]

        ctx.store.set_cursor(crm, MODEL_MARK, {"value": "an-older-champion"})  # re-score everyone again
        again = run_cycle(ctx).crms[crm]
        assert again.drift["level"] == "alert" and again.tasks_created == 0
        assert len(drift_tasks_in_crm(server, crm)) == 1
        assert len([e for e in ctx.store.audit_export() if e["action"] == "drift_task_planned"]) == 1
        alerts = [e for e in ctx.store.audit_export() if e["action"] == "drift_alert"]
        assert len(alerts) == 2  # still logged and audited every drifting cycle
    finally:
        close(ctx)


def test_without_an_admin_drift_is_only_logged(
    tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(tmp_path, server, "hubspot", monkeypatch, admin=None)
    try:
        run_cycle(ctx)
        install_drifted_champion(ctx, "hubspot")
        drifting = run_cycle(ctx).crms["hubspot"]
        assert drifting.drift["level"] == "alert" and drifting.stopped is None
        assert drift_tasks_in_crm(server, "hubspot") == []
        actions = {e["action"] for e in ctx.store.audit_export()}
        assert "drift_alert" in actions and "drift_task_planned" not in actions
    finally:
        close(ctx)


def test_a_crash_after_the_task_landed_creates_no_second_one(
    tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm: Crm = "hubspot"
    admin = admin_of(server, crm)
    ctx = make_ctx(tmp_path, server, crm, monkeypatch, admin)
    run_cycle(ctx)
    version = install_drifted_champion(ctx, crm)
    ctx.connectors = {crm: CrashAfterSend(ctx.connectors[crm], on="task")}
    with pytest.raises(SimulatedCrash):
        run_cycle(ctx)  # the task is in the CRM; the outbox still says "sent"
    close(ctx)
    restarted = context(ctx.config, tmp_path)
    try:
        run_cycle(restarted)
        tasks = drift_tasks_in_crm(server, crm)
        assert [(t["key"], t["owner"]) for t in tasks] == [(drift_key(crm, version), admin)]
        item = restarted.store.outbox_by_key(drift_key(crm, version))
        assert item is not None and item.state == "done"
        found = [e for e in restarted.store.audit_export() if e["action"] == "task_found"]
        assert [e["detail"]["key"] for e in found] == [drift_key(crm, version)]
    finally:
        close(restarted)


# ---- the planner on its own ----------------------------------------------------------------------------


def unit_context(store: StateStore, tmp_path: Path, admin: str = "") -> CycleContext:
    text = f"""
salesforce:
  connection:
    instance_url: https://127.0.0.1:1
    auth: {{method: access_token, access_token: {{env: LEADQ_TEST_NO_TOKEN}}}}
scoring:
  drift: {{psi_warn: 0.1, psi_alert: 0.25{admin}}}
"""
    config = parse_config(text, resolve=False)
    return CycleContext(config=config, store=store, connectors={}, state_dir=tmp_path / ".leadq")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}", clock=lambda: NOW)
    yield opened
    opened.close()


ADMIN = ", admin: {salesforce: 005000000000001AAA}"
psis = st.floats(min_value=0, max_value=5, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    level=st.sampled_from(["ok", "warn", "alert"]),
    columns=st.dictionaries(st.sampled_from(["employees", "lead_source", "industry", "visits"]), psis),
    score_psi=psis,
    version=st.none() | st.from_regex(r"[0-9]{8}-[a-z0-9]{6}", fullmatch=True),
)
def test_only_an_alert_plans_a_task_and_its_text_names_every_drifted_input(
    store: StateStore,  # shared by the examples: planning only reads it
    tmp_path: Path,
    level: str,
    columns: dict[str, float],
    score_psi: float,
    version: str | None,
) -> None:
    ctx = unit_context(store, tmp_path, ADMIN)
    drifted = sorted((n for n, p in columns.items() if p >= 0.1), key=lambda n: -columns[n])
    drift = {"level": level, "score_psi": score_psi, "columns": columns, "drifted": drifted, "rows": 321,
             "judged": True, "model_version": version, "psi_warn": 0.1, "psi_alert": 0.25}  # fmt: skip
    tasks = plan_drift_tasks(ctx, "salesforce", drift, NOW)
    if level != "alert":
        assert tasks == []
        return
    (task,) = tasks
    spec = task.spec
    assert spec.idempotency_key == f"leadq:salesforce:drift:{version or 'unversioned'}"
    assert (spec.owner_id, spec.who_id, spec.due, spec.priority) == (
        "005000000000001AAA",
        "",
        NOW + DUE_AFTER,
        "High",
    )
    assert "321 of them" in spec.body and f"Score PSI: {score_psi:.3f}" in spec.body
    for name in drifted:
        assert f"{columns[name]:.3f} ({'alert' if columns[name] >= 0.25 else 'warn'})" in spec.body
    assert ("No single input" in spec.body) == (not drifted)
    assert task.lead_id is None and spec.subject.endswith(f"(model {version or 'unversioned'})")


ALERT: dict[str, object] = {
    "level": "alert", "score_psi": 0.4, "columns": {}, "drifted": [], "rows": 200, "model_version": "v1",
}  # fmt: skip


def test_a_task_in_the_outbox_is_not_planned_again_but_a_new_model_gets_one(
    store: StateStore, tmp_path: Path
) -> None:
    ctx = unit_context(store, tmp_path, ADMIN)
    drift = dict(ALERT)
    (task,) = plan_drift_tasks(ctx, "salesforce", drift, NOW)
    record_drift_tasks(ctx, "salesforce", [task])
    store.enqueue("salesforce", "task", "Task", None, {}, task.spec.idempotency_key)
    assert plan_drift_tasks(ctx, "salesforce", drift, NOW) == []
    assert plan_drift_tasks(ctx, "hubspot", drift, NOW) == []  # no admin for HubSpot
    (newer,) = plan_drift_tasks(ctx, "salesforce", {**drift, "model_version": "v2"}, NOW)
    assert newer.spec.idempotency_key == "leadq:salesforce:drift:v2"
    audits = [e for e in store.audit_export() if e["action"] == "drift_task_planned"]
    assert [(e["new"], e["model_version"], e["object"]) for e in audits] == [
        ("leadq:salesforce:drift:v1", "v1", "Task")
    ]


def test_no_admin_plans_nothing(store: StateStore, tmp_path: Path) -> None:
    ctx = unit_context(store, tmp_path)
    drift = dict(ALERT)
    assert plan_drift_tasks(ctx, "salesforce", drift, NOW) == []
