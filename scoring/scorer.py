"""The one entry point of scoring: a feature frame in, one `Decision` per lead out (before policies).

    scorer = Scorer(config.scoring, features, trained, crm="salesforce", max_chars=32768)
    batch = scorer.score(frame, segments=policies.segment(frame), previous=stored, explain=changed_ids)
    decisions = apply_outcome(batch.decisions, policies.evaluate(...))   # the policy engine, after

With a trained model the score is round(100 x calibrated probability) and its reasons come from exact
TreeSHAP contributions; without one (`trained=None`: too few outcomes yet, see `coldstart.use_model`)
the score is the admin's points, and every reason says it is rule-based. `explain` limits explanations
to the leads that changed (the others are scored, with no reasons); `previous` holds what each lead's
last decision stored (`ScoredBatch.previous(lead_id)`), for the "what moved since" line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm, FeatureSpec, ScoringConfig
from scoring.coldstart import RULE_NOTICE, RULE_PREFIX, rule_points, rule_scores
from scoring.contributions import Explainer
from scoring.decision import Decision, Reason
from scoring.explain import (
    Previous,
    SourcePoints,
    describe_change,
    join_lines,
    reasons_for,
    since_line,
    source_points,
)
from scoring.features import FeatureFrame
from scoring.model import SegmentedModel
from scoring.training import TrainedModel, model_inputs

__all__ = ["ScoredBatch", "Scorer"]

RULES_VERSION = "rules"
FloatArray = npt.NDArray[np.float64]
_Explained = tuple[tuple[Reason, ...], tuple[Reason, ...], str, tuple[str, ...]]
_UNEXPLAINED: _Explained = ((), (), "", ())


@dataclass(frozen=True)
class ScoredBatch:
    """Decisions of a batch, plus per-source points and values of the explained leads (store them: they
    are the `previous` of the next score)."""

    decisions: tuple[Decision, ...]
    points: pd.DataFrame  # explained lead id x source: score points
    values: pd.DataFrame  # explained lead id x source: raw value of the column that speaks for it

    @cached_property
    def _by_id(self) -> dict[str, Decision]:
        return {d.lead_id: d for d in self.decisions}

    @cached_property
    def _rows(self) -> tuple[dict[str, int], list[str], list[list[float]], list[str], list[list[object]]]:
        # Plain lists, read once: pandas' per-row `.loc` costs tens of microseconds a lead.
        position = {str(lead): k for k, lead in enumerate(self.points.index)}
        values = self.values.reindex(self.points.index)
        return (
            position,
            [str(c) for c in self.points.columns],
            self.points.to_numpy(dtype=np.float64).tolist(),
            [str(c) for c in values.columns],
            values.to_numpy(dtype=object).tolist(),
        )

    def previous(self, lead_id: str) -> Previous | None:
        """What to pass back as `previous[lead_id]` next time (None when the lead was not explained)."""
        position, point_names, points, value_names, values = self._rows
        k = position.get(lead_id)
        if k is None:
            return None
        decision = self._by_id[lead_id]
        return Previous(
            decision.score,
            decision.scored_at,
            dict(zip(point_names, points[k], strict=True)),
            {name: _plain(v) for name, v in zip(value_names, values[k], strict=True)},
        )


class _TrainedExplainer(Explainer):
    def __init__(self, trained: TrainedModel) -> None:
        super().__init__(trained.model)
        self.trained = trained


class Scorer:
    """Feature frame -> decisions, with the model when there is one and with points otherwise."""

    def __init__(
        self,
        config: ScoringConfig,
        features: Sequence[FeatureSpec],
        trained: TrainedModel | None = None,
        *,
        crm: Crm,
        max_chars: int | None = None,
    ) -> None:
        self.config = config
        self.features = tuple(features)
        self.trained = trained
        self.crm = crm
        self.max_chars = max_chars
        self._explainer = _TrainedExplainer(trained) if trained is not None else None

    def score(
        self,
        frame: FeatureFrame,
        *,
        segments: pd.Series | npt.ArrayLike | None = None,
        previous: Mapping[str, Previous] | None = None,
        explain: Collection[str] | None = None,
        now: datetime | None = None,
    ) -> ScoredBatch:
        """Score every lead of `frame`; explain those in `explain` (default: all)."""
        lead_segments = _segments(frame, segments)
        explained = _explained(frame, explain)
        if self._explainer is None:
            probability, sources = self._rule_based(frame, explained)
        else:
            probability, sources = self._model_based(frame, lead_segments, explained, self._explainer)
        return self._decide(frame, probability, sources, lead_segments, previous, now)

    def _rule_based(self, frame: FeatureFrame, explained: list[object]) -> tuple[FloatArray, SourcePoints]:
        points = rule_points(frame.data, self.features)
        probability = rule_scores(points).to_numpy() / 100.0
        return probability, source_points(points.loc[explained], frame.columns)

    def _model_based(
        self, frame: FeatureFrame, segments: pd.Series, explained: list[object], explainer: _TrainedExplainer
    ) -> tuple[FloatArray, SourcePoints]:
        trained = explainer.trained
        routed = segments if isinstance(trained.model, SegmentedModel) else None
        inputs = model_inputs(frame, trained.schema, routed)
        contributions = explainer.contributions(inputs.loc[explained])
        probability = np.full(len(frame.data), np.nan)
        position = frame.data.index.get_indexer(pd.Index(explained))
        probability[position] = contributions.probability
        rest = np.flatnonzero(np.isnan(probability))
        if len(rest):
            probability[rest] = trained.model.predict_proba(inputs.iloc[rest])[:, 1]
        return probability, source_points(contributions.frame(), frame.columns)

    def _decide(
        self,
        frame: FeatureFrame,
        probability: FloatArray,
        sources: SourcePoints,
        segments: pd.Series,
        previous: Mapping[str, Previous] | None,
        now: datetime | None,
    ) -> ScoredBatch:
        scores = np.floor(100.0 * probability + 0.5).astype(np.int64)
        values = _source_values(frame, sources)
        explained = self._explanations(frame, sources, values, scores, previous or {})
        rule_based = self._explainer is None
        version = self.trained.version if self.trained is not None and not rule_based else RULES_VERSION
        segment_of = segments.to_numpy(dtype=object)
        completeness = frame.completeness.reindex(frame.data.index).fillna(1.0).to_numpy(dtype=np.float64)
        decisions = []
        for position, lead in enumerate(frame.data.index):
            up, down, text, changes = explained.get(lead, _UNEXPLAINED)
            segment, score = segment_of[position], int(scores[position])
            decisions.append(
                Decision(
                    lead_id=str(lead),
                    crm=self.crm,
                    score=score,
                    tier=self.config.tiers.tier(score),
                    probability=float(probability[position]),
                    reasons_up=up,
                    reasons_down=down,
                    reasons_text=text,
                    rule_based=rule_based,
                    model_version=version,
                    segment=str(segment) if isinstance(segment, str) else None,
                    scored_at=now or frame.now,
                    data_completeness=float(completeness[position]),
                    changes=changes,
                )
            )
        return ScoredBatch(tuple(decisions), sources.points, values)

    def _explanations(
        self,
        frame: FeatureFrame,
        sources: SourcePoints,
        values: pd.DataFrame,
        scores: npt.NDArray[np.int64],
        previous: Mapping[str, Previous],
    ) -> dict[object, _Explained]:
        """Reasons, text and "since" line of every explained lead."""
        rule_based = self._explainer is None
        explained = list(sources.points.index)
        contexts = _contexts(frame, explained)
        data = _columns_of(frame.data, explained, [c for c in sources.columns if c in frame.data])

        # A field's or activity fact's words depend on its value alone: many leads share them.
        rendered: dict[tuple[str, object], tuple[str, str, str]] = {}

        def render(row: int, column: str) -> tuple[str, str, str]:
            info = frame.columns[column]
            value = data[column][row] if column in data else None
            if info.origin == "graph":
                phrase = info.render(value, contexts(row))
                return info.label, phrase, phrase
            key = (column, value)
            found = rendered.get(key)
            if found is None:
                phrase = info.render(value)
                found = rendered[key] = (info.label, phrase.split(": ", 1)[-1], phrase)
            return found

        reasons = reasons_for(sources, render, prefix=RULE_PREFIX if rule_based else "")
        position = frame.data.index.get_indexer(pd.Index(explained))
        rows = _Rows(sources, values)
        out: dict[object, _Explained] = {}
        for k, lead in enumerate(explained):
            up, down = reasons[k]
            score = int(scores[position[k]])
            before = previous.get(str(lead))
            change = self._since(frame, rows, contexts, k, score, before) if before is not None else None
            changes = (change,) if change else ()
            out[lead] = (up, down, self._text(up, down, changes, rule_based), changes)
        return out

    def _since(
        self,
        frame: FeatureFrame,
        rows: _Rows,
        contexts: Callable[[int], Mapping[str, object]],
        k: int,
        score: int,
        before: Previous,
    ) -> str | None:
        points = dict(zip(rows.names, rows.points[k], strict=True))
        voice, now_values = rows.voice[k], rows.values[k]

        def describe(source: str) -> str | None:
            j = rows.position.get(source)
            if j is None or voice[j] < 0:
                return None  # gone from the model, or not explainable
            column = rows.columns[voice[j]]
            old, known = before.values.get(source), source in before.values
            return describe_change(frame.columns[column], old, now_values[j], contexts(k), known=known)

        return since_line(before, score, points, describe)

    def _text(
        self, up: tuple[Reason, ...], down: tuple[Reason, ...], changes: tuple[str, ...], rule_based: bool
    ) -> str:
        lines = [r.text.removeprefix(RULE_PREFIX) for r in (*up, *down)]
        header = [f"{RULE_NOTICE}:"] if rule_based else []
        return join_lines([*header, *changes, *lines], self.max_chars)


def _explained(frame: FeatureFrame, explain: Collection[str] | None) -> list[object]:
    if explain is None:
        return list(frame.data.index)
    wanted = set(explain)
    return [lead for lead in frame.data.index if lead in wanted]


def _columns_of(
    data: pd.DataFrame, ids: list[object], columns: list[str]
) -> dict[str, npt.NDArray[np.object_]]:
    """Each column's values at `ids` (rows of `data`), as objects. By position when the index is unique:
    a label `reindex` per column costs a millisecond a call, whatever the batch size."""
    if not data.index.is_unique:
        return {c: data[c].reindex(ids).to_numpy(dtype=object) for c in columns}
    if len(ids) == len(data.index) and data.index.equals(pd.Index(ids)):
        return {c: data[c].to_numpy(dtype=object) for c in columns}
    rows = data.index.get_indexer(pd.Index(ids))
    return {c: data[c].iloc[rows].to_numpy(dtype=object) for c in columns}


def _segments(frame: FeatureFrame, segments: pd.Series | npt.ArrayLike | None) -> pd.Series:
    if segments is None:
        return pd.Series(None, index=frame.data.index, dtype=object)
    if isinstance(segments, pd.Series):
        return segments.reindex(frame.data.index).astype(object)
    return pd.Series(np.asarray(segments, dtype=object), index=frame.data.index)


def _source_values(frame: FeatureFrame, sources: SourcePoints) -> pd.DataFrame:
    """Per explained lead and source, the raw value of the column that speaks for the source."""
    ids = sources.points.index
    matrix = frame.data.reindex(index=ids, columns=list(sources.columns)).to_numpy(dtype=object)
    voice = sources.voice
    picked = (
        np.take_along_axis(matrix, np.maximum(voice, 0), axis=1)
        if len(ids)
        else np.empty(voice.shape, object)
    )
    picked[voice < 0] = None
    return pd.DataFrame(picked, index=ids, columns=sources.points.columns, dtype=object)


class _Rows:
    """Per explained lead, plain lists of its points, voices and values (what the "since" line reads):
    pandas' per-row access costs tens of microseconds a lead, a list index tens of nanoseconds."""

    def __init__(self, sources: SourcePoints, values: pd.DataFrame) -> None:
        self.names = [str(c) for c in sources.points.columns]
        self.position = {name: j for j, name in enumerate(self.names)}
        self.columns = sources.columns
        self.points: list[list[float]] = sources.points.to_numpy(dtype=np.float64).tolist()
        self.voice: list[list[int]] = sources.voice.tolist()
        self.values: list[list[object]] = values.to_numpy(dtype=object).tolist()


def _contexts(frame: FeatureFrame, ids: list[object]) -> Callable[[int], Mapping[str, object]]:
    """Row -> the lead's context (account name, match reason...), read only where a phrase needs it.

    Each row's mapping is built once and shared by every phrase of the lead (fewer allocations: in a
    process holding a large world, allocations are what trigger the slow full garbage collections).
    """
    table = frame.context.reindex(pd.Index(ids)) if len(frame.context.columns) else None
    names = [str(c) for c in table.columns] if table is not None else []
    rows: list[list[object]] = table.to_numpy(dtype=object).tolist() if table is not None else []
    built: dict[int, Mapping[str, object]] = {}
    empty: Mapping[str, object] = {}

    def context(row: int) -> Mapping[str, object]:
        found = built.get(row)
        if found is None:
            found = built[row] = dict(zip(names, rows[row], strict=True)) if names else empty
        return found

    return context


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value
