"""Round trips of the state store's read side and decision tables, on every configured backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync.state import ScoreRecord, StateStore, content_hash
from tests.sync.test_state_support import T0, FakeClock


def test_cursor_round_trip_and_overwrite(store: StateStore) -> None:
    assert store.get_cursor("salesforce", "Lead") is None
    store.set_cursor("salesforce", "Lead", {"value": "2025-03-01T11:58:00.000+0000"})
    store.set_cursor("hubspot", "contacts", {"value": "2025-03-01T11:00:00Z"})
    store.set_cursor("salesforce", "Lead", {"value": "2025-03-01T12:00:00.000+0000"})
    assert store.get_cursor("salesforce", "Lead") == {"value": "2025-03-01T12:00:00.000+0000"}
    assert store.get_cursor("hubspot", "contacts") == {"value": "2025-03-01T11:00:00Z"}
    assert store.get_cursor("hubspot", "companies") is None


def test_snapshot_round_trip(store: StateStore, clock: FakeClock) -> None:
    values = {"email": "ana@acme.example", "employees": 120, "tags": ["a", "b"], "score": None}
    stamp = datetime(2025, 2, 28, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    saved = store.put_snapshot("salesforce", "Lead", "00Q1", values, modified_at=stamp)
    assert saved.content_hash == content_hash(values)
    got = store.get_snapshot("salesforce", "Lead", "00Q1")
    assert got == saved
    assert got is not None and got.values == values and got.modified_at == stamp
    assert got.pulled_at == T0

    clock.advance(minutes=5)
    store.put_snapshot("salesforce", "Lead", "00Q1", {"email": "new@acme.example"}, digest="custom")
    again = store.get_snapshot("salesforce", "Lead", "00Q1")
    assert again is not None and again.content_hash == "custom" and again.modified_at is None
    assert again.pulled_at == T0 + timedelta(minutes=5)

    store.put_snapshot("salesforce", "Lead", "00Q2", {"x": 1})
    many = store.get_snapshots("salesforce", "Lead", ["00Q1", "00Q2", "missing", "00Q1"])
    assert set(many) == {"00Q1", "00Q2"}
    assert store.delete_snapshot("salesforce", "Lead", "00Q2") is True
    assert store.delete_snapshot("salesforce", "Lead", "00Q2") is False
    assert store.get_snapshot("salesforce", "Lead", "00Q2") is None


def test_get_snapshots_handles_more_ids_than_one_statement_binds(store: StateStore) -> None:
    with store.transaction():
        for i in range(1200):
            store.put_snapshot("hubspot", "contacts", str(i), {"i": i})
    found = store.get_snapshots("hubspot", "contacts", [str(i) for i in range(1300)])
    assert len(found) == 1200 and found["1199"].values == {"i": 1199}


def test_content_hash_ignores_key_order() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": "1"})


def test_runs_round_trip(store: StateStore, clock: FakeClock) -> None:
    run = store.start_run()
    assert run.status == "running" and run.finished_at is None and run.started_at == T0
    clock.advance(seconds=42)
    report = {"pulled": {"Lead": 12}, "written": 3, "errors": []}
    done = store.finish_run(run.id, "succeeded", report)
    assert done.finished_at == T0 + timedelta(seconds=42) and done.report == report
    assert store.get_run(run.id) == done
    later = store.start_run()
    assert [r.id for r in store.recent_runs()] == [later.id, run.id]
    assert store.get_run(9999) is None
    with pytest.raises(KeyError):
        store.finish_run(9999, "failed", None)


def test_audit_export_since_in_order(store: StateStore) -> None:
    at = [T0 + timedelta(minutes=m) for m in (3, 1, 2, 2)]
    for i, when in enumerate(at):
        store.audit(
            "leadq",
            "write",
            crm="salesforce",
            obj="Lead",
            record_id=f"00Q{i}",
            field="Score__c",
            old=None if i == 0 else i,
            new=i + 10,
            model_version="m1",
            policy_version="p1",
            detail={"i": i},
            at=when,
        )
    store.audit("005xx", "human_edit", at=T0 + timedelta(minutes=4))
    everything = list(store.audit_export())
    assert [e["at"] for e in everything] == sorted(e["at"] for e in everything)
    assert [e["record_id"] for e in everything] == ["00Q1", "00Q2", "00Q3", "00Q0", None]
    since = list(store.audit_export(T0 + timedelta(minutes=2), batch=2))
    assert [e["record_id"] for e in since] == ["00Q2", "00Q3", "00Q0", None]
    first = everything[0]
    assert first["actor"] == "leadq" and first["old"] == 1 and first["new"] == 11
    assert first["detail"] == {"i": 1} and first["model_version"] == "m1" and first["at"].tzinfo is UTC
    assert everything[-1]["actor"] == "005xx"


def test_audit_export_pages_through_many_entries(store: StateStore) -> None:
    with store.transaction():
        for i in range(25):
            store.audit("leadq", "score", record_id=str(i), at=T0)  # identical stamps: id breaks ties
    assert [e["record_id"] for e in store.audit_export(batch=7)] == [str(i) for i in range(25)]


def test_review_tasks_are_idempotent_and_update(store: StateStore, clock: FakeClock) -> None:
    due = T0 + timedelta(days=1)
    first = store.add_review_task(
        "salesforce", "00Q1", "rev:00Q1:1", reviewer="005A", due=due, detail={"why": "borderline"}
    )
    dup = store.add_review_task("salesforce", "00Q1", "rev:00Q1:1", reviewer="005B")
    assert dup == first and first.state == "open" and first.due == due and first.task_id is None
    store.update_review_task("rev:00Q1:1", task_id="00T9")
    decided = store.update_review_task(
        "rev:00Q1:1", state="completed", decision="approve", decided_at=clock.advance(hours=3)
    )
    assert decided.task_id == "00T9" and decided.reviewer == "005A" and decided.decision == "approve"
    assert decided.decided_at == T0 + timedelta(hours=3)
    assert store.review_task("rev:00Q1:1") == decided
    store.add_review_task("salesforce", "00Q2", "rev:00Q2:1")
    store.add_review_task("hubspot", "501", "rev:501:1")
    assert [t.lead_id for t in store.review_tasks("salesforce", state="open")] == ["00Q2"]
    assert [t.lead_id for t in store.review_tasks("salesforce", lead_id="00Q1")] == ["00Q1"]
    assert store.review_task("nope") is None
    with pytest.raises(KeyError):
        store.update_review_task("nope", state="cancelled")


def test_override_expiry_and_clearing(store: StateStore) -> None:
    store.set_override("salesforce", "00Q1", 90, "005A", expires_at=T0 + timedelta(days=7), set_at=T0)
    assert store.active_override("salesforce", "00Q1", T0 - timedelta(seconds=1)) is None
    active = store.active_override("salesforce", "00Q1", T0 + timedelta(days=1))
    assert active is not None and active.score == 90 and active.set_by == "005A"
    assert store.active_override("salesforce", "00Q1", T0 + timedelta(days=7)) is None  # expiry is exclusive
    assert store.active_override("hubspot", "00Q1", T0 + timedelta(days=1)) is None

    newer = store.set_override("salesforce", "00Q1", 20, "005B", set_at=T0 + timedelta(days=2))
    assert store.active_override("salesforce", "00Q1", T0 + timedelta(days=3)) == newer
    assert store.active_override("salesforce", "00Q1", T0 + timedelta(days=30)) == newer  # no expiry
    assert store.clear_override("salesforce", "00Q1", at=T0 + timedelta(days=4)) == 2
    assert store.active_override("salesforce", "00Q1", T0 + timedelta(days=5)) is None


def test_labels_round_trip(store: StateStore) -> None:
    store.add_label("salesforce", "00Q1", 1, "outcome", detail={"stage": "Closed Won"}, at=T0)
    store.add_label("salesforce", "00Q2", 0, "review", at=T0 + timedelta(hours=1))
    store.add_label("hubspot", "501", 1, "review", at=T0)
    got = store.labels("salesforce")
    assert [(lbl.lead_id, lbl.label, lbl.source) for lbl in got] == [
        ("00Q1", 1, "outcome"),
        ("00Q2", 0, "review"),
    ]
    assert got[0].detail == {"stage": "Closed Won"}
    assert [lbl.lead_id for lbl in store.labels("salesforce", since=T0 + timedelta(minutes=1))] == ["00Q2"]
    with pytest.raises(ValueError, match="0 or 1"):
        store.add_label("salesforce", "00Q3", 2, "outcome")


def test_model_index_roles(store: StateStore, clock: FakeClock) -> None:
    metrics = {"auc": 0.81, "brier": 0.12}
    store.register_model("v1", "salesforce", "default", "/models/v1", metrics=metrics)
    store.register_model("v2", "salesforce", "default", "/models/v2")
    assert store.champion("salesforce", "default") is None
    promoted = store.set_model_role("salesforce", "v1", "champion")
    assert promoted.promoted_at == T0 and promoted.metrics == metrics
    clock.advance(days=1)
    with store.transaction():
        store.set_model_role("salesforce", "v1", "retired")
        store.set_model_role("salesforce", "v2", "champion")
    champion = store.champion("salesforce", "default")
    assert (
        champion is not None and champion.version == "v2" and champion.promoted_at == T0 + timedelta(days=1)
    )
    assert [m.version for m in store.models("salesforce", role="retired")] == ["v1"]
    assert [m.version for m in store.models(segment="default")] == ["v1", "v2"]
    with pytest.raises(KeyError):
        store.set_model_role("salesforce", "v9", "champion")


def test_score_history_newest_first(store: StateStore) -> None:
    def score(minutes: int, value: int) -> ScoreRecord:
        return ScoreRecord(
            crm="salesforce",
            lead_id="00Q1",
            scored_at=T0 + timedelta(minutes=minutes),
            score=value,
            tier="A" if value >= 80 else "C",
            probability=value / 100,
            reasons="+ 2 colleagues at Acme engaged this month",
            contributions={"Industry": 0.12, "graph": -0.03},
            model_version="v1",
            policy_version="p1",
        )

    store.add_scores([score(0, 40), score(10, 85)])
    store.add_scores([score(5, 60)])
    history = store.score_history("salesforce", "00Q1")
    assert [h.score for h in history] == [85, 60, 40]
    assert history[0] == score(10, 85)
    assert [h.score for h in store.score_history("salesforce", "00Q1", limit=1)] == [85]
    assert store.score_history("hubspot", "00Q1") == []


def test_datetimes_round_trip_aware_in_utc(store: StateStore) -> None:
    tokyo = datetime(2025, 3, 1, 21, 0, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    store.audit("leadq", "tz", at=tokyo)
    [event] = store.audit_export()
    assert event["at"] == tokyo
    assert event["at"].tzinfo is UTC and event["at"].hour == 12 and event["at"].microsecond == 123456


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.audit("leadq", "tz", at=datetime(2025, 3, 1, 12, 0))
