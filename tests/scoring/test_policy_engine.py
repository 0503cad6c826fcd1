"""PolicySet: precedence, review triggers, model overrides, decay, segments, versions and Decisions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from mappings.config.policy import ScoringConfig
from mappings.config.review import ReviewConfig
from scoring.decision import ActionKind, Decision, Reason, ReviewReason
from scoring.policy import PolicySet, apply_outcome, decay, policy_version
from scoring.policy.decay import DecayParameters
from tests.scoring.policy_fixtures import NOW, frame, schema


def policy(name: str, when: str, action: str = "nurture", **extra: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "action": action, "reason": f"because {name}", **extra}


def compiled(
    policies: list[dict[str, Any]] | None = None, review: dict[str, Any] | None = None, **scoring: Any
) -> PolicySet:
    config = ScoringConfig.model_validate({"policies": policies or [], **scoring})
    return PolicySet.compile(config, schema(), ReviewConfig.model_validate(review or {}))


def test_first_match_by_priority_then_file_order_sets_the_action() -> None:
    policies = compiled(
        [
            policy("late", "score > 0", "disqualify", priority=200),
            policy("first_in_file", "score >= 50", "nurture", priority=50),
            policy("second_in_file", "score >= 50", "route", target="owner", priority=50),
            policy("urgent", "lead.employees >= 2000", "route", target="account_owner", priority=1),
        ],
        review={"enabled": False},
    )
    outcome = policies.evaluate(frame(), now=NOW)
    assert [p.policy.name for p in policies.policies] == ["urgent", "first_in_file", "second_in_file", "late"]
    assert [outcome.row(i).rule for i in range(4)] == ["urgent", "first_in_file", "late", "first_in_file"]
    assert list(outcome.action) == ["route", "nurture", "disqualify", "nurture"]


def test_without_a_matching_rule_the_models_action_for_the_tier_stands() -> None:
    policies = compiled(
        [policy("never", "score > 1000")],
        actions={"A": "route", "B": "route", "C": "nurture", "D": "disqualify"},
    )
    outcome = policies.evaluate(frame(**_owners(), score=[85.0, 65.0, 45.0, 10.0]), now=NOW)
    rows = outcome.rows()
    assert [r.tier for r in rows] == ["A", "B", "C", "D"]
    assert [r.action for r in rows] == [
        ActionKind.ROUTE,
        ActionKind.ROUTE,
        ActionKind.NURTURE,
        ActionKind.DISQUALIFY,
    ]
    assert [r.rule for r in rows] == [None] * 4
    assert not outcome.overrode_model.any()
    assert rows[0].target == "A0" and rows[1].target == "O1"  # account owner, else the lead's owner


def _owners(**extra: Any) -> dict[str, Any]:
    return {"owner_id": ["O0", "O1", "O2", "O3"], "account_owner_id": ["A0", None, "A2", None], **extra}


@pytest.mark.parametrize(
    ("rule", "overrode"),
    [
        (policy("same_nurture", "score > 0", "nurture"), [True, False, False, True]),
        (policy("same_route", "score > 0", "route", target="account_owner"), [False, True, True, False]),
        (policy("other_target", "score > 0", "route", target="pool:sdr"), [True, True, True, True]),
        (policy("ask", "score > 0", "review"), [True, True, True, True]),
    ],
)
def test_overrode_model_when_the_rules_action_or_route_target_differs(
    rule: dict[str, Any], overrode: list[bool]
) -> None:
    # Tiers A, C, D, B: the model routes A and B to the account owner and nurtures C and D.
    policies = compiled([rule], routing={"pools": {"sdr": {"owners": ["s1"]}}})
    outcome = policies.evaluate(frame(**_owners(), score=[85.0, 50.0, 30.0, 62.0]), now=NOW)
    assert list(outcome.model_action) == ["route", "nurture", "nurture", "route"]
    assert outcome.overrode_model.tolist() == overrode


def test_review_triggers_accumulate_and_say_why() -> None:
    policies = compiled(
        [
            policy("partners", "lead.source == 'partner referral'", "route", target="owner", priority=1),
            policy("check_partners", "lead.source == 'partner referral'", "review", priority=2),
            policy("check_busy_accounts", "graph.colleagues_engaged_30d >= 2", "review", priority=3),
            policy(
                "kill_free_mail",
                "lead.free_email == false and lead.employees > 1000",
                "disqualify",
                priority=4,
            ),
        ],
        review={
            "borderline": [45, 55],
            "min_completeness": 0.5,
            "high_value": "lead.annual_revenue >= 1000000",
        },
    )
    outcome = policies.evaluate(frame(**_owners()), now=NOW)
    rows = outcome.rows()
    # Lead 0: tier A disqualified by a rule (contradiction), high value.
    assert rows[0].action is ActionKind.DISQUALIFY and rows[0].rule == "kill_free_mail"
    assert rows[0].review_reasons == (ReviewReason.HIGH_VALUE, ReviewReason.RULE_CONTRADICTS_MODEL)
    assert (
        "Policy kill_free_mail says disqualify (because kill_free_mail), but the model scores the lead tier A"
        in rows[0].review_note
    )
    # Lead 1: routed by the first rule, both review rules add their reasons; borderline 50; 30% complete.
    assert rows[1].action is ActionKind.ROUTE and rows[1].rule == "partners" and rows[1].target == "O1"
    assert rows[1].review_reasons == (ReviewReason.BORDERLINE, ReviewReason.LOW_DATA, ReviewReason.RULE)
    assert rows[1].review_note == (
        "because check_partners; because check_busy_accounts; Score 50 is in the borderline band 45-55; "
        "Only 30% of the lead's data is filled in (below 50%)"
    )
    # Lead 2: the first match is a review rule: the action is review.
    assert rows[2].action is ActionKind.REVIEW and rows[2].rule == "check_busy_accounts"
    assert rows[2].review_reasons == (ReviewReason.RULE,)
    # Lead 3: nothing to review.
    assert rows[3].review is False and rows[3].review_reasons == () and rows[3].review_note == ""
    assert outcome.review.tolist() == [True, True, True, False]


def test_routing_a_tier_d_lead_contradicts_the_model() -> None:
    outcome = compiled([policy("push", "score < 40", "route", target="owner")]).evaluate(
        frame(**_owners()), now=NOW
    )
    assert outcome.row(2).review_reasons == (ReviewReason.RULE_CONTRADICTS_MODEL,)
    assert outcome.row(2).overrode_model


def test_borderline_band_is_inclusive() -> None:
    outcome = compiled(review={"borderline": [45, 60], "min_completeness": 0}).evaluate(
        frame(score=[44.0, 45.0, 60.0, 61.0]), now=NOW
    )
    assert outcome.review.tolist() == [False, True, True, False]


def test_disabled_review_keeps_only_review_policies() -> None:
    outcome = compiled([policy("ask", "score == 30", "review")], review={"enabled": False}).evaluate(
        frame(), now=NOW
    )
    assert outcome.review.tolist() == [False, False, True, False]


def test_a_review_policy_may_name_its_reviewer() -> None:
    outcome = compiled([policy("ask", "score == 30", "review", target="boss@example.com")]).evaluate(
        frame(), now=NOW
    )
    assert outcome.row(2).target == "boss@example.com"


def test_decay_halves_the_distance_above_the_floor_every_half_life() -> None:
    parameters = DecayParameters(
        enabled=np.array([True, True, True, True, True, False]),
        half_life_days=np.full(6, 30.0),
        after_days=np.full(6, 14.0),
        floor=np.array([0.0, 0.0, 20.0, 0.0, 50.0, 0.0]),
    )
    scores = np.array([80.0, 80.0, 80.0, 80.0, 40.0, 80.0])
    days = np.array([14.0, 44.0, 74.0, np.nan, 100.0, 100.0])
    assert decay(scores, days, parameters).tolist() == [80.0, 40.0, 35.0, 80.0, 40.0, 80.0]


def test_decay_is_per_segment_and_explained_on_the_decision() -> None:
    policies = compiled(
        [policy("sees_decayed_score", "score < 70 and tier == 'B'", "route", target="owner")],
        decay={"half_life_days": 30, "after_days": 14, "floor": 0},
        segments=[
            {"name": "enterprise", "when": "lead.employees >= 1000", "decay": {"half_life_days": 60}},
            {"name": "frozen", "when": "lead.employees < 100", "decay": {"enabled": False}},
        ],
    )
    data = frame(**_owners(), score=[80.0, 80.0, 80.0, 80.0], days_inactive=[74.0, 44.0, 74.0, np.nan])
    outcome = policies.evaluate(data, now=NOW)
    assert list(outcome.segment) == ["enterprise", None, "frozen", "frozen"]
    assert outcome.score.tolist() == [40.0, 40.0, 80.0, 80.0]
    assert list(outcome.tier) == ["C", "C", "A", "A"]
    assert outcome.row(0).decay == Reason(
        "decay", "Inactivity", "74 days", -40.0, "No activity for 74 days, \u221240"
    )
    assert outcome.row(2).decay is None and outcome.row(3).decay is None
    partial = policies.evaluate(frame(**_owners(), score=[80.0] * 4, days_inactive=[0, 26.0, 0, 0]), now=NOW)
    assert partial.score.tolist()[1] == 61.0 and partial.row(1).rule == "sees_decayed_score"
    decayed = partial.row(1).decay
    assert decayed is not None and decayed.text == "No activity for 26 days, \u221219"


def test_segments_pick_the_first_match_and_a_given_segment_column_wins() -> None:
    policies = compiled(
        [policy("ent", "segment == 'enterprise'", "route", target="owner")],
        segments=[
            {"name": "enterprise", "when": "lead.employees >= 1000 or graph.account_won_opps > 0"},
            {"name": "any_size", "when": "lead.employees >= 0"},
        ],
    )
    assert list(policies.segment(frame(), now=NOW)) == ["enterprise", None, "any_size", "enterprise"]
    outcome = policies.evaluate(frame(**_owners()), now=NOW)
    assert [outcome.row(i).rule for i in range(4)] == ["ent", None, None, "ent"]
    given = policies.evaluate(frame(**_owners(), segment=["x", "enterprise", None, "y"]), now=NOW)
    assert list(given.segment) == ["x", "enterprise", None, "y"]
    assert [given.row(i).rule for i in range(4)] == [None, "ent", None, None]


def test_missing_columns_are_named_before_anything_runs() -> None:
    policies = compiled([policy("p", "graph.account_won_opps > 0")])
    data = frame()
    del data["graph.account_won_opps"]
    del data["completeness"]
    with pytest.raises(KeyError, match=re.escape("completeness, graph.account_won_opps")):
        policies.evaluate(data, now=NOW)


BASE: dict[str, Any] = {
    "policies": [
        policy("a", "score >= 80", "route", target="pool:sdr"),
        policy("b", "tier == 'D'", "disqualify"),
    ],
    "segments": [{"name": "big", "when": "lead.employees > 1000"}],
    "routing": {"pools": {"sdr": {"owners": ["x", "y"], "cap": 5}}},
    "decay": {"half_life_days": 30},
}


def _version(scoring: dict[str, Any], review: dict[str, Any] | None = None) -> str:
    return policy_version(ScoringConfig.model_validate(scoring), ReviewConfig.model_validate(review or {}))


def test_policy_version_is_stable_and_ignores_layout() -> None:
    version = _version(BASE)
    assert len(version) == 12 and version == _version(BASE)
    relaid = {
        **BASE,
        "policies": [
            policy("a", "score>=80", "route", target="pool:sdr"),
            policy("b", 'tier=="D"', "disqualify"),
        ],
    }
    assert _version(relaid) == version
    assert compiled(**BASE).version == version
    # Settings that do not decide outcomes (retraining, drift) leave it alone.
    assert _version({**BASE, "retrain": {"every_n_labels": 7}}) == version
    assert _version(BASE, {"sla_hours": 3}) == version


@pytest.mark.parametrize(
    "change",
    [
        {"policies": [*BASE["policies"][:1], policy("b", "tier == 'C'", "disqualify")]},
        {"policies": BASE["policies"][::-1]},
        {"policies": [BASE["policies"][0], {**BASE["policies"][1], "priority": 5}]},
        {"policies": [BASE["policies"][0], {**BASE["policies"][1], "reason": "new words"}]},
        {"segments": [{"name": "big", "when": "lead.employees > 2000"}]},
        {"routing": {"pools": {"sdr": {"owners": ["x", "y"], "cap": 6}}}},
        {"routing": {"pools": {"sdr": {"owners": ["y", "x"], "cap": 5}}}},
        {"decay": {"half_life_days": 31}},
        {"tiers": {"A": 85}},
        {"actions": {"D": "disqualify"}},
    ],
)
def test_policy_version_changes_with_anything_that_decides(change: dict[str, Any]) -> None:
    assert _version({**BASE, **change}) != _version(BASE)


@pytest.mark.parametrize(
    "review", [{"borderline": [40, 60]}, {"high_value": "score > 90"}, {"min_completeness": 0.4}]
)
def test_policy_version_changes_with_review_triggers(review: dict[str, Any]) -> None:
    assert _version(BASE, review) != _version(BASE)


def _decision(lead_id: str, **extra: Any) -> Decision:
    return Decision(lead_id=lead_id, crm="salesforce", score=0, tier="D", probability=0.0, **extra)


def test_apply_outcome_sets_the_decision_fields() -> None:
    policies = compiled(
        [policy("push", "lead.source == 'web'", "route", target="owner")], decay={"half_life_days": 30}
    )
    outcome = policies.evaluate(
        frame(**_owners(), score=[80.0, 50.0, 30.0, 62.0], days_inactive=[44.0, 0, 0, 0]), now=NOW
    )
    down = Reason("lead.source", "Lead source", "Web", -3.0, "Lead source: Web, -3")
    decisions = [
        _decision("L0", reasons_down=(down,), reasons_text="Lead source: Web, -3"),
        *(_decision(f"L{i}") for i in (1, 2, 3)),
    ]
    applied = apply_outcome(decisions, outcome)
    first = applied[0]
    assert (first.score, first.tier, first.action, first.action_target) == (40, "C", ActionKind.ROUTE, "O0")
    assert (first.rule, first.overrode_model, first.policy_version) == ("push", True, policies.version)
    assert [r.source for r in first.reasons_down] == ["decay", "lead.source"]
    assert first.reasons_text == "Lead source: Web, -3\nNo activity for 44 days, \u221240"
    assert applied[1].review and applied[1].review_reasons == (ReviewReason.BORDERLINE, ReviewReason.LOW_DATA)
    assert applied[3].reasons_down == () and applied[3].score == 62


def test_apply_outcome_carries_the_reason_of_the_rule_that_fired() -> None:
    policies = compiled(
        [
            {
                "name": "big",
                "when": "lead.employees >= 1000",
                "action": "route",
                "target": "owner",
                "reason": "Enterprise-size company goes straight to sales",
            },
            policy("other_source", "lead.source == 'Other'", "nurture"),
        ],
        review={"enabled": False},
    )
    outcome = policies.evaluate(frame(**_owners()), now=NOW)
    applied = apply_outcome([_decision(f"L{i}") for i in range(4)], outcome)
    assert [(d.rule, d.rule_reason) for d in applied] == [
        ("big", "Enterprise-size company goes straight to sales"),
        (None, None),
        (None, None),
        ("other_source", "because other_source"),
    ]


def test_apply_outcome_refuses_misaligned_decisions() -> None:
    outcome = compiled().evaluate(frame(), now=NOW)
    with pytest.raises(ValueError, match="3 decisions for a policy outcome of 4 leads"):
        apply_outcome([_decision(f"L{i}") for i in range(3)], outcome)
    with pytest.raises(ValueError, match="lead L1 applied to the decision of lead L9"):
        apply_outcome([_decision("L0"), _decision("L9"), _decision("L2"), _decision("L3")], outcome)
