"""The read-only operator commands on runs and scores: `runs`, `explain` and `history`.

They run on a config whose CRMs cannot be reached and whose secrets are not set, over a state store seeded
directly. `audit export` and `review list` are tests/sync/test_cli_ops_audit.py, `sync --once`
tests/sync/test_cli_ops_sync.py.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.cli_ops_lead import versions
from sync.report import RunReport
from sync.state import ScoreRecord, StateStore
from tests.sync.cli_ops_support import LEAD, T0
from tests.sync.conftest import Invoke


def report_json(status: str, **per_crm: dict[str, Any]) -> dict[str, Any]:
    """A stored run report, as the cycle stores `RunReport.to_json()`."""
    report = RunReport(started_at=T0, finished_at=T0 + timedelta(seconds=12.5), status=status)
    for crm, values in per_crm.items():
        part = report.crm(crm)
        for name, value in values.items():
            setattr(part, name, value)
    return report.to_json()


def contributions(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "up": [
            {"source": "graph", "label": "colleagues", "value": 2, "points": 12.0,
             "text": "2 colleagues at Acme engaged this month"},
            {"source": "field", "label": "Title", "value": "VP Sales", "points": 8, "text": "Title is VP Sales"},
        ],
        "down": [{"source": "field", "label": "Email", "value": None, "points": -5, "text": "No email address"}],
        "action": "route", "target": "005000000000AEX", "rule": "partner_referrals",
        "rule_reason": "Partner referrals go to the partner team", "overrode_model": True, "review": True,
        "review_reasons": ["borderline", "high value"], "changes": ["Score 55 -> 82: 2 colleagues engaged"],
        "segment": "smb", "rule_based": False, "object": "Lead", "completeness": 0.8,
    }  # fmt: skip
    return base | extra


def score(at: datetime, value: int, tier: str, parts: Any, lead: str = LEAD) -> ScoreRecord:
    return ScoreRecord(
        crm="salesforce", lead_id=lead, scored_at=at, score=value, tier=tier, probability=value / 100,
        reasons="2 colleagues at Acme engaged this month\nNo email address", contributions=parts,
        model_version="sf-2024.05.01", policy_version="p7",
    )  # fmt: skip


# ---- runs -------------------------------------------------------------------------------------------


def seed_runs(offline_store: StateStore) -> None:
    first = offline_store.start_run(T0)
    offline_store.finish_run(
        first.id, "succeeded",
        report_json("succeeded", salesforce={"pulled": Counter(Lead=120, Contact=30), "scored": 140,
                                              "written": 97, "rejected": 3, "tasks_created": 4}),
        T0 + timedelta(seconds=12.5),
    )  # fmt: skip
    second = offline_store.start_run(T0 + timedelta(hours=1))
    offline_store.finish_run(
        second.id, "partial",
        report_json("partial", hubspot={"pulled": Counter(contacts=40), "scored": 40, "tasks_completed": 2,
                                         "stopped": "DAILY quota spent"}),
        T0 + timedelta(hours=1, seconds=3),
    )  # fmt: skip
    offline_store.plan_write("salesforce", "Lead", LEAD, "leadq_Score__c", 55, 82)
    offline_store.set_ledger_state("salesforce", "Lead", LEAD, "leadq_Score__c", "sent")
    offline_store.set_ledger_state(
        "salesforce",
        "Lead",
        LEAD,
        "leadq_Score__c",
        "parked",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Score locked",
    )
    item = offline_store.enqueue(
        "hubspot", "task", "contacts", "501", {"subject": "Review"}, "hs:501:review:0"
    )
    offline_store.mark_parked(item.id, "contact 501 was deleted in HubSpot")


def test_runs_lists_history_newest_first_and_parked_writes(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_runs(offline_store)
    result = ops("runs", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.index("partial") < out.index("succeeded"), "newest first"
    assert "2024-05-01 09:00:00" in out and "12.5 s" in out
    assert "150" in out and "140" in out and "97" in out and "4 created, 0 completed" in out
    assert "HubSpot: DAILY quota spent" in out
    assert "parked: 2 writes" in out
    assert "Lead.leadq_Score__c -> 82" in out and "FIELD_CUSTOM_VALIDATION_EXCEPTION: Score locked" in out
    assert "task on contacts" in out and "contact 501 was deleted in HubSpot" in out

    doc = json.loads(ops("runs", "--json", "--limit", "1", "-c", str(offline_config)).stdout)
    [run] = doc["runs"]
    assert (run["status"], run["pulled"], run["tasks_completed"]) == ("partial", 40, 2)
    assert run["stopped"] == {"hubspot": "DAILY quota spent"} and run["duration_s"] == 12.5
    [parked_field] = doc["parked"]["fields"]
    assert (parked_field["field"], parked_field["value"], parked_field["attempts"]) == (
        "leadq_Score__c",
        82,
        1,
    )
    assert parked_field["reason"].startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert doc["parked"]["outbox"][0]["reason"] == "contact 501 was deleted in HubSpot"


def test_runs_on_an_empty_store_says_so(ops: Invoke, offline_config: Path) -> None:
    result = ops("runs", "-c", str(offline_config))
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout and "nothing parked" in result.stdout


def test_a_bad_config_exits_2_with_its_line(ops: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "leadq.yaml"
    config.write_text("hubspot:\n  connection: {}\nstate:\n  url: nowhere\n", encoding="utf-8")
    for command in (["runs"], ["explain", LEAD], ["history", LEAD], ["audit", "export"], ["review", "list"]):
        result = ops(*command, "-c", str(config))
        assert result.exit_code == 2, command
        assert f"{config}:4:" in result.stderr and "is not a database URL" in result.stderr


# ---- explain and history ----------------------------------------------------------------------------


def seed_scores(offline_store: StateStore) -> None:
    offline_store.add_scores([
        score(T0, 40, "C", contributions(changes=["First score"])),
        score(T0 + timedelta(days=1), 55, "C", contributions(changes=["Title changed to VP Sales"], trigger="changed")),
        score(T0 + timedelta(days=2), 82, "A", contributions(trigger="context")),
        score(T0, 30, "D", None, lead="00Q000000000002AAA"),
    ])  # fmt: skip


def test_explain_shows_the_latest_version_with_reasons_rule_review_and_override(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_scores(offline_store)
    offline_store.set_override(
        "salesforce", LEAD, 90, "reviewer:005R", expires_at=datetime.now(UTC) + timedelta(days=9)
    )
    result = ops("explain", LEAD, "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"Lead {LEAD} in Salesforce: score 82, tier A (probability 0.82)" in out
    assert "model sf-2024.05.01, policy p7, segment smb, data completeness 80%" in out
    assert "+ 2 colleagues at Acme engaged this month (+12)" in out and "- No email address (-5)" in out
    assert "recommended action: route -> 005000000000AEX" in out
    assert "rule: partner_referrals (Partner referrals go to the partner team): it overrode the model" in out
    assert "review asked: borderline, high value" in out
    assert "Score 55 -> 82: 2 colleagues engaged" in out
    assert "override: score 90 set by reviewer:005R" in out

    doc = json.loads(ops("explain", LEAD, "--crm", "salesforce", "--json", "-c", str(offline_config)).stdout)
    assert (doc["score"], doc["tier"], doc["crm"], doc["object"]) == (82, "A", "salesforce", "Lead")
    assert [r["points"] for r in doc["up"]] == [12.0, 8] and doc["down"][0]["text"] == "No email address"
    assert doc["review_reasons"] == ["borderline", "high value"] and doc["overrode_model"] is True
    assert doc["override"]["score"] == 90 and doc["override"]["set_by"] == "reviewer:005R"


def test_explain_tolerates_a_score_without_contributions(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_scores(offline_store)
    result = ops("explain", "00Q000000000002AAA", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    assert "score 30, tier D" in result.stdout
    assert "reasons:" in result.stdout and "No email address" in result.stdout
    assert "review: not asked" in result.stdout and "override: none active" in result.stdout
    doc = json.loads(ops("explain", "00Q000000000002AAA", "--json", "-c", str(offline_config)).stdout)
    assert doc["up"] == [] and doc["action"] is None and doc["override"] is None


def test_explain_a_rules_only_hubspot_contact(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_scores(offline_store)
    offline_store.add_scores([ScoreRecord("hubspot", "501", T0, 15, "D", None, "", {"object": "contacts", "rule_based": True,
                      "up": [{"text": "Lead source: Partner Referral, +15", "points": 15}]}, None, None)])  # fmt: skip
    out = ops("explain", "501", "-c", str(offline_config)).stdout
    assert "contact 501 in HubSpot: score 15, tier D" in out and "by rules-only scoring" in out
    assert "+ Lead source: Partner Referral, +15\n" in out, "points the text gives are not repeated"
    assert "why down:\n  - (none)" in out


def test_a_lead_never_scored_exits_1(ops: Invoke, offline_config: Path, offline_store: StateStore) -> None:
    seed_scores(offline_store)
    for command in ("explain", "history"):
        result = ops(command, "00Qnope", "-c", str(offline_config))
        assert result.exit_code == 1
        assert "'00Qnope' was never scored in Salesforce or HubSpot" in result.stderr
    other_crm = ops("explain", LEAD, "--crm", "hubspot", "-c", str(offline_config))
    assert other_crm.exit_code == 1 and "never scored in HubSpot" in other_crm.stderr
    unknown = ops("explain", LEAD, "--crm", "pipedrive", "-c", str(offline_config))
    assert unknown.exit_code == 2 and "unknown CRM 'pipedrive'" in unknown.stderr


def test_history_lists_every_version_newest_first_with_deltas(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_scores(offline_store)
    result = ops("history", LEAD, "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "3 scored versions" in out
    assert out.index("2024-05-03") < out.index("2024-05-02") < out.index("2024-05-01 09:00")
    assert "+27" in out and "+15" in out and "first" in out
    assert "Title changed to VP Sales" in out and "sf-2024.05.01" in out
    assert "account or colleagues changed" in out and "record changed" in out  # why each was scored

    doc = json.loads(ops("history", LEAD, "--limit", "2", "--json", "-c", str(offline_config)).stdout)
    assert [(v["score"], v["delta"]) for v in doc["versions"]] == [(82, 27), (55, 15)]
    assert doc["versions"][1]["changes"] == ["Title changed to VP Sales"]
    assert [v["trigger"] for v in doc["versions"]] == ["context", "changed"]


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=12), st.integers(1, 14))
def test_history_deltas_add_up_to_the_total_change(values: list[int], limit: int) -> None:
    newest_first = [score(T0 - timedelta(days=i), v, "B", None) for i, v in enumerate(values)]
    rows = versions(newest_first, limit)
    assert len(rows) == min(limit, len(values))
    shown = min(limit, len(values))
    deltas = [r["delta"] for r in rows]
    if shown < len(values):
        assert sum(deltas) == values[0] - values[shown]
    else:
        assert deltas[-1] is None and sum(d for d in deltas if d is not None) == values[0] - values[-1]
