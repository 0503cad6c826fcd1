"""Population stability index per column and for the score."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.config.policy import Drift
from scoring.drift import DriftBaseline, DriftCounts, drift_report, psi

THRESHOLDS = Drift(psi_warn=0.1, psi_alert=0.25)


def _data(n: int, seed: int, shift: float = 0.0, web: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "employees": rng.lognormal(4 + shift, 1.0, size=n),
            "source": pd.Categorical(rng.choice(["Web", "Partner"], size=n, p=[web, 1 - web])),
        }
    )


def test_psi_of_known_shares() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * np.log(1.8) - 0.4 * np.log(0.2))
    assert np.isfinite(psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]))  # an empty bin is floored, not infinite


def test_same_distribution_is_stable_and_a_shift_alerts() -> None:
    training = _data(5000, seed=1)
    baseline = DriftBaseline.fit(training, scores=np.linspace(0, 100, 5000))
    same = drift_report(baseline, _data(3000, seed=2), THRESHOLDS, scores=np.linspace(0, 100, 3000))
    assert same.level == "ok" and all(c.psi < 0.02 for c in same.columns)
    shifted = drift_report(
        baseline, _data(3000, seed=3, shift=1.0, web=0.9), THRESHOLDS, scores=np.full(3000, 90.0)
    )
    levels = {c.name: c.level for c in shifted.columns}
    assert levels == {"employees": "alert", "source": "alert"}
    assert shifted.score is not None and shifted.score.level == "alert" and shifted.level == "alert"
    assert next(c.name for c in shifted.drifted()) in {"employees", "source"}


def test_unseen_categories_and_missing_values_have_their_own_bins() -> None:
    baseline = DriftBaseline.fit(_data(2000, seed=4))
    later = _data(2000, seed=5)
    later["source"] = pd.Categorical(["Webinar"] * 2000)
    later.loc[:999, "employees"] = np.nan
    report = drift_report(baseline, later, THRESHOLDS)
    assert {c.name: c.level for c in report.columns} == {"employees": "alert", "source": "alert"}


def test_baseline_round_trips_through_json_form() -> None:
    baseline = DriftBaseline.fit(_data(1000, seed=6), scores=np.arange(1000) / 10)
    again = DriftBaseline.from_dict(baseline.to_dict())
    batch = _data(500, seed=7, shift=0.3)
    first = drift_report(baseline, batch, THRESHOLDS)
    second = drift_report(again, batch, THRESHOLDS)
    assert [c.psi for c in first.columns] == [c.psi for c in second.columns]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    seed=st.integers(0, 2**16),
    with_scores=st.booleans(),
)
def test_counts_added_chunk_by_chunk_report_what_one_batch_reports(
    n: int, cuts: list[int], seed: int, with_scores: bool
) -> None:
    """A cycle scores its people in chunks: the per-bin counts add up to exactly the batch's report."""
    baseline = DriftBaseline.fit(_data(500, seed=1), scores=np.linspace(0, 100, 500))
    batch = _data(n, seed=seed, shift=0.5, web=0.8)
    batch.loc[batch.index[::7], "employees"] = np.nan  # missing values have their own bin
    scores = np.random.default_rng(seed).integers(0, 101, n).astype(np.float64)
    counts = DriftCounts(baseline)
    bounds = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    for start, end in pairwise(bounds):
        part = batch.iloc[start:end]  # each chunk's categories are its own (pd.Categorical of the chunk)
        part = part.assign(source=pd.Categorical(part["source"].astype(str)))
        counts.add(part, scores[start:end] if with_scores else None)
    whole = drift_report(baseline, batch, THRESHOLDS, scores=scores if with_scores else None)
    assert counts.report(THRESHOLDS) == whole
