"""Setting a batch's policy outcome on its `Decision`s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from scoring.decision import Decision
from scoring.policy.outcome import PolicyOutcome, PolicyRow


def decision_fields(row: PolicyRow) -> dict[str, Any]:
    """The `Decision` fields a policy outcome sets (reasons excepted: see `apply_outcome`)."""
    return {
        "score": row.score,
        "tier": row.tier,
        "action": row.action,
        "action_target": row.target,
        "review": row.review,
        "review_reasons": row.review_reasons,
        "review_note": row.review_note,
        "rule": row.rule,
        "rule_reason": row.rule_reason,
        "overrode_model": row.overrode_model,
        "policy_version": row.policy_version,
        "segment": row.segment,
    }


def apply_row(decision: Decision, row: PolicyRow) -> Decision:
    """`decision` with the policy outcome `row` set; a decay adds its reason to the reasons down."""
    if row.lead_id is not None and row.lead_id != decision.lead_id:
        raise ValueError(
            f"policy outcome of lead {row.lead_id} applied to the decision of lead {decision.lead_id}"
        )
    changed = decision_fields(row)
    if row.decay is not None:
        # Most negative first, as the explanation lists its reasons down.
        changed["reasons_down"] = tuple(sorted((*decision.reasons_down, row.decay), key=lambda r: r.points))
        if decision.reasons_text:
            changed["reasons_text"] = f"{decision.reasons_text}\n{row.decay.text}"
    return replace(decision, **changed)


def apply_outcome(decisions: Sequence[Decision], outcome: PolicyOutcome) -> list[Decision]:
    """Each decision with the outcome of the frame row at the same position (lead ids checked if given)."""
    if len(decisions) != len(outcome):
        raise ValueError(f"{len(decisions)} decisions for a policy outcome of {len(outcome)} leads")
    return [apply_row(decision, row) for decision, row in zip(decisions, outcome.rows(), strict=True)]
