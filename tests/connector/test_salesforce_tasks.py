"""Review tasks, notes, completed tasks and custom fields, idempotent, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.errors import ConnectorConfigError
from connector.protocol import FieldSpec, NoteSpec, TaskSpec, WriteStatus
from sandbox import FaultConfig, SandboxServer
from tests.connector.test_salesforce_support import (
    KEY,
    SCORE,
    T0,
    all_records,
    close_connectors,
    connector_for,
    freeze,
    later,
    leads,
)

TOOLING = "POST /services/data/vXX.X/tooling/sobjects/CustomField"
CREATE = "POST /services/data/vXX.X/composite/sobjects"
FIELDS = [
    SCORE,
    FieldSpec("Lead", "leadq_Tier", "leadq Tier", "picklist", options=("A", "B", "C", "D")),
    FieldSpec("Lead", "leadq_Why__c", "leadq Explanation", "longtext"),
    FieldSpec("Lead", "leadq_Scored_At__c", "leadq Scored At", "datetime"),
    FieldSpec("Lead", "leadq_Review_By__c", "leadq Review By", "date"),
    FieldSpec("Lead", "leadq_Override__c", "leadq Override", "checkbox"),
    FieldSpec("Lead", "leadq_Action__c", "leadq Action", "text", length=80),
    KEY,
]


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_connectors()


def test_create_fields_is_idempotent_and_maps_types(sandbox: SandboxServer) -> None:
    conn = connector_for(sandbox)
    first = conn.create_fields(FIELDS)
    assert [o.key for o in first][:2] == ["Lead.leadq_Score__c", "Lead.leadq_Tier__c"]
    assert all(o.ok and o.created and o.crm_id for o in first)
    # Task fields are asked for on Activity first; the sandbox knows no Activity and gets `Task.` next.
    assert conn.calls.snapshot()[TOOLING] in (len(FIELDS), len(FIELDS) + 1)
    lead = conn.describe("Lead").fields
    assert lead["leadq_Tier__c"].type == "picklist" and lead["leadq_Tier__c"].picklist_values == (
        "A",
        "B",
        "C",
        "D",
    )
    assert lead["leadq_Score__c"].type == "double" and lead["leadq_Override__c"].type == "boolean"
    assert lead["leadq_Why__c"].type == "textarea" and lead["leadq_Why__c"].length == 32_768
    assert (lead["leadq_Scored_At__c"].type, lead["leadq_Review_By__c"].type) == ("datetime", "date")
    assert lead["leadq_Action__c"].length == 80

    conn.calls.take()
    again = conn.create_fields(FIELDS)
    assert all(o.ok and not o.created for o in again)
    assert TOOLING not in conn.calls.snapshot(), "existing fields cost no Tooling call"


def test_the_task_key_is_an_indexed_external_id_and_its_look_up_uses_the_index(
    sandbox: SandboxServer,
) -> None:
    """Keys are looked up before each batch of tasks is created; among millions of Tasks an unindexed
    filter scans them all (minutes per batch on a 1M-lead org), on Salesforce as in the sandbox."""
    from sandbox.soql.compiler import compile_query
    from sandbox.soql.parser import parse

    conn = connector_for(sandbox)
    (outcome,) = conn.create_fields([KEY])
    assert outcome.ok and outcome.created
    assert conn.describe("Task").fields["leadq_Key__c"].external_id
    soql = "SELECT Id, leadq_Key__c FROM Task WHERE leadq_Key__c IN ('review-0', 'review-1')"
    plan = compile_query(sandbox.store, soql, parse(soql), include_deleted=True, version="v60.0")
    with sandbox.store.transaction() as c:
        steps = " ".join(str(row[-1]) for row in c.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params))
    assert "USING INDEX sf_Task_leadq_Key__c" in steps, steps


def test_only_a_text_field_can_be_an_external_id(sandbox: SandboxServer) -> None:
    bad = FieldSpec("Lead", "leadq_Score__c", "leadq Score", "number", external_id=True)
    with pytest.raises(
        ConnectorConfigError, match=r"Lead\.leadq_Score__c: only a text field can be an External ID"
    ):
        connector_for(sandbox).create_fields([bad])


def test_duplicate_developer_name_counts_as_existing(sandbox: SandboxServer) -> None:
    stale = connector_for(sandbox)
    stale.describe("Lead")  # cached before the field exists
    connector_for(sandbox).create_fields([SCORE])
    (outcome,) = stale.create_fields([SCORE])
    assert outcome.ok and not outcome.created and outcome.code == "DUPLICATE_DEVELOPER_NAME"
    assert stale.calls.snapshot()[TOOLING] == 1


def _tasks(ids: list[str], prefix: str = "review") -> list[TaskSpec]:
    return [
        TaskSpec(f"{prefix}-{n}", "Lead", i, None, f"Review lead {n}", f"Why: score {n}", later(T0, 86_400))
        for n, i in enumerate(ids)
    ]


def test_tasks_are_idempotent_by_key(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(3))
    conn = connector_for(sandbox)
    conn.create_fields([KEY])
    specs = _tasks(ids)
    first = conn.create_tasks(specs)
    assert all(o.ok and o.created for o in first) and [o.key for o in first] == [
        "review-0",
        "review-1",
        "review-2",
    ]
    task = sandbox.store.sf_get("Task", str(first[0].crm_id))
    assert task is not None
    assert (task["WhoId"], task["Status"], task["leadq_Key__c"], task["ActivityDate"]) == (
        ids[0],
        "Not Started",
        "review-0",
        "2031-03-02",
    )
    conn.calls.take()
    second = conn.create_tasks([*specs, *_tasks(ids[:1], prefix="other")])
    assert [o.crm_id for o in second[:3]] == [o.crm_id for o in first]
    assert not any(o.created for o in second[:3]) and second[3].created
    assert sandbox.store.sf_count("Task") == 4
    assert conn.calls.snapshot()[CREATE] == 1, "only the new key is created"


def test_task_without_key_field_says_run_setup(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(1))
    with pytest.raises(ConnectorConfigError, match=r"Task.leadq_Key__c does not exist .* run `leadq setup`"):
        connector_for(sandbox).create_tasks(_tasks(ids))


def test_a_rejected_task_does_not_stop_the_others(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(2))
    conn = connector_for(sandbox)
    conn.create_fields([KEY])
    specs = _tasks(ids)
    specs[0] = TaskSpec("bad", "Lead", "001000000000000AAA", None, "s", "b", T0)  # an Account is no WhoId
    outcomes = conn.create_tasks(specs)
    assert outcomes[0].status is WriteStatus.REJECTED and outcomes[0].code
    assert outcomes[1].ok and outcomes[1].created


def test_notes_and_completed_review_tasks(sandbox: SandboxServer) -> None:
    freeze(sandbox, T0)
    ids = sandbox.store.sf_insert_many("Lead", leads(2))
    conn = connector_for(sandbox)
    conn.create_fields([KEY])
    tasks = conn.create_tasks(_tasks(ids))
    notes = conn.create_notes([NoteSpec("n-1", "Lead", ids[0], "Scored 87\nBecause...", T0)])
    assert notes[0].ok and notes[0].created and notes[0].key == "n-1"
    assert conn.create_notes([NoteSpec("n-1", "Lead", ids[0], "Scored 87", T0)])[0].created is False
    note = sandbox.store.sf_get("Task", str(notes[0].crm_id))
    assert note is not None and note["Status"] == "Completed" and note["Subject"] == "Scored 87"

    sandbox.store.clock.freeze(later(T0, 60))
    sandbox.store.sf_update("Task", str(tasks[1].crm_id), {"Status": "Completed"}, user_id=ids[0][:3] + "x")
    pages = list(conn.completed_tasks(["WhoId", "Status"], None, run_started=later(T0, 120)))
    done = all_records(pages)
    assert [(r["leadq_Key__c"], r["WhoId"], r["Status"]) for r in done] == [("review-1", ids[1], "Completed")]
    assert pages[-1].high_water == later(T0, 60)


def test_task_creation_retried_after_server_errors_creates_each_key_once(sandbox: SandboxServer) -> None:
    ids = sandbox.store.sf_insert_many("Lead", leads(5))
    conn = connector_for(sandbox, max_retries=8)
    conn.create_fields([KEY])
    sandbox.state.configure_faults(
        FaultConfig(seed=1, error_5xx=0.5, paths=["/services/data/v59.0/composite"])
    )
    outcomes = conn.create_tasks(_tasks(ids))
    assert all(o.ok and o.created for o in outcomes)
    assert sandbox.store.sf_count("Task") == 5
    assert sandbox.state.faults.snapshot()["injected"]["error_5xx"] >= 1
    assert conn.calls.snapshot()["GET /services/data/vXX.X/queryAll/"] >= 2, (
        "keys looked up again before a retry"
    )
