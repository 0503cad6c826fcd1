"""The estimator: scikit-learn contract, calibration, category folding, segments, training."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from mappings import ScoringConfig
from scoring.metrics import ece
from scoring.model import OTHER, LeadModel, SegmentedModel
from scoring.training import NotEnoughLabels, predict, train
from tests.scoring.model_fixtures import CONFIG, lead_data, one_thread


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@parametrize_with_checks([LeadModel(max_iter=20, calibration_cv=3)])
def test_sklearn_estimator_contract(estimator: Any, check: Any) -> None:
    check(estimator)


def _logistic_problem(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(list("pqrs"), size=n)),
        }
    )
    logit = 1.2 * X["a"] - 0.8 * X["b"] + 1.0 * (X["c"] == "p") - 0.3
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()


def test_probabilities_are_calibrated_on_held_out_data() -> None:
    X, y = _logistic_problem(8000, seed=1)
    model = LeadModel().fit(X.iloc[:5000], y[:5000])
    p = model.predict_proba(X.iloc[5000:])[:, 1]
    assert model.calibration_ in ("sigmoid", "isotonic")
    assert set(model.calibration_ece_) == {"sigmoid", "isotonic"}
    assert ece(y[5000:], p) < 0.03
    # calibrated log-odds agree with predict and with the probabilities' order
    decision = model.decision_function(X.iloc[5000:])
    assert np.array_equal(model.predict(X.iloc[5000:]) == 1, decision > 0)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_can_be_forced(method: str) -> None:
    X, y = _logistic_problem(1500, seed=2)
    model = LeadModel(calibration=method, max_iter=50).fit(X, y)  # type: ignore[arg-type]
    assert model.calibration_ == method
    raw = model.raw_score(X)
    assert np.all(np.diff(model.calibrate(np.sort(raw))) >= -1e-12)  # monotone


def test_fit_params_are_untouched_and_clone_works() -> None:
    model = LeadModel(max_leaf_nodes=7, calibration="sigmoid")
    params = model.get_params()
    X, y = _logistic_problem(600, seed=3)
    fitted = model.fit(X, y)
    assert fitted is model and model.get_params() == params
    copy = clone(model)
    assert copy.get_params() == params and not hasattr(copy, "booster_")
    assert model.set_params(max_depth=3).max_depth == 3


def test_rare_categories_share_one_bucket_and_unseen_ones_score() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    names = [f"country {i:02d}" for i in range(40)]
    X = pd.DataFrame({"country": pd.Categorical(rng.choice(names, size=n)), "x": rng.normal(size=n)})
    y = (rng.random(n) < 0.4).astype(int)
    model = LeadModel(max_iter=30).fit(X, y)
    kept = model.categories_["country"]
    assert len(kept) == model.max_categories and kept[-1] == OTHER
    later = pd.DataFrame(
        {"country": pd.Categorical(["country 00", "nowhere", None]), "x": [0.0, 0.0, np.nan]}
    )
    p = model.predict_proba(later)[:, 1]
    assert np.all((p >= 0) & (p <= 1))


def test_columns_must_match_training() -> None:
    X, y = _logistic_problem(600, seed=5)
    model = LeadModel(max_iter=20).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(X[["b", "a", "c"]])


def test_segmented_model_routes_rows_and_falls_back_for_small_segments() -> None:
    X, y = _logistic_problem(3000, seed=6)
    segment = np.where(np.arange(3000) < 2700, "enterprise", "smb")  # smb: ~300 rows, too few labels
    data = X.assign(segment=segment)
    model = SegmentedModel(LeadModel(max_iter=40), min_labels_per_class=200).fit(data, y)
    assert set(model.models_) == {"enterprise"}
    routed = model.route(data)
    assert routed.iloc[0] == "enterprise" and routed.iloc[-1] is None
    p = model.predict_proba(data)[:, 1]
    expected = model.models_["enterprise"].predict_proba(X.iloc[:5])[:, 1]
    assert np.allclose(p[:5], expected)
    assert np.allclose(p[-5:], model.global_.predict_proba(X.iloc[-5:])[:, 1])
    assert clone(model).get_params()["min_labels_per_class"] == 200


def test_train_needs_enough_labels_of_each_kind() -> None:
    frame, outcome = lead_data(300)
    with pytest.raises(NotEnoughLabels, match="a model needs 200 of each"):
        train(frame, outcome, ScoringConfig())


def test_train_measures_on_a_holdout_and_predicts_conformed_frames() -> None:
    frame, outcome = lead_data(1500)
    trained = train(frame, outcome, CONFIG, holdout=0.25, params={"max_iter": 60})
    assert trained.metrics is not None and trained.metrics.n == 375
    assert 0.6 < trained.metrics.auc < 0.95
    assert trained.positives + trained.negatives == 1500
    assert trained.sources["free_email"] == trained.sources["email_domain"] == "Email"
    # a later frame missing a column and with an unknown category still scores
    later = frame.data.iloc[:3].drop(columns=["employees"])
    later["lead_source"] = later["lead_source"].cat.add_categories(["Webinar"])
    later.iloc[0, 0] = "Webinar"
    shrunk = type(frame)(later, frame.columns, frame.context.iloc[:3], frame.completeness.iloc[:3], frame.now)
    assert predict(trained, shrunk).shape == (3,)
