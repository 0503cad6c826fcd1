"""TreeSHAP over tree cells: the same values as shap's own recursion, on every shape of tree."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring.treeshap import TreeShap
from scoring.treeshap_cells import pattern_table
from tests.scoring.model_fixtures import one_thread


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def _brute_table(zero: list[float], value: float) -> np.ndarray:
    """Shapley values of v(S) = value x prod_{j in S} o_j x prod_{j not in S} z_j, by enumeration."""
    d = len(zero)
    table = np.zeros((1 << d, d))
    for pattern in range(1 << d):
        ones = [(pattern >> j) & 1 for j in range(d)]

        def v(known: set[int], ones: list[int] = ones) -> float:
            return value * math.prod(ones[j] if j in known else zero[j] for j in range(d))

        for i in range(d):
            others = [j for j in range(d) if j != i]
            for size in range(d):
                for subset in itertools.combinations(others, size):
                    weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                    table[pattern, i] += weight * (v({*subset, i}) - v(set(subset)))
    return table


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=6),
    st.floats(min_value=-5, max_value=5, allow_nan=False),
)
def test_a_leafs_pattern_table_holds_the_shapley_values_of_its_product_game(
    zero: list[float], value: float
) -> None:
    assert np.allclose(pattern_table(zero, value), _brute_table(zero, value), atol=1e-12)


def _problem(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"n{i}": rng.normal(size=n) for i in range(6)})
    X["few"] = pd.Categorical(rng.choice(list("xyz"), size=n))
    X["many"] = pd.Categorical(rng.choice(list("abcdefghijklmnopqrst"), size=n))
    X.loc[rng.random(n) < 0.15, "n1"] = np.nan
    X.loc[rng.random(n) < 0.1, "many"] = np.nan
    signal = X["n0"] + X["n1"].fillna(1) * X["n2"] + X["many"].isin(list("acegik")) - (X["few"] == "y")
    y = (signal + rng.normal(scale=0.7, size=n) > 0.3).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize(
    ("params", "seed"),
    [
        ({"max_depth": 4, "max_leaf_nodes": 15, "max_iter": 40}, 1),  # the product's default shape
        ({"max_depth": 2, "max_leaf_nodes": 4, "max_iter": 30}, 2),  # repeated features on short paths
        ({"max_depth": None, "max_leaf_nodes": 31, "max_iter": 8}, 3),  # > 16 internal nodes: sorted codes
        ({"max_depth": None, "max_leaf_nodes": 80, "max_iter": 3, "min_samples_leaf": 5}, 4),  # > 62 nodes
    ],
)
def test_cells_give_shaps_own_values_with_missing_and_unseen_categories(
    params: dict[str, object], seed: int
) -> None:
    X, y = _problem(3000, seed)
    booster = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=0, early_stopping=False, **params
    ).fit(X, y)
    explainer = TreeShap(booster)
    later = X.head(600).copy()
    later["many"] = later["many"].cat.add_categories(["unseen"])
    later.loc[later.index[:20], "many"] = "unseen"  # read as missing, as sklearn does
    later.loc[later.index[20:40], "n0"] = np.nan  # missing where training had none
    ours = explainer.shap_values(later)
    assert np.allclose(ours, explainer.shap_values_reference(later), atol=1e-10)
    total = explainer.base_value + ours.sum(axis=1)
    assert np.allclose(total, booster.decision_function(later), atol=1e-9)


def test_one_row_and_no_rows() -> None:
    X, y = _problem(800, 5)
    explainer = TreeShap(
        HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=10).fit(X, y)
    )
    assert explainer.shap_values(X.head(0)).shape == (0, X.shape[1])
    one = explainer.shap_values(X.head(1))
    assert np.allclose(one, explainer.shap_values_reference(X.head(1)), atol=1e-10)
