"""What policies decided for a batch: arrays, one entry per lead, and a per-lead view of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scoring.decision import ActionKind, Reason, ReviewReason
from scoring.policy.values import BoolArray, FloatArray, ObjectArray

REVIEW_BITS: tuple[ReviewReason, ...] = (
    ReviewReason.BORDERLINE,
    ReviewReason.HIGH_VALUE,
    ReviewReason.LOW_DATA,
    ReviewReason.RULE_CONTRADICTS_MODEL,
    ReviewReason.RULE,
)
"""Review reasons in the order of their bits in `PolicyOutcome.review_bits` (bit i = 1 << i)."""


def bit(reason: ReviewReason) -> int:
    """The bit of `reason` in `PolicyOutcome.review_bits`."""
    return 1 << REVIEW_BITS.index(reason)


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """The policy outcome of one lead, ready to set on its `Decision`."""

    lead_id: str | None
    segment: str | None
    raw_score: float
    score: int
    tier: str
    decay: Reason | None
    model_action: ActionKind
    action: ActionKind
    target: str | None
    rule: str | None
    rule_reason: str | None
    overrode_model: bool
    review: bool
    review_reasons: tuple[ReviewReason, ...]
    review_note: str
    policy_version: str


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """Policy results over a batch, row-aligned with the frame that was evaluated.

    `score` and `tier` are after decay; `rule` is the first matching policy (None: the model's action
    stands); `review_bits` holds the review reasons as bit flags (see `REVIEW_BITS`); `rotation` is each
    pool's round-robin cursor to pass to the next evaluation, and `assigned` how many leads each pool
    owner received.
    """

    policy_version: str
    lead_ids: ObjectArray | None
    segment: ObjectArray
    raw_score: FloatArray
    score: FloatArray
    days_inactive: FloatArray
    tier: ObjectArray
    model_action: ObjectArray
    action: ObjectArray
    target: ObjectArray
    rule: npt.NDArray[np.intp]
    overrode_model: BoolArray
    review_bits: npt.NDArray[np.uint8]
    completeness: FloatArray
    notes: ObjectArray
    rotation: Mapping[str, int]
    assigned: Mapping[str, int]
    rule_names: tuple[str, ...]
    rule_reasons: tuple[str, ...]
    review_rule_hits: BoolArray = field(repr=False)
    review_rule_index: tuple[int, ...] = ()
    borderline: tuple[int, int] = (45, 60)
    min_completeness: float = 0.5

    def __len__(self) -> int:
        return len(self.score)

    @property
    def review(self) -> BoolArray:
        """Where a person is asked to review."""
        return np.asarray(self.review_bits != 0, dtype=bool)

    def row(self, index: int) -> PolicyRow:
        """The outcome of lead `index` (its position in the evaluated frame)."""
        return self._rows(np.array([index], dtype=np.intp))[0]

    def rows(self) -> list[PolicyRow]:
        """The outcome of every lead, in frame order."""
        return self._rows(np.arange(len(self), dtype=np.intp))

    def _rows(self, at: npt.NDArray[np.intp]) -> list[PolicyRow]:
        # Columns go to Python lists once; building rows from numpy scalars would be several times slower.
        count = len(at)
        bits = self.review_bits[at].tolist()
        scores = np.nan_to_num(self.score[at], nan=0.0).astype(int).tolist()
        tiers = self.tier[at].tolist()
        lead_ids = self.lead_ids[at].tolist() if self.lead_ids is not None else [None] * count
        # Index -1 (no rule matched) picks the appended None.
        names, reasons = [*self.rule_names, None], [*self.rule_reasons, None]
        version = self.policy_version
        rows = zip(
            lead_ids,
            self.segment[at].tolist(),
            self.raw_score[at].tolist(),
            scores,
            tiers,
            self._decay_reasons(at),
            self.model_action[at].tolist(),
            self.action[at].tolist(),
            self.target[at].tolist(),
            self.rule[at].tolist(),
            self.overrode_model[at].tolist(),
            bits,
            self._review_notes(at, bits, scores, tiers),
            strict=True,
        )
        return [
            PolicyRow(
                lead if lead is None or isinstance(lead, str) else str(lead),
                segment,
                raw,
                score,
                tier,
                decay,
                _ACTIONS[model_action],
                _ACTIONS[action],
                target,
                names[winner],
                reasons[winner],
                overrode,
                flags != 0,
                _REASONS[flags],
                note,
                version,
            )
            for lead, segment, raw, score, tier, decay, model_action, action, target, winner, overrode, flags, note in rows
        ]

    def _decay_reasons(self, at: npt.NDArray[np.intp]) -> list[Reason | None]:
        points = self.score[at] - np.floor(self.raw_score[at] + 0.5)
        decayed = np.flatnonzero(points < 0)
        reasons: list[Reason | None] = [None] * len(at)
        made: dict[tuple[int, int], Reason] = {}  # reasons are immutable: share equal ones
        for position, lost, days in zip(
            decayed.tolist(),
            (-points[decayed]).astype(int).tolist(),
            self.days_inactive[at][decayed].astype(int).tolist(),
            strict=True,
        ):
            reason = made.get((days, lost))
            if reason is None:
                reason = made[(days, lost)] = Reason(
                    source="decay",
                    label="Inactivity",
                    value=f"{days} days",
                    points=float(-lost),
                    text=f"No activity for {days} days, \u2212{lost}",
                )
            reasons[position] = reason
        return reasons

    def _review_notes(
        self, at: npt.NDArray[np.intp], bits: list[int], scores: list[int], tiers: list[str]
    ) -> list[str]:
        rule_lines: dict[int, list[str]] = {}
        if self.review_rule_index:
            positions, rules = np.nonzero(self.review_rule_hits[:, at].T)
            for position, rule in zip(positions.tolist(), rules.tolist(), strict=True):
                rule_lines.setdefault(position, []).append(self.rule_reasons[self.review_rule_index[rule]])
        winners = self.rule[at].tolist()
        actions = self.action[at].tolist()
        completeness = self.completeness[at].tolist()
        routing_notes = self.notes[at].tolist()
        low, high = self.borderline
        notes: list[str] = []
        for position, flags in enumerate(bits):
            lines = list(rule_lines.get(position, ()))
            if flags & _CONTRADICTS:
                winner = winners[position]
                lines.append(
                    f"Policy {self.rule_names[winner]} says {actions[position]} ({self.rule_reasons[winner]}), "
                    f"but the model scores the lead tier {tiers[position]}"
                )
            if flags & _HIGH_VALUE:
                lines.append("High-value lead")
            if flags & _BORDERLINE:
                lines.append(f"Score {scores[position]} is in the borderline band {low}-{high}")
            if flags & _LOW_DATA:
                lines.append(
                    f"Only {completeness[position]:.0%} of the lead's data is filled in "
                    f"(below {self.min_completeness:.0%})"
                )
            if routing_notes[position]:
                lines.append(str(routing_notes[position]))
            notes.append("; ".join(lines))
        return notes


_REASONS: tuple[tuple[ReviewReason, ...], ...] = tuple(
    tuple(reason for i, reason in enumerate(REVIEW_BITS) if flags & (1 << i))
    for flags in range(1 << len(REVIEW_BITS))
)
_ACTIONS: dict[str, ActionKind] = {kind.value: kind for kind in ActionKind}
_BORDERLINE = bit(ReviewReason.BORDERLINE)
_HIGH_VALUE = bit(ReviewReason.HIGH_VALUE)
_LOW_DATA = bit(ReviewReason.LOW_DATA)
_CONTRADICTS = bit(ReviewReason.RULE_CONTRADICTS_MODEL)
