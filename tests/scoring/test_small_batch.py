"""Small batches take the fast paths: every tree at once (`scoring.treeshap_forest`), category codes read
without sklearn's preprocessor, fewer per-lead steps in the "since" line. Each must give exactly what
the previous computation gave."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring import treeshap_cells
from scoring.contributions import Explainer
from scoring.explain import MIN_POINTS, OTHER_FACTORS, Previous, signed, since_line
from scoring.model import LeadModel
from scoring.treeshap import TreeShap
from tests.scoring.model_fixtures import one_thread


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def _problem(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"n{i}": rng.normal(size=n) for i in range(5)})
    X["few"] = pd.Categorical(rng.choice(list("xyz"), size=n))
    X["many"] = pd.Categorical(rng.choice(list("abcdefghijklmnop"), size=n))
    X.loc[rng.random(n) < 0.15, "n1"] = np.nan
    X.loc[rng.random(n) < 0.1, "many"] = np.nan
    signal = X["n0"] + X["n1"].fillna(1) * X["n2"] + X["many"].isin(list("acegik")) - (X["few"] == "y")
    return X, (signal + rng.normal(scale=0.7, size=n) > 0.3).astype(int).to_numpy()


@cache
def _explainer(shape: str) -> tuple[TreeShap, pd.DataFrame]:
    """A booster of the product's shape, or one mixing small trees with trees of > 16 internal nodes
    (explained on their own, in their place in the order); and rows to explain."""
    X, y = _problem(2500, 7)
    params: dict[str, object] = (
        {"max_depth": 4, "max_leaf_nodes": 15, "max_iter": 60}
        if shape == "product"
        else {"max_depth": None, "max_leaf_nodes": 24, "max_iter": 25, "min_samples_leaf": 110}
    )
    with one_thread():
        booster = HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=0, early_stopping=False, **params
        ).fit(X, y)
    rows, _ = _problem(2000, 8)
    rows["many"] = rows["many"].cat.add_categories(["unseen"])
    rows.loc[rows.index[:30], "many"] = "unseen"
    rows.loc[rows.index[30:60], "n0"] = np.nan
    return TreeShap(booster), rows


def test_the_mixed_booster_has_both_kinds_of_tree() -> None:
    explainer, _ = _explainer("mixed")
    sizes = {len(tree.feature) > treeshap_cells.DIRECT_CODES for tree in explainer._cells if tree.leaves}
    assert sizes == {True, False}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["product", "mixed"]),
    st.integers(min_value=1, max_value=2000),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from([64, 4096, 1 << 17]),
)
def test_every_tree_at_once_gives_the_per_tree_values_bit_for_bit(
    shape: str, n: int, seed: int, block: int
) -> None:
    explainer, rows = _explainer(shape)
    picked = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    matrix = explainer.matrix(rows.iloc[picked])
    per_tree = treeshap_cells.shap_values(explainer._cells, matrix, matrix.shape[1])
    at_once = explainer._forest.shap_values(matrix, block=block)
    assert np.array_equal(at_once, per_tree)


def test_large_batches_go_tree_by_tree_with_the_same_values() -> None:
    explainer, rows = _explainer("product")
    matrix = explainer.matrix(rows)
    per_tree = treeshap_cells.shap_values(explainer._cells, matrix, matrix.shape[1])
    assert np.array_equal(explainer._forest.shap_values(matrix, batch_rows=100), per_tree)
    assert np.array_equal(explainer._forest.shap_values(matrix), per_tree)
    assert np.array_equal(explainer._forest.shap_values(matrix[:0]), per_tree[:0])


def _through_sklearn(explainer: TreeShap, X: pd.DataFrame) -> np.ndarray:
    """`matrix(X)` the previous way: the booster's own preprocessor, then the known-code mapping."""
    out = np.array(explainer._booster._preprocessor.transform(X), dtype=np.float64)
    for j, known in explainer._known.items():
        codes, present = out[:, j], ~np.isnan(out[:, j])
        index = codes[present].astype(np.int64)
        column = np.full(len(codes), np.nan)
        column[present] = np.where(known[index], index + 1.0, np.nan)
        out[:, j] = column
    return out


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=500), st.integers(min_value=0, max_value=2**32 - 1), st.booleans())
def test_category_codes_are_read_as_sklearns_preprocessor_reads_them(
    n: int, seed: int, shuffle: bool
) -> None:
    explainer, rows = _explainer("product")
    X = rows.iloc[np.random.default_rng(seed).choice(len(rows), size=n, replace=False)].copy()
    if shuffle:  # the same values under another category order: another lookup, the same numbers
        order = list(X["many"].cat.categories)[::-1]
        X["many"] = X["many"].cat.reorder_categories(order)
    fast = explainer._matrix_from_codes(X)
    assert fast is not None
    assert np.array_equal(fast, _through_sklearn(explainer, X), equal_nan=True)
    assert np.array_equal(explainer.matrix(X), fast, equal_nan=True)


def test_frames_the_lookup_cannot_read_go_through_sklearn() -> None:
    explainer, rows = _explainer("product")
    X = rows.head(50).copy()
    X["few"] = X["few"].astype(object)  # not categorical: sklearn's path
    assert explainer._matrix_from_codes(X) is None
    assert np.array_equal(explainer.matrix(X), _through_sklearn(explainer, X), equal_nan=True)
    renamed = rows.head(5).rename(columns={"n0": "other"})
    assert explainer._matrix_from_codes(renamed) is None
    with pytest.raises(ValueError, match="missing"):  # sklearn says which columns
        explainer.matrix(renamed)


def test_a_refitted_model_is_never_explained_with_the_old_models_tables() -> None:
    X, y = _problem(1200, 9)
    model = LeadModel(max_iter=30, calibration_cv=2, calibration="sigmoid").fit(X, y)
    explainer = Explainer(model)
    first = explainer.contributions(X.head(300))
    assert np.allclose(first.raw, model.raw_score(X.head(300)), atol=1e-9)
    other_y = 1 - y  # another booster altogether
    model.fit(X, other_y)
    second = explainer.contributions(X.head(300))
    assert np.allclose(second.raw, model.raw_score(X.head(300)), atol=1e-9)
    assert not np.allclose(second.raw, first.raw)
    fresh = Explainer(model).contributions(X.head(300))
    assert np.array_equal(second.log_odds, fresh.log_odds)


def _since_line_before(
    previous: Previous, score: int, points: Mapping[str, float], describe: Callable[[str], str | None]
) -> str | None:
    """`since_line` as it was (the oracle)."""
    deltas = {s: points.get(s, 0.0) - previous.points.get(s, 0.0) for s in {*points, *previous.points}}
    ranked = sorted(
        (s for s in deltas if s != OTHER_FACTORS and abs(deltas[s]) >= MIN_POINTS),
        key=lambda s: (-abs(deltas[s]), s),
    )
    details = [text for s in ranked if (text := describe(s)) is not None][:2]
    change = score - previous.score
    if change == 0 and not details:
        return None
    moment = previous.scored_at
    when = f"since {moment.day} {moment:%b}" if moment is not None else "since the last score"
    return f"{signed(change)} {when}" + (f": {'; '.join(details)}" if details else "")


_SOURCES = st.sampled_from(
    ["LeadSource", "Email", "graph:colleagues", "activity:visits", OTHER_FACTORS, "Title"]
)
_POINTS = st.dictionaries(_SOURCES, st.floats(min_value=-30, max_value=30, allow_nan=False), max_size=6)


@settings(max_examples=200, deadline=None)
@given(_POINTS, _POINTS, st.integers(0, 100), st.integers(0, 100), st.sets(_SOURCES))
def test_the_since_line_says_what_it_said_before(
    before: dict[str, float], now: dict[str, float], old_score: int, score: int, unchanged: set[str]
) -> None:
    previous = Previous(old_score, datetime(2026, 11, 3, tzinfo=UTC), before)

    def describe(source: str) -> str | None:
        return None if source in unchanged else f"{source} changed"

    assert since_line(previous, score, now, describe) == _since_line_before(previous, score, now, describe)
