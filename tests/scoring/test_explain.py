"""Explanations: exact TreeSHAP (categorical splits included), score-scale points, reasons and text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from math import factorial

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring.contributions import Explainer
from scoring.explain import (
    OTHER_FACTORS,
    Previous,
    describe_change,
    join_lines,
    reasons_for,
    signed,
    since_line,
    source_points,
)
from scoring.features import ColumnInfo
from scoring.training import model_inputs
from scoring.treeshap import TreeShap
from tests.scoring.model_fixtures import COLUMNS, lead_data, one_thread, trained_model

MINUS = "\u2212"


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def _categorical_problem(n: int = 1200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": pd.Categorical(rng.choice(list("abcdefghij"), size=n)),
            "c": rng.normal(size=n),
            "d": pd.Categorical(rng.choice(list("xyz"), size=n)),
        }
    )
    X.loc[::7, "a"] = np.nan
    X.loc[::11, "b"] = np.nan
    signal = (
        X["a"].fillna(0)
        + 1.5 * X["b"].isin(["a", "c", "j"])
        - X["b"].isin(["e", "f"])
        + (X["d"] == "x") * X["c"]
    )
    return X, (signal + rng.normal(size=n) > 0.5).astype(int).to_numpy()


def _booster(X: pd.DataFrame, y: np.ndarray, **params: object) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0, **params).fit(
        X, y
    )


def test_tree_shap_adds_up_to_the_raw_output_with_categorical_splits() -> None:
    X, y = _categorical_problem()
    booster = _booster(X, y, max_iter=60, max_leaf_nodes=15)
    explainer = TreeShap(booster)
    later = X.copy()
    later["b"] = later["b"].cat.add_categories(["unseen"])
    later.loc[0, "b"] = "unseen"  # unknown categories read as missing, as in sklearn
    phi = explainer.shap_values(later)
    assert np.allclose(explainer.raw(later), booster.decision_function(later), atol=1e-12)
    assert np.allclose(explainer.base_value + phi.sum(axis=1), booster.decision_function(later), atol=1e-9)


def test_shap_alone_misreads_categorical_splits() -> None:
    # Why scoring.treeshap exists: shap 0.51 reads every split as `x <= threshold` (shap issue #3436).
    X, y = _categorical_problem()
    booster = _booster(X, y, max_iter=30)
    codes = X.assign(b=X["b"].cat.codes.astype(float), d=X["d"].cat.codes.astype(float))
    naive = shap.TreeExplainer(booster)
    error = np.abs(
        naive.expected_value
        + naive.shap_values(codes, check_additivity=False).sum(1)
        - booster.decision_function(X)
    )
    assert error.max() > 0.1


def _path_dependent_value(predictor: object, x: np.ndarray, known: set[int]) -> float:
    nodes = predictor.nodes  # type: ignore[attr-defined]
    bitsets = predictor.raw_left_cat_bitsets  # type: ignore[attr-defined]

    def walk(i: int) -> float:
        node = nodes[i]
        if node["is_leaf"]:
            return float(node["value"])
        j = int(node["feature_idx"])
        if j in known:
            value = x[j]
            if np.isnan(value):
                left = bool(node["missing_go_to_left"])
            elif node["is_categorical"]:
                code = int(value)
                left = bool((int(bitsets[node["bitset_idx"]][code // 32]) >> (code % 32)) & 1)
            else:
                left = value <= node["num_threshold"]
            return walk(int(node["left"] if left else node["right"]))
        lc, rc = nodes[node["left"]]["count"], nodes[node["right"]]["count"]
        return float((lc * walk(int(node["left"])) + rc * walk(int(node["right"]))) / node["count"])

    return walk(0)


def test_tree_shap_equals_brute_force_shapley_values() -> None:
    X, y = _categorical_problem(800)
    booster = _booster(X, y, max_iter=15, max_leaf_nodes=8)
    explainer = TreeShap(booster)
    encoded = booster._preprocessor.transform(X.head(4))  # categorical columns first: b, d, a, c
    original = [1, 3, 0, 2]
    m = X.shape[1]
    phi = explainer.shap_values(X.head(4))
    for row in range(4):

        def v(known: set[int], x: np.ndarray = encoded[row]) -> float:
            return sum(_path_dependent_value(p, x, known) for (p,) in booster._predictors)

        exact = np.zeros(m)
        for j in range(m):
            others = [k for k in range(m) if k != j]
            for size in range(m):
                for subset in itertools.combinations(others, size):
                    weight = factorial(size) * factorial(m - size - 1) / factorial(m)
                    exact[original[j]] += weight * (v({*subset, j}) - v(set(subset)))
        assert np.allclose(phi[row], exact, atol=1e-10)


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_contributions_add_up_in_log_odds_and_on_the_score_scale(calibration: str) -> None:
    trained = trained_model(calibration)
    frame, _ = lead_data(300, seed=9)
    X = model_inputs(frame, trained.schema)
    result = Explainer(trained.model).contributions(X)
    model = trained.model
    assert np.allclose(result.base_log_odds + result.log_odds.sum(axis=1), model.raw_score(X), atol=1e-9)
    assert np.allclose(result.base_score + result.points.sum(axis=1), 100 * result.probability, atol=1e-9)
    assert np.allclose(result.probability, model.predict_proba(X)[:, 1], atol=1e-12)
    assert np.all(np.sign(result.points) * np.sign(result.log_odds) >= 0)  # contributions keep their sign
    if calibration == "sigmoid":  # calibrated log-odds are affine in the raw score: a * SHAP adds up there
        a = float(model.calibrator_.coef_[0, 0])  # type: ignore[union-attr]
        b = float(model.calibrator_.intercept_[0])  # type: ignore[union-attr]
        logit = np.log(result.probability / (1 - result.probability))
        assert np.allclose(a * result.base_log_odds + b + (a * result.log_odds).sum(axis=1), logit, atol=1e-9)


def test_points_are_grouped_by_source_and_hidden_fields_become_other_factors() -> None:
    points = pd.DataFrame(
        {
            "free_email": [4.0, -1.0],
            "email_domain": [2.0, 3.0],
            "lead_source": [-5.0, 1.0],
            "employees": [0.2, 0.0],
        },
        index=["L1", "L2"],
    )
    infos = {**COLUMNS, "email_domain": COLUMNS["email_domain"]}
    sources = source_points(points, infos)
    table = sources.points
    assert table.loc["L1", "Email"] == 4.0  # free_email only: email_domain is not explainable
    assert table.loc["L1", OTHER_FACTORS] == 2.0 and table.loc["L2", OTHER_FACTORS] == 3.0
    assert table.loc["L1", "LeadSource"] == -5.0
    everything = source_points(points, infos, explainable_only=False).points
    assert everything.loc["L1", "Email"] == 6.0 and OTHER_FACTORS not in everything.columns
    assert np.allclose(table.sum(axis=1), points.sum(axis=1))


def _sources(values: dict[str, list[float]]) -> tuple[pd.DataFrame, dict[str, ColumnInfo]]:
    infos = {name: ColumnInfo(name, name.title(), f"src:{name}", "field", "number") for name in values}
    return pd.DataFrame(values, index=["L1"]), infos


def test_top_three_up_and_down_biggest_first() -> None:
    points, infos = _sources(
        {
            "a": [9.4],
            "b": [-6.2],
            "c": [3.0],
            "d": [0.3],
            "e": [5.0],
            "f": [-1.0],
            "g": [-0.2],
            "h": [1.0],
            "i": [-3.0],
        }
    )
    sources = source_points(points, infos)
    [(up, down)] = reasons_for(
        sources, lambda row, column: (infos[column].label, "1", f"{infos[column].label}: 1")
    )
    assert [r.label for r in up] == ["A", "E", "C"] and [r.label for r in down] == ["B", "I", "F"]
    assert up[0].text == "A: 1, +9" and down[0].text == f"B: 1, {MINUS}6"
    assert all(abs(r.points) >= 0.5 for r in (*up, *down))


def test_reasons_render_real_values_and_fit_the_field() -> None:
    trained = trained_model()
    frame, _ = lead_data(50, seed=3)
    from scoring.scorer import Scorer
    from tests.scoring.model_fixtures import CONFIG, SPECS

    batch = Scorer(CONFIG, SPECS, trained, crm="salesforce", max_chars=120).score(frame)
    for decision in batch.decisions:
        assert len(decision.reasons_text) <= 120
        lines = decision.reasons_text.split("\n")
        texts = {r.text for r in (*decision.reasons_up, *decision.reasons_down)}
        assert all(line in texts for line in lines)  # whole lines only
        assert "Email domain" not in decision.reasons_text  # not explainable
    reasons = [r for d in batch.decisions for r in (*d.reasons_up, *d.reasons_down)]
    assert any(r.text.startswith("Lead source: ") and r.source == "LeadSource" for r in reasons)
    graph = [r for r in reasons if r.source.startswith("graph:")]
    assert graph and all("Acme Corp" in r.text for r in graph)


def test_join_lines_keeps_whole_lines_and_never_cuts_a_word() -> None:
    lines = ["Lead source: Partner Referral, +14", "Employees: 12, \u22126", "Other factors, +1"]
    assert join_lines(lines, None) == "\n".join(lines)
    assert join_lines(lines, 60) == "\n".join(lines[:2])
    assert join_lines(lines, 34) == lines[0]
    assert join_lines(lines, 20) == "Lead source\u2026"
    assert join_lines(lines, 3) == ""


def test_signed_points_use_a_true_minus_sign() -> None:
    assert (signed(14.4), signed(-6.2), signed(0.2)) == ("+14", f"{MINUS}6", "0")


def test_since_line_names_the_score_change_and_the_biggest_mover() -> None:
    previous = Previous(
        score=40,
        scored_at=datetime(2026, 11, 3, tzinfo=UTC),
        points={"visits": 2.0, "source": 10.0, OTHER_FACTORS: 1.0},
    )
    now = {"visits": 11.0, "source": 9.8, OTHER_FACTORS: -4.0}
    changed = {"visits": "4 more pricing page visits (30 days)", "source": None}
    line = since_line(previous, 49, now, changed.get)
    assert line == "+9 since 3 Nov: 4 more pricing page visits (30 days)"
    assert since_line(previous, 40, previous.points, lambda s: None) is None
    unchanged_values = since_line(previous, 43, {"visits": 2.0, "source": 13.0}, lambda s: None)
    assert unchanged_values == "+3 since 3 Nov"


def test_describe_change() -> None:
    visits = COLUMNS["pricing_visits_30d"]
    assert describe_change(visits, 2.0, 6.0, {}) == "4 more pricing page visits (30 days)"
    assert describe_change(visits, 6.0, 6.0, {}) is None
    source = COLUMNS["lead_source"]
    assert describe_change(source, "Web", "Partner Referral", {}) == "Lead source: Partner Referral (was Web)"
    assert describe_change(source, None, "Web", {}, known=False) == "Lead source: Web"
    employees = COLUMNS["employees"]
    assert describe_change(employees, 10.0, 12.0, {}) == "Employees: 12 (was 10)"


def test_tree_shap_of_a_numeric_only_model_matches_shap_itself() -> None:
    X, y = _categorical_problem()
    numeric = X[["a", "c"]]
    booster = _booster(numeric, y, max_iter=20)
    ours = TreeShap(booster).shap_values(numeric)
    theirs = shap.TreeExplainer(booster).shap_values(numeric)
    assert np.allclose(ours, theirs, atol=1e-12)
