"""What scoring produces for one lead: the `Decision`, and the `Reason`s that explain it.

Everything here is plain data; `sync` writes it to the CRM and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ActionKind(StrEnum):
    """The recommended action a decision carries."""

    ROUTE = "route"  # assign to an owner (account owner, a named owner, or round robin over a pool)
    REVIEW = "review"  # a person must decide (a CRM task is created)
    NURTURE = "nurture"  # keep in marketing nurture
    DISQUALIFY = "disqualify"  # mark unqualified
    NONE = "none"  # nothing to do beyond showing the score


class ReviewReason(StrEnum):
    """Why a person is asked to review."""

    BORDERLINE = "borderline"
    HIGH_VALUE = "high_value"
    LOW_DATA = "low_data"
    RULE_CONTRADICTS_MODEL = "rule_contradicts_model"
    RULE = "rule"  # a policy asked for review with its own reason


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to a score, summed back to the CRM field or graph fact it came from.

    `points` is the contribution on the 0-100 score scale (positive pushes the score up); `text` is the
    sentence a rep reads ("Lead source: Partner Referral, +14").
    """

    source: str
    label: str
    value: str
    points: float
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of scoring one lead, with everything needed to explain and audit it."""

    lead_id: str
    crm: str
    score: int
    tier: str
    probability: float
    reasons_up: tuple[Reason, ...] = ()
    reasons_down: tuple[Reason, ...] = ()
    reasons_text: str = ""
    action: ActionKind = ActionKind.NONE
    action_target: str | None = None
    review: bool = False
    review_reasons: tuple[ReviewReason, ...] = ()
    review_note: str = ""
    rule: str | None = None
    rule_reason: str | None = None  # the reason text of the policy rule that fired
    overrode_model: bool = False
    rule_based: bool = False
    model_version: str = ""
    policy_version: str = ""
    segment: str | None = None
    scored_at: datetime | None = None
    data_completeness: float = 1.0
    changes: tuple[str, ...] = field(default=())  # "what moved the score since" lines
