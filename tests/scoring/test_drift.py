"""Population stability index per column and for the score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mappings.config.policy import Drift
from scoring.drift import DriftBaseline, drift_report, psi

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
