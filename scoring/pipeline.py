"""Canonical leads in, one finished `Decision` per lead out: features, model, explanations, policies.

    pipeline = Pipeline.build(config.scoring, config.review, mapping.features, crm="salesforce",
                              trained=champion, max_chars=reasons_field_length)
    batch = pipeline.decide(leads, graph, now=now, previous=previous, explain=changed_ids)

This is the one path from records to decisions: the daemon's cycle and the benchmarks both take it.
Pure: no I/O beyond what the caller hands in.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from mappings import Crm, FeatureSpec, Lead, ReviewConfig, ScoringConfig, values_of
from scoring.decision import Decision
from scoring.explain import Previous
from scoring.features import FeatureFrame, build_features
from scoring.graph import AccountGraph
from scoring.graph_features import GRAPH_COLUMNS
from scoring.policy import PolicyOutcome, PolicySet, apply_outcome, policy_schema
from scoring.scorer import ScoredBatch, Scorer
from scoring.training import TrainedModel

__all__ = ["DecidedBatch", "Pipeline", "policy_frame"]

_BOOLEAN_FACTS = frozenset({"matched", "account_is_customer", "parent_or_sibling_is_customer"})


@dataclass(frozen=True)
class DecidedBatch:
    """The decisions of a batch, with what produced them (for history, drift and the next "since" line)."""

    decisions: tuple[Decision, ...]
    scored: ScoredBatch
    outcome: PolicyOutcome | None
    frame: FeatureFrame
    timings: dict[str, float] = field(default_factory=dict)


def _boolean(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    out = np.full(len(numbers), None, dtype=object)
    present = ~np.isnan(numbers)
    out[present] = numbers[present] > 0
    return out


def policy_frame(
    leads: Sequence[Lead],
    frame: FeatureFrame,
    features: Sequence[FeatureSpec],
    graph: AccountGraph,
    *,
    scores: np.ndarray | None = None,
    probability: np.ndarray | None = None,
) -> pd.DataFrame:
    """The batch the policy engine reads: `lead.<feature>` as mapped (not model-encoded), `graph.<fact>`,
    completeness, days inactive, owners for routing, and the model's score when known. Row order is
    `frame.data.index`."""
    by_id = {lead.id: lead for lead in leads}
    ordered = [by_id[str(i)] for i in frame.data.index]
    columns: dict[str, object] = {"lead_id": np.array([lead.id for lead in ordered], dtype=object)}
    shown = [spec.name for spec in features if not spec.leaky]
    read = list(zip(*values_of([lead.fields for lead in ordered], shown), strict=True))
    for name, column in zip(shown, read or [() for _ in shown], strict=True):
        columns[f"lead.{name}"] = np.array(column, dtype=object)
    for fact in GRAPH_COLUMNS:
        values = frame.data[fact]
        if fact in _BOOLEAN_FACTS:
            columns[f"graph.{fact}"] = _boolean(values)
        elif fact == "match_method":
            columns[f"graph.{fact}"] = values.astype(object).where(values.notna(), None).to_numpy()
        else:
            columns[f"graph.{fact}"] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    columns["completeness"] = frame.completeness.reindex(frame.data.index).fillna(1.0).to_numpy()
    columns["days_inactive"] = frame.data["days_since_last_activity"].to_numpy(dtype=np.float64)
    columns["owner_id"] = np.array([lead.owner_id for lead in ordered], dtype=object)
    columns["account_owner_id"] = _account_owners(ordered, frame, graph)
    if scores is not None:
        columns["score"] = scores.astype(np.float64)
    if probability is not None:
        columns["probability"] = probability
    return pd.DataFrame(columns, index=frame.data.index)


def _account_owners(ordered: Sequence[Lead], frame: FeatureFrame, graph: AccountGraph) -> np.ndarray:
    """The owner of each lead's matched account: read from the frame's context when it has it (the
    graph features already matched every lead), else matched again."""
    if "account_owner_id" in frame.context.columns:
        context = frame.context["account_owner_id"].reindex(frame.data.index)
        return context.astype(object).where(context.notna(), None).to_numpy(dtype=object)
    owners = []
    for lead, match in zip(ordered, graph.matches_of(ordered), strict=True):
        info = graph.account_info(lead.crm, match.account_id) if match.account_id else None
        owners.append(info.owner_id if info is not None else None)
    return np.array(owners, dtype=object)


class Pipeline:
    """Scorer plus compiled policies for one CRM. Build it with `Pipeline.build` (compiles the policies:
    raises `PolicyError` listing every problem)."""

    def __init__(self, scorer: Scorer, policies: PolicySet, features: Sequence[FeatureSpec]) -> None:
        self.scorer = scorer
        self.policies = policies
        self.features = tuple(features)

    @classmethod
    def build(
        cls,
        scoring: ScoringConfig,
        review: ReviewConfig,
        features: Sequence[FeatureSpec],
        *,
        crm: Crm,
        trained: TrainedModel | None = None,
        max_chars: int | None = None,
    ) -> Pipeline:
        policies = PolicySet.compile(scoring, policy_schema(features), review)
        return cls(Scorer(scoring, features, trained, crm=crm, max_chars=max_chars), policies, features)

    @property
    def model_version(self) -> str:
        trained = self.scorer.trained
        return trained.version if trained is not None else "rules"

    def frame(self, leads: Sequence[Lead], graph: AccountGraph, *, now: datetime) -> FeatureFrame:
        """The feature frame of `leads` (the scorer conforms it to the model's schema itself)."""
        return build_features(leads, graph=graph, features=self.features, crm=self.scorer.crm, now=now)

    def decide(
        self,
        leads: Sequence[Lead],
        graph: AccountGraph,
        *,
        now: datetime,
        previous: Mapping[str, Previous] | None = None,
        explain: Collection[str] | None = None,
        open_counts: Mapping[str, int] | None = None,
        rotation: Mapping[str, int] | None = None,
    ) -> DecidedBatch:
        """Score, explain and decide `leads` (one CRM) as of `now`."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if not leads:
            empty = self.frame([], graph, now=now)
            return DecidedBatch((), self.scorer.score(empty, now=now), None, empty, timings)
        frame = self.frame(leads, graph, now=now)
        timings["features"] = time.perf_counter() - started
        started = time.perf_counter()
        before = policy_frame(leads, frame, self.features, graph)
        segments = self.policies.segment(before, now=now) if self.policies.segments else None
        scored = self.scorer.score(frame, segments=segments, previous=previous, explain=explain, now=now)
        timings["score"] = time.perf_counter() - started
        started = time.perf_counter()
        decisions = scored.decisions
        before["score"] = np.array([d.score for d in decisions], dtype=np.float64)
        before["probability"] = np.array([d.probability for d in decisions], dtype=np.float64)
        if segments is not None:
            before["segment"] = segments
        outcome = self.policies.evaluate(before, now=now, open_counts=open_counts, rotation=rotation)
        decided = tuple(apply_outcome(decisions, outcome))
        timings["policy"] = time.perf_counter() - started
        return DecidedBatch(decided, scored, outcome, frame, timings)
