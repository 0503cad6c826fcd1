"""The feedback loop: outcomes and review decisions become labels, labels trigger retraining, a challenger
is promoted only if it is not worse on the holdout, and each cycle's scored leads are checked for drift.

The cycle calls, per CRM:

    feedback.record_outcome_labels(ctx, crm, world, changed_ids, now)   # after the commit
    feedback.should_retrain(ctx, crm, now) -> reason | None              # then, with a reason:
    feedback.retrain(ctx, crm, world, now, reason=reason)              # or, beside the send:
    training = feedback.begin_retrain(ctx, crm, world, now, reason=reason); ...; training.finish()
    feedback.load_champion(ctx, crm)                                     # the model to score with
    feedback.measure_drift(ctx, crm, trained, frame.data, scores)        # after scoring; or, chunked:
    counts = feedback.drift_counts(trained)                              # then counts.add(...) a chunk
    feedback.judge_drift(ctx, crm, trained, counts)                      # at a time, and once at the end

Labels live in `sync.feedback_labels`, training and promotion in `sync.feedback_models`; drift is here.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mappings import Crm
from scoring.drift import DriftBaseline, DriftCounts
from scoring.training import TrainedModel
from sync.context import CycleContext
from sync.feedback_labels import (
    LabelConfig,
    OutcomeIndex,
    WorldLike,
    outcome_label,
    record_outcome_labels,
    training_labels,
)
from sync.feedback_models import (
    Retraining,
    RetrainResult,
    begin_retrain,
    load_champion,
    retrain,
)
from sync.feedback_when import should_retrain

__all__ = [
    "MIN_DRIFT_ROWS",
    "LabelConfig",
    "OutcomeIndex",
    "RetrainResult",
    "Retraining",
    "WorldLike",
    "begin_retrain",
    "drift_counts",
    "judge_drift",
    "load_champion",
    "measure_drift",
    "outcome_label",
    "record_outcome_labels",
    "retrain",
    "should_retrain",
    "training_labels",
]

drift_log = logging.getLogger("leadq.drift")
MIN_DRIFT_ROWS = 100
"""Below this many scored leads PSI is reported but not judged (a handful of leads always looks shifted)."""


def measure_drift(
    ctx: CycleContext,
    crm: Crm,
    trained: TrainedModel | None,
    inputs: pd.DataFrame,
    scores: npt.ArrayLike,
) -> dict[str, Any]:
    """PSI of each model input and of the score (0-100) of this cycle's scored leads against the
    champion's training data, with the levels of `scoring.drift`:

        {"score_psi": 0.03, "level": "ok|warn|alert", "columns": {name: psi}, "drifted": [names],
         "rows": n, "judged": True, "model_version": ..., "psi_warn": ..., "psi_alert": ...}

    `drifted` lists the inputs at warn or alert, worst first. Empty without a model (or a baseline, or
    rows). At alert level a warning is logged on `leadq.drift` and an audit entry `drift_alert` kept;
    batches under `MIN_DRIFT_ROWS` leads are measured but their level stays "ok".
    """
    counts = drift_counts(trained)
    if counts is None or len(inputs) == 0:
        return {}
    values = np.asarray(scores, dtype=np.float64)
    counts.add(inputs, values if values.size else None)
    return judge_drift(ctx, crm, trained, counts)


def drift_counts(trained: TrainedModel | None) -> DriftCounts | None:
    """An empty per-bin tally against the champion's training data (None without a model or baseline):
    add each scored chunk to it, then `judge_drift` gives what `measure_drift` gives of all of them."""
    if trained is None or "drift_baseline" not in trained.extra:
        return None
    return DriftCounts(DriftBaseline.from_dict(trained.extra["drift_baseline"]))


def judge_drift(
    ctx: CycleContext, crm: Crm, trained: TrainedModel | None, counts: DriftCounts | None
) -> dict[str, Any]:
    """`measure_drift`'s result, log line and audit entry for the leads added to `counts`."""
    if trained is None or counts is None or counts.rows == 0:
        return {}
    thresholds = ctx.config.scoring.drift
    report = counts.report(thresholds)
    judged = report.rows >= MIN_DRIFT_ROWS
    level = report.level if judged else "ok"
    result: dict[str, Any] = {
        "score_psi": round(report.score.psi, 6) if report.score is not None else 0.0,
        "level": level,
        "columns": {c.name: round(c.psi, 6) for c in report.columns},
        "drifted": [c.name for c in report.drifted()] if judged else [],
        "rows": report.rows,
        "judged": judged,
        "model_version": trained.version,
        "psi_warn": thresholds.psi_warn,
        "psi_alert": thresholds.psi_alert,
    }
    if level == "alert":
        alerting = [c.name for c in report.drifted() if c.level == "alert"]
        if report.score is not None and report.score.level == "alert":
            alerting.insert(0, "score")
        drift_log.warning(
            "%s: drift beyond scoring.drift.psi_alert %s on %d scored leads (model %s): %s; score PSI %.3f",
            crm, thresholds.psi_alert, report.rows, trained.version or "?", ", ".join(alerting) or "-",
            result["score_psi"],
        )  # fmt: skip
        ctx.store.audit("leadq", "drift_alert", crm=crm, model_version=trained.version or None,
                        detail={"alerting": alerting, "score_psi": result["score_psi"], "rows": report.rows,
                                "columns": {n: result["columns"][n] for n in result["drifted"]}})  # fmt: skip
    return result
