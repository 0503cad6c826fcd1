"""`PolicySet`: every expression of the config compiled once, then evaluated over whole batches.

Order of a batch: segment -> decay -> tier -> policies (first match by priority, then file order) ->
review triggers -> routing. See `scoring.policy` for the rules of precedence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from mappings.config.policy import Policy, ScoringConfig, Segment
from mappings.config.review import ReviewConfig
from scoring.decision import ReviewReason
from scoring.policy.decay import DecayParameters, decay, round_half_up
from scoring.policy.errors import PolicyError, PolicyIssue
from scoring.policy.expr import Condition, check_condition
from scoring.policy.outcome import PolicyOutcome, bit
from scoring.policy.routing import route
from scoring.policy.schema import SCORE_VARIABLES, Kind, Schema, before_scoring
from scoring.policy.values import Batch, BoolArray, Frame, ObjectArray, texts_from
from scoring.policy.version import policy_version

_BEFORE_SCORING = (
    "segments are chosen before scoring, so score, probability, tier and segment are not known yet; "
    "use lead.*, graph.*, completeness or days_inactive"
)
_TIERS = np.array(["A", "B", "C", "D"], dtype=object)
_NOTHING = np.array(None, dtype=object)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with its compiled condition."""

    policy: Policy
    condition: Condition


class PolicySet:
    """The compiled policies, segments and review triggers of one config. Build it with `compile`."""

    def __init__(
        self,
        scoring: ScoringConfig,
        review: ReviewConfig,
        policies: tuple[CompiledPolicy, ...],
        segments: tuple[tuple[Segment, Condition], ...],
        high_value: Condition | None,
    ) -> None:
        self.scoring = scoring
        self.review_config = review
        self.policies = policies
        self.segments = segments
        self.high_value = high_value
        self.version = policy_version(scoring, review)
        self._names = tuple(p.policy.name for p in policies)
        self._reasons = tuple(p.policy.reason for p in policies)
        self._actions = np.array([p.policy.action for p in policies] + [""], dtype=object)
        self._targets = np.array([p.policy.target for p in policies] + [None], dtype=object)
        self._review_rules = tuple(i for i, p in enumerate(policies) if p.policy.action == "review")

    @classmethod
    def compile(cls, scoring: ScoringConfig, schema: Schema, review: ReviewConfig | None = None) -> PolicySet:
        """Parse, type-check and compile every expression; raises `PolicyError` listing all problems.

        Policies are kept in precedence order: `priority` (lower first), then their order in the file.
        """
        review = review or ReviewConfig()
        issues: list[PolicyIssue] = []

        def compiled(
            where: str, text: str, variables: Schema, unavailable: Mapping[str, str]
        ) -> Condition | None:
            condition, found = check_condition(where, text, variables, unavailable=unavailable)
            issues.extend(found)
            return condition

        early = before_scoring(schema)
        hidden = {name: _BEFORE_SCORING for name in SCORE_VARIABLES}
        segments = [(s, compiled(f"segment {s.name}", s.when, early, hidden)) for s in scoring.segments]
        ordered = sorted(enumerate(scoring.policies), key=lambda item: (item[1].priority, item[0]))
        policies = [(p, compiled(f"policy {p.name}", p.when, schema, {})) for _, p in ordered]
        high_value = (
            compiled("review.high_value", review.high_value, schema, {}) if review.high_value else None
        )
        if issues:
            raise PolicyError(issues)
        return cls(
            scoring,
            review,
            tuple(CompiledPolicy(p, c) for p, c in policies if c is not None),
            tuple((s, c) for s, c in segments if c is not None),
            high_value,
        )

    @property
    def required_columns(self) -> frozenset[str]:
        """Columns a batch must have: every variable the expressions use, plus score and completeness."""
        used = {"score", "completeness"}
        for condition in (*(p.condition for p in self.policies), *(c for _, c in self.segments)):
            used |= condition.variables
        if self.high_value is not None:
            used |= self.high_value.variables
        return frozenset(used - {"segment", "tier"})

    def segment(self, frame: Frame, *, now: datetime | None = None) -> ObjectArray:
        """Each lead's segment: the first segment whose expression holds (None where none does)."""
        return self._segment(Batch(frame, now or datetime.now(UTC)))

    def _segment(self, batch: Batch) -> ObjectArray:
        chosen = np.full(batch.rows, None, dtype=object)
        open_rows = np.ones(batch.rows, dtype=bool)
        for segment, condition in self.segments:
            hits = condition.on(batch) & open_rows
            chosen[hits] = segment.name
            open_rows &= ~hits
        return chosen

    def evaluate(
        self,
        frame: Frame,
        *,
        now: datetime | None = None,
        open_counts: Mapping[str, int] | None = None,
        rotation: Mapping[str, int] | None = None,
    ) -> PolicyOutcome:
        """Apply segments, decay, tiers, policies, review triggers and routing to a batch.

        `frame` has a column per variable the expressions use (see `required_columns`), `score` (the
        model's 0-100 score before decay) and `completeness`; optionally `days_inactive` (for decay),
        `segment` (else computed), `owner_id` and `account_owner_id` (for routing) and `lead_id`
        (checked against the decisions, and breaks ties when dealing pool leads). `tier` is always
        recomputed from the decayed score with `scoring.tiers`. `open_counts` are the open leads each
        pool owner holds now; `rotation` is the previous outcome's `rotation`. Raises KeyError naming
        every required column the frame lacks.
        """
        batch = Batch(frame, now or datetime.now(UTC))
        missing = sorted(name for name in self.required_columns if not batch.has(name))
        if missing:
            raise KeyError(f"the batch lacks columns the policies need: {', '.join(missing)}")
        rows = batch.rows
        segments = self._segments_of(batch)
        raw = batch.number("score")
        days = batch.number("days_inactive") if batch.has("days_inactive") else np.full(rows, np.nan)
        score = round_half_up(decay(raw, days, DecayParameters.for_segments(self.scoring, segments)))
        tiers = self.scoring.tiers
        tier_index = np.select([score >= tiers.A, score >= tiers.B, score >= tiers.C], [0, 1, 2], 3)
        tier = _TIERS[tier_index]
        # Expressions see the decayed score and its tier, not the model's raw ones.
        batch.put("score", Kind.NUMBER, score)
        batch.put("tier", Kind.STRING, texts_from(tier))
        batch.put("segment", Kind.STRING, texts_from(segments))

        by_tier = np.array([getattr(self.scoring.actions, t) for t in _TIERS], dtype=object)
        model_action = by_tier[tier_index]
        model_target = np.where(model_action == "route", self.scoring.routing.default, _NOTHING)

        hits = (
            np.vstack([p.condition.on(batch) for p in self.policies])
            if self.policies
            else np.zeros((0, rows), dtype=bool)
        )
        matched = np.asarray(hits.any(axis=0), dtype=bool)
        winner = np.where(matched, hits.argmax(axis=0) if self.policies else 0, -1).astype(np.intp)
        action = np.where(matched, self._actions[winner], model_action)
        spec = np.where(matched, self._targets[winner], model_target)
        overrode = matched & ((action != model_action) | ((action == "route") & (spec != model_target)))

        bits = self._review_bits(batch, score, tier, action, matched, hits)
        lead_ids = np.asarray(frame["lead_id"], dtype=object) if batch.has("lead_id") else None
        order = (
            np.asarray(
                pd.Series(lead_ids, dtype=object).astype(str).rank(method="first").to_numpy(), dtype=np.intp
            )
            if lead_ids is not None
            else np.arange(rows, dtype=np.intp)
        )
        routed = route(
            np.where(action == "route", spec, _NOTHING),
            self.scoring.routing,
            owner_ids=_optional(frame, "owner_id"),
            account_owner_ids=_optional(frame, "account_owner_id"),
            scores=score,
            order=order,
            open_counts=open_counts or {},
            rotation=rotation or {},
        )
        target = np.where(action == "route", routed.targets, np.where(action == "review", spec, _NOTHING))
        return PolicyOutcome(
            policy_version=self.version,
            lead_ids=lead_ids,
            segment=segments,
            raw_score=raw,
            score=score,
            days_inactive=days,
            tier=tier,
            model_action=model_action,
            action=action,
            target=target,
            rule=winner,
            overrode_model=overrode,
            review_bits=bits,
            completeness=batch.number("completeness"),
            notes=routed.notes,
            rotation=routed.rotation,
            assigned=routed.assigned,
            rule_names=self._names,
            rule_reasons=self._reasons,
            review_rule_hits=hits[list(self._review_rules)],
            review_rule_index=self._review_rules,
            borderline=self.review_config.borderline,
            min_completeness=self.review_config.min_completeness,
        )

    def _segments_of(self, batch: Batch) -> ObjectArray:
        if batch.has("segment"):
            given = pd.Series(batch.frame["segment"], dtype=object)
            return np.asarray(given.where(given.notna(), None).to_numpy(dtype=object))
        return self._segment(batch)

    def _review_bits(
        self,
        batch: Batch,
        score: np.ndarray,
        tier: ObjectArray,
        action: ObjectArray,
        matched: BoolArray,
        hits: np.ndarray,
    ) -> np.ndarray:
        bits = np.zeros(batch.rows, dtype=np.uint8)
        if self._review_rules:
            bits |= np.where(hits[list(self._review_rules)].any(axis=0), bit(ReviewReason.RULE), 0).astype(
                np.uint8
            )
        review = self.review_config
        if not review.enabled:
            return bits  # automatic triggers are off; review policies still apply
        low, high = review.borderline
        triggers: list[tuple[ReviewReason, BoolArray]] = [
            (ReviewReason.BORDERLINE, (score >= low) & (score <= high)),
            (ReviewReason.LOW_DATA, batch.number("completeness") < review.min_completeness),
            (
                ReviewReason.RULE_CONTRADICTS_MODEL,
                matched
                & (((action == "disqualify") & (tier == "A")) | ((action == "route") & (tier == "D"))),
            ),
        ]
        if self.high_value is not None:
            triggers.append((ReviewReason.HIGH_VALUE, self.high_value.on(batch)))
        for reason, where in triggers:
            bits |= np.where(where, bit(reason), 0).astype(np.uint8)
        return bits


def _optional(frame: Frame, name: str) -> ObjectArray | None:
    if name not in frame:
        return None
    values = pd.Series(frame[name], dtype=object)
    return np.asarray(values.where(values.notna(), None).to_numpy(dtype=object))
