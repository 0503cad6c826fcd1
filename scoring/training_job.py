"""One training as a value: the frame, the labels and the split in, the model with its holdout figures out.

A `TrainingJob` holds only data (frames, labels, configuration), so it pickles: the daemon builds it from
its world, where the features are, and runs it in a worker process beside the send, on a core the
cycle's own thread does not use. `run` is the same fit wherever it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mappings import FeatureSpec, ScoringConfig
from scoring.coldstart import label_counts
from scoring.features import FeatureFrame
from scoring.metrics import quality
from scoring.training import TrainedModel, holdout_evaluation, predict, subset, train

__all__ = ["TrainingJob"]


@dataclass(frozen=True)
class TrainingJob:
    """Fit on `train_ids`, evaluate on `test_ids` (both rows of `frame`, labelled in `labels`)."""

    frame: FeatureFrame
    labels: pd.Series  # lead id -> 0/1, training and holdout
    train_ids: Sequence[str]
    test_ids: Sequence[str]
    config: ScoringConfig
    features: Sequence[FeatureSpec] = ()
    segments: pd.Series | None = None  # lead id -> segment, when segments are configured

    def holdout(self) -> tuple[FeatureFrame, pd.Series, pd.Series | None]:
        """The holdout's frame, outcomes and segments (what promotion compares the champion on)."""
        test = list(self.test_ids)
        routed = None if self.segments is None else self.segments.loc[test]
        return subset(self.frame, test), self.labels.loc[test], routed

    def run(self) -> TrainedModel:
        """The fitted model, with its holdout quality and evaluation, and the label counts it was built
        from (training and holdout, as cold start counts them). Raises `NotEnoughLabels`."""
        fitted = self.labels.loc[list(self.train_ids)]
        # The totals passed the minimum; the training part is smaller by the holdout, so the fit may go
        # below it (per-segment models keep the configured minimum wherever the data allows it).
        smallest = max(1, min(self.config.min_labels_per_class, *label_counts(fitted)))
        fit_config = self.config.model_copy(update={"min_labels_per_class": smallest})
        trained = train(self.frame, fitted, fit_config, segments=self.segments, features=self.features)
        held, outcome, routed = self.holdout()
        y = outcome.to_numpy()
        p = predict(trained, held, segments=routed)
        evaluation = holdout_evaluation(
            trained, held, y, p, features=self.features, segments=routed, thresholds=self.config.drift
        )
        positives, negatives = label_counts(self.labels)
        return replace(
            trained,
            metrics=quality(y, np.asarray(p)),
            positives=positives,
            negatives=negatives,
            extra={**trained.extra, "holdout": evaluation},
        )
