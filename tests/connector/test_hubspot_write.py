"""Writes: batch updates (bisected, 207 partials, faults), idempotent tasks and notes, properties."""

from __future__ import annotations

from datetime import timedelta

from connector.protocol import FieldSpec, NoteSpec, RecordUpdate, TaskSpec, WriteStatus
from sandbox import FaultConfig, SandboxServer
from tests.connector.test_hubspot_support import (
    KEY,
    NOTE_KEY,
    T0,
    connector_for,
    contacts,
    sandbox_statuses,
    unlimited,
)

UPDATE = "POST /crm/v3/objects/contacts/batch/update"


def test_one_bad_input_is_bisected_out_and_every_other_record_written(sandbox: SandboxServer) -> None:
    rows = sandbox.store.hs_insert_many("contacts", contacts(250))
    updates = [
        RecordUpdate(str(r.id), {"firstname": f"New{i}", "jobtitle": "CTO"}) for i, r in enumerate(rows)
    ]
    updates[137] = RecordUpdate(str(rows[137].id), {"email": "not-an-email"})
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", updates)
        calls = hub.calls.snapshot()[UPDATE]
    assert [o.key for o in outcomes] == [u.id for u in updates]
    bad = outcomes[137]
    assert bad.status is WriteStatus.REJECTED
    assert bad.code == "INVALID_EMAIL"
    assert bad.message is not None and "not-an-email is invalid" in bad.message
    assert bad.fields == ("email",)
    assert all(o.status is WriteStatus.WRITTEN for i, o in enumerate(outcomes) if i != 137)
    stored = sandbox.store.hs_get_many("contacts", [r.id for r in rows])
    assert stored[rows[0].id].props["firstname"] == "New0"
    assert stored[rows[249].id].props["jobtitle"] == "CTO"
    assert stored[rows[137].id].props["email"] == rows[137].props["email"]
    assert calls <= 3 + 2 * 7  # 3 batches, then about two per halving of the bad one's batch


def test_a_207_is_mapped_per_input(sandbox: SandboxServer) -> None:
    rows = sandbox.store.hs_insert_many("contacts", contacts(3))
    updates = [
        RecordUpdate(str(rows[0].id), {"firstname": "A"}),
        RecordUpdate("999999991", {"firstname": "ghost"}),
        RecordUpdate(str(rows[1].id), {"firstname": None, "lastname": ""}),
        RecordUpdate("999999992", {"firstname": "ghost"}),
    ]
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", updates)
        assert hub.calls.snapshot() == {UPDATE: 1}
    assert [o.status for o in outcomes] == [
        WriteStatus.WRITTEN,
        WriteStatus.REJECTED,
        WriteStatus.WRITTEN,
        WriteStatus.REJECTED,
    ]
    assert outcomes[1].code == "OBJECT_NOT_FOUND" and outcomes[1].crm_id == "999999991"
    assert "firstname" not in sandbox.store.hs_get_many("contacts", [rows[1].id])[rows[1].id].props


def test_the_same_record_twice_goes_in_separate_calls_last_one_wins(sandbox: SandboxServer) -> None:
    row = sandbox.store.hs_insert("contacts", contacts(1)[0])
    updates = [
        RecordUpdate(str(row.id), {"firstname": "first"}),
        RecordUpdate(str(row.id), {"firstname": "last"}),
    ]
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", updates)
    assert all(o.ok for o in outcomes)
    assert sandbox.store.hs_get("contacts", row.id).props["firstname"] == "last"  # type: ignore[union-attr]


def test_whole_batch_faults_lose_no_record(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    rows = sandbox.store.hs_insert_many("contacts", contacts(300))
    sandbox.state.configure_faults(
        FaultConfig(seed=1, batch_fail=0.5, paths=["/crm/v3/objects/contacts/batch/update"])
    )
    updates = [RecordUpdate(str(r.id), {"jobtitle": f"T{i}"}) for i, r in enumerate(rows)]
    with connector_for(sandbox) as hub:
        outcomes = hub.apply_updates("contacts", updates)
    assert sandbox.state.faults.injected["batch_fail"] > 0
    stored = sandbox.store.hs_get_many("contacts", [r.id for r in rows])
    for u, o in zip(updates, outcomes, strict=True):
        written = stored[int(u.id)].props.get("jobtitle") == u.values["jobtitle"]
        if o.status is WriteStatus.WRITTEN:
            assert written
        else:  # only an injected 400 on a single record, or a 5xx that outlasted the retries
            assert not written
            assert o.status in (WriteStatus.REJECTED, WriteStatus.RETRYABLE)
            assert o.status is WriteStatus.RETRYABLE or "fault injection" in (o.message or "")
    statuses = {status for _, _, status, _ in sandbox_statuses(sandbox, "/batch/update", at_least=3)}
    assert {200, 400} <= statuses and statuses & {500, 502}  # bisected 400s and retried 5xx both happened
    assert sum(o.ok for o in outcomes) >= 200


def test_tasks_are_idempotent_by_key(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    people = sandbox.store.hs_insert_many("contacts", contacts(150))
    specs = [
        TaskSpec(
            idempotency_key=f"leadq:review:{p.id}:v1",
            who_object="contacts",
            who_id=str(p.id),
            owner_id=None,
            subject="Review lead score",
            body="Borderline score 52; please approve or override.",
            due=T0 + timedelta(days=2),
            priority="High",
        )
        for p in people
    ]
    with connector_for(sandbox) as hub:
        assert hub.create_fields([KEY])[0].ok
        first = hub.create_tasks(specs)
        created_calls = hub.calls.take()
        again = hub.create_tasks([*specs[:10], specs[0]])
        again_calls = hub.calls.take()
    assert all(o.ok and o.created for o in first)
    assert created_calls["POST /crm/v3/objects/tasks/batch/create"] == 2
    assert [o.crm_id for o in again] == [o.crm_id for o in first[:10]] + [first[0].crm_id]
    assert not any(o.created for o in again)
    assert "POST /crm/v3/objects/tasks/batch/create" not in again_calls
    assert sandbox.store.hs_count("tasks") == 150
    task_id = int(first[3].crm_id or 0)
    task = sandbox.store.hs_get("tasks", task_id)
    assert task is not None
    assert task.props["hs_task_status"] == "NOT_STARTED"
    assert task.props["hs_task_priority"] == "HIGH"
    assert task.props["leadq_key"] == specs[3].idempotency_key
    assert str(task.props["hs_timestamp"]).startswith("2031-03-03T09:00:00")
    assert (people[3].id, "HUBSPOT_DEFINED", 204) in sandbox.store.hs_associations(
        "tasks", task_id, "contacts"
    )


def test_a_task_for_a_missing_contact_is_rejected_alone(sandbox: SandboxServer) -> None:
    person = sandbox.store.hs_insert("contacts", contacts(1)[0])
    specs = [
        TaskSpec("k-good", "contacts", str(person.id), None, "Review", "b", T0),
        TaskSpec("k-ghost", "contacts", "999999999", None, "Review", "b", T0),
    ]
    with connector_for(sandbox) as hub:
        hub.create_fields([KEY])
        outcomes = hub.create_tasks(specs)
    assert outcomes[0].ok and outcomes[0].created
    assert outcomes[1].status is WriteStatus.REJECTED


def test_notes_are_idempotent_by_key(sandbox: SandboxServer) -> None:
    person = sandbox.store.hs_insert("contacts", contacts(1)[0])
    note = NoteSpec("leadq:note:1", "contacts", str(person.id), "Score 81 (A): 2 colleagues engaged.", T0)
    with connector_for(sandbox) as hub:
        hub.create_fields([NOTE_KEY])
        first = hub.create_notes([note])
        second = hub.create_notes([note])
    assert first[0].created and not second[0].created
    assert first[0].crm_id == second[0].crm_id
    note_id = int(first[0].crm_id or 0)
    assert (person.id, "HUBSPOT_DEFINED", 202) in sandbox.store.hs_associations("notes", note_id, "contacts")


def test_create_fields_is_idempotent_and_describe_sees_them(sandbox: SandboxServer) -> None:
    specs = [
        FieldSpec("contacts", "leadq_score", "leadq score", "number"),
        FieldSpec("contacts", "leadq_tier", "leadq tier", "picklist", options=("A", "B", "C", "D")),
        FieldSpec("contacts", "leadq_reasons", "leadq reasons", "longtext"),
        FieldSpec("contacts", "leadq_action", "leadq action", "text"),
        FieldSpec("contacts", "leadq_scored_at", "leadq scored at", "datetime"),
        FieldSpec("contacts", "leadq_review_due", "leadq review due", "date"),
        FieldSpec("contacts", "leadq_rules_only", "leadq rules only", "checkbox"),
        KEY,
    ]
    with connector_for(sandbox) as hub:
        first = hub.create_fields(specs)
        hub.calls.take()
        second = hub.create_fields(specs)
        calls = hub.calls.take()
        described = hub.describe("contacts")
        one = hub.describe("contacts").fields
    assert all(o.ok and o.created for o in first)
    assert all(o.ok and not o.created for o in second)
    assert calls == {"GET /crm/v3/properties/contacts": 1, "GET /crm/v3/properties/tasks": 1}
    fields = described.fields
    assert fields["leadq_score"].type == "number" and fields["leadq_score"].custom
    assert fields["leadq_tier"].picklist_values == ("A", "B", "C", "D")
    assert fields["leadq_reasons"].group == "leadq"
    assert fields["leadq_scored_at"].type == "datetime"
    assert fields["leadq_review_due"].type == "date"
    assert fields["leadq_rules_only"].type == "bool"
    assert not fields["email"].custom and fields["email"].updateable
    assert not one["hs_object_id"].updateable  # a read-only value
    assert described.name == "contacts"


def test_a_409_on_create_counts_as_existing(sandbox: SandboxServer) -> None:
    spec = FieldSpec("deals", "leadq_score", "leadq score", "number")
    with connector_for(sandbox) as hub, connector_for(sandbox) as other:
        hub.create_fields([FieldSpec("deals", "leadq_other", "x", "text")])  # the group now exists
        # a second process creates it between our listing and our create: simulate with the raw API
        assert other.create_fields([spec])[0].created
        from connector.hubspot import describe as describe_module

        outcome = describe_module._create_one(
            hub._apis, "deals", "deals.leadq_score", spec, describe_module._create_body(spec)
        )
    assert outcome.ok and not outcome.created
