"""Routing: account owner, lead owner, named owner, fallback, and round robin over pools with caps."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mappings import ConfigError, parse_config
from mappings.config.policy import Decay, Pool, ScoringConfig
from mappings.config.review import ReviewConfig
from scoring.policy import PolicySet, deal
from tests.mappings.conftest import MINIMAL_SALESFORCE
from tests.scoring.policy_fixtures import NOW, frame, schema


def test_equal_loads_go_round_robin_from_the_cursor() -> None:
    pool = Pool(owners=("a", "b", "c"))
    dealt = deal(pool, 7, {}, start=1)
    assert dealt.owners == ("b", "c", "a", "b", "c", "a", "b")
    assert dealt.next_start == 2
    assert deal(pool, 2, {}, start=dealt.next_start).owners == ("c", "a")


def test_least_loaded_owners_catch_up_first() -> None:
    dealt = deal(Pool(owners=("a", "b", "c")), 9, {"a": 5, "b": 1})
    assert dealt.owners[:5] == ("c", "b", "c", "b", "c")
    counts = Counter(dealt.owners)
    assert {"a": 5 + counts["a"], "b": 1 + counts["b"], "c": counts["c"]} == {"a": 5, "b": 5, "c": 5}


def test_caps_are_never_exceeded_and_overflow_is_left_unassigned() -> None:
    pool = Pool(owners=("a", "b", "c"), cap=4, caps={"c": 1})
    dealt = deal(pool, 10, {"a": 2})
    counts = Counter(o for o in dealt.owners if o is not None)
    assert counts == {"a": 2, "b": 4, "c": 1}
    assert dealt.owners[-3:] == (None, None, None)
    assert dict(dealt.assigned) == {"a": 2, "b": 4, "c": 1}
    assert deal(pool, 3, {"a": 4, "b": 9, "c": 1}).owners == (None, None, None)


@pytest.mark.parametrize("seed", range(20))
def test_dealing_is_fair_deterministic_and_within_caps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    owners = tuple(f"o{i}" for i in range(int(rng.integers(1, 6))))
    cap = int(rng.integers(1, 30))
    loads = {o: int(rng.integers(0, cap + 2)) for o in owners}
    count = int(rng.integers(0, 60))
    start = int(rng.integers(0, 10))
    dealt = deal(Pool(owners=owners, cap=cap), count, loads, start)
    assert dealt == deal(Pool(owners=owners, cap=cap), count, loads, start)
    final = {o: loads[o] + dealt.owners.count(o) for o in owners}
    assert all(final[o] <= max(cap, loads[o]) for o in owners)
    open_room = sum(max(0, cap - loads[o]) for o in owners)
    assert sum(o is not None for o in dealt.owners) == min(count, open_room)
    # Fair: an owner who got a lead never ends above another under-cap owner by more than one.
    receivers = [o for o in owners if dealt.owners.count(o)]
    for o in receivers:
        for other in owners:
            if final[other] < cap:
                assert final[o] <= final[other] + 1


def _policies(routing: dict[str, Any], target: str) -> PolicySet:
    config = ScoringConfig.model_validate(
        {
            "routing": routing,
            "policies": [
                {"name": "r", "when": "score > 0", "action": "route", "target": target, "reason": "x"}
            ],
        }
    )
    return PolicySet.compile(config, schema(), ReviewConfig(enabled=False))


def test_account_owner_then_lead_owner_then_fallback() -> None:
    data = frame(owner_id=["O0", "O1", None, ""], account_owner_id=["A0", None, None, None])
    with_fallback = _policies(
        {"fallback": "pool:sdr", "pools": {"sdr": {"owners": ["s1", "s2"]}}}, "account_owner"
    )
    outcome = with_fallback.evaluate(data, now=NOW)
    assert list(outcome.target) == ["A0", "O1", "s2", "s1"]  # the pool deals the better score (62) first
    assert list(outcome.notes) == [None] * 4
    without = _policies({}, "account_owner").evaluate(data, now=NOW)
    assert list(without.target) == ["A0", "O1", None, None]
    assert without.row(2).review_note == "No owner is known to route to; assign it by hand"


def test_lead_owner_and_named_owner_targets() -> None:
    data = frame(owner_id=["O0", None, "O2", "O3"])
    assert list(_policies({"fallback": "boss@example.com"}, "owner").evaluate(data, now=NOW).target) == [
        "O0",
        "boss@example.com",
        "O2",
        "O3",
    ]
    assert list(_policies({}, "rep@example.com").evaluate(data, now=NOW).target) == ["rep@example.com"] * 4


def test_pool_deals_best_scores_first_and_reports_the_pool_full() -> None:
    policies = _policies({"pools": {"sdr": {"owners": ["a", "b"], "cap": 3}}}, "pool:sdr")
    data = frame(score=[10.0, 90.0, 50.0, 70.0])
    outcome = policies.evaluate(data, now=NOW, open_counts={"a": 2, "b": 2}, rotation={"sdr": 1})
    # Leads by score: L1 (90) -> b (cursor), L3 (70) -> a, then everyone is at cap.
    assert list(outcome.target) == [None, "b", None, "a"]
    assert outcome.row(0).review_note == "Every owner in pool sdr is at their cap; assign it by hand"
    assert dict(outcome.assigned) == {"a": 1, "b": 1}
    assert dict(outcome.rotation) == {"sdr": 1}


def test_rotation_carries_over_between_batches_and_ties_break_by_lead_id() -> None:
    policies = _policies({"pools": {"sdr": {"owners": ["a", "b", "c"]}}}, "pool:sdr")
    data = frame(score=[50.0] * 4, lead_id=["L3", "L1", "L2", "L0"])
    first = policies.evaluate(data, now=NOW)
    assert list(first.target) == ["a", "b", "c", "a"]  # dealt L0 a, L1 b, L2 c, L3 a
    again = policies.evaluate(data.iloc[::-1].reset_index(drop=True), now=NOW)
    assert list(again.target) == ["a", "c", "b", "a"]  # the same leads get the same owners
    assert dict(first.rotation) == {"sdr": 1}
    second = policies.evaluate(data, now=NOW, rotation=first.rotation)
    assert list(second.target) == ["b", "c", "a", "b"]  # L0 starts at b, after a


def test_owners_shared_by_pools_count_leads_from_both() -> None:
    config = ScoringConfig.model_validate(
        {
            "routing": {
                "pools": {"p1": {"owners": ["a", "b"], "cap": 2}, "p2": {"owners": ["b", "c"], "cap": 2}}
            },
            "policies": [
                {"name": "one", "when": "score >= 60", "action": "route", "target": "pool:p1", "reason": "x"},
                {"name": "two", "when": "score < 60", "action": "route", "target": "pool:p2", "reason": "x"},
            ],
        }
    )
    policies = PolicySet.compile(config, schema(), ReviewConfig(enabled=False))
    outcome = policies.evaluate(frame(score=[90.0, 80.0, 20.0, 10.0]), now=NOW, open_counts={"b": 1})
    # b (1 open) takes one p1 lead and is then at cap for p2 as well.
    assert list(outcome.target) == ["a", "b", "c", "c"]
    assert dict(outcome.assigned) == {"a": 1, "b": 1, "c": 2}


def test_large_pool_batch_is_balanced() -> None:
    policies = _policies({"pools": {"sdr": {"owners": [f"r{i}" for i in range(7)], "cap": 5000}}}, "pool:sdr")
    rows = 10_000
    data = pd.DataFrame(
        {
            "score": np.arange(rows) % 100 + 1.0,
            "completeness": np.ones(rows),
            "lead_id": [f"L{i:05d}" for i in range(rows)],
        }
    )
    counts = Counter(policies.evaluate(data, now=NOW).target)
    assert sum(counts.values()) == rows and max(counts.values()) - min(counts.values()) <= 1


def _issues(scoring_yaml: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(MINIMAL_SALESFORCE + scoring_yaml, resolve=False)
    return [(i.line, i.path, i.message) for i in caught.value.issues]


def test_config_errors_for_routing_name_the_line_and_a_fix() -> None:
    start = MINIMAL_SALESFORCE.count("\n") + 1
    issues = _issues(
        "scoring:\n"
        "  routing:\n"
        "    fallback: account_owner\n"
        "    pools:\n"
        "      sdr: {owners: [a, b]}\n"
        "  policies:\n"
        "    - {name: q, when: 'score > 1', action: nurture, target: someone, reason: r}\n"
    )
    assert issues == [
        (start + 2, "scoring.routing.fallback", "fallback 'account_owner' may itself be unknown"),
        (start + 6, "scoring.policies[0].target", "a nurture policy takes no target"),
    ]
    issues = _issues("scoring:\n  routing:\n    pools:\n      sdr: {owners: [a, a], caps: {c: 3}}\n")
    assert [i[1:] for i in issues] == [
        ("scoring.routing.pools.sdr.owners[1]", "owner 'a' appears twice"),
    ]
    issues = _issues("scoring:\n  routing:\n    pools:\n      sdr: {owners: [a, b], caps: {c: 3}}\n")
    assert issues == [
        (start + 3, "scoring.routing.pools.sdr.caps.c", "caps names 'c', who is not in this pool's owners")
    ]
    issues = _issues(
        "scoring:\n  policies:\n    - {name: p, when: 'x', action: route, target: 'pool:sdrr', reason: r}\n"
        "  routing: {pools: {sdr: {owners: [a]}}}\n"
    )
    assert issues == [
        (start + 2, "scoring.policies[0].target", "'pool:sdrr' names an unknown pool (pools: sdr)")
    ]
    issues = _issues(
        "scoring:\n  policies:\n    - {name: p, when: 'x', action: route, target: 'pool:sdr', reason: r}\n"
    )
    assert issues == [
        (
            start + 2,
            "scoring.policies[0].target",
            "'pool:sdr' names an unknown pool (pools: none are defined)",
        )
    ]


def test_config_accepts_decay_pools_and_review_triggers() -> None:
    config = parse_config(
        MINIMAL_SALESFORCE
        + "review:\n  high_value: 'lead.annual_revenue > 1000000'\n  min_completeness: 0.4\n"
        + "scoring:\n"
        + "  actions: {D: disqualify}\n"
        + "  decay: {half_life_days: 45, after_days: 7}\n"
        + "  segments:\n    - {name: ent, when: 'lead.employees > 1000', decay: {floor: 20}}\n"
        + "  routing:\n    default: pool:sdr\n    pools:\n      sdr: {owners: [a@x.io, 4711], cap: 10}\n",
        resolve=False,
    )
    scoring = config.scoring
    assert scoring.routing.pools["sdr"].owners == ("a@x.io", "4711")
    assert scoring.decay_for("ent") == Decay(half_life_days=45, after_days=7, floor=20)
    assert scoring.decay_for(None) is scoring.decay
    assert config.review.min_completeness == 0.4 and scoring.actions.D == "disqualify"
