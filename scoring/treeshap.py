"""Exact TreeSHAP for scikit-learn's `HistGradientBoostingClassifier`, categorical splits included.

shap 0.51's own reader of a HistGradientBoosting model takes every split as `x <= threshold`. A native
categorical split sends a *set* of categories left (a bitset), so on a model with categorical features
its SHAP values are silently wrong (shap issue #3436; on X-Education base + sum of SHAP missed the
model's output by up to ~10 log-odds). shap's TreeSHAP core does know categorical splits (it uses them
for LightGBM): a node of threshold type 1 sends category `c` (1-based) left when bit `c - 1` of its
threshold is set. This module hands shap's `TreeExplainer` (default path-dependent algorithm, no
background data) the booster's trees in that form:

* numeric splits as they are (`x <= threshold`, missing values to the side the booster learnt);
* categorical splits as threshold type 1 with the booster's left-bitset as the mask, categories fed as
  their 1-based encoder code; categories the booster does not know read as missing, as in sklearn.

shap evaluates the mask as a 32-bit float, exact up to 24 bits, hence `MAX_CATEGORIES`: the model caps
each categorical column at that many values (the rarest fold into one bucket) before fitting.

The SHAP values themselves are computed by `scoring.treeshap_cells` from the same trees (per tree, over
the cells of its partition that the rows fall into: 10-20x faster than shap's per-row recursion on
batches), every tree at once on small batches (`scoring.treeshap_forest`, the same values bit for bit);
shap's explainer gives the base value and stays the reference the tests compare with
(`shap_values_reference`). Categories are read from pandas' category codes when the frame is one
`LeadModel.prepare` made (`_matrix_from_codes`), else through the booster's own preprocessor.

The result is exact: base value + row sum of SHAP values == `decision_function` (tests check this and
compare against brute-force Shapley values of the path-dependent value function). The private sklearn
attributes this needs (`_predictors`, `_preprocessor`, `_bin_mapper`, `_baseline_prediction`) and shap's
`threshold_types` array are touched here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring import treeshap_cells
from scoring.treeshap_forest import Forest

__all__ = ["MAX_CATEGORIES", "TreeShap"]

MAX_CATEGORIES = 24
"""Most categories a column may have for shap's categorical split mask (a float32: 24 exact bits)."""

FloatArray = npt.NDArray[np.float64]
_CATEGORICAL = treeshap_cells.CATEGORICAL
_MAX_LOOKUPS = 1024  # category lists remembered per explainer (`LeadModel.prepare` makes one a column)
_BITS = 32


def _in_bitset(bitset: npt.NDArray[np.uint32], code: int) -> bool:
    return bool((int(bitset[code // _BITS]) >> (code % _BITS)) & 1)


def _encoder_sizes(booster: HistGradientBoostingClassifier) -> list[int | None]:
    """Number of encoder categories per preprocessed column (None for numeric columns)."""
    n_features = int(booster.n_features_in_)
    pre = booster._preprocessor
    if pre is None:
        return [None] * n_features
    # The encoder lists NaN as a last category when the column had missing values; NaN is never a code.
    sizes: list[int | None] = [
        int(pd.notna(pd.Series(c, dtype=object)).sum())
        for c in pre.named_transformers_["encoder"].categories_
    ]
    return sizes + [None] * (n_features - len(sizes))


def _column_order(booster: HistGradientBoostingClassifier) -> npt.NDArray[np.int64]:
    """Original column index of each preprocessed column (sklearn puts categorical columns first)."""
    pre = booster._preprocessor
    if pre is None:
        return np.arange(int(booster.n_features_in_))
    return np.concatenate([np.flatnonzero(mask) for _, _, mask in pre.transformers_[:2]]).astype(np.int64)


def _known_codes(booster: HistGradientBoostingClassifier) -> dict[int, npt.NDArray[np.bool_]]:
    """Per categorical preprocessed column: the encoder codes the booster knows (others read as missing)."""
    known_bitsets, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    return {
        j: np.array([_in_bitset(known_bitsets[f_idx_map[j]], c) for c in range(n)], dtype=bool)
        for j, n in enumerate(_encoder_sizes(booster))
        if n is not None
    }


def _encoder_codes(
    booster: HistGradientBoostingClassifier,
) -> tuple[list[str], dict[int, dict[str, int]]] | None:
    """The preprocessor's input column names, and per encoded (categorical) preprocessed column its
    encoder's string categories -> code; None when it does not look as `LeadModel` fits it."""
    pre = booster._preprocessor
    names = getattr(pre, "feature_names_in_", None)
    if (
        pre is None
        or names is None
        or [name for name, *_ in pre.transformers_[:2]] != ["encoder", "numerical"]
    ):
        return None
    encoded: dict[int, dict[str, int]] = {}
    for j, categories in enumerate(pre.named_transformers_["encoder"].categories_):
        encoded[j] = {c: i for i, c in enumerate(categories) if isinstance(c, str)}
    return [str(n) for n in names], encoded


def _shap_tree(predictor: Any, sizes: list[int | None]) -> tuple[dict[str, Any], npt.NDArray[np.int32]]:
    """One tree in shap's dictionary format, plus its per-node threshold types."""
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    thresholds = nodes["num_threshold"].astype(np.float64)
    types = np.zeros(len(nodes), dtype=np.int32)
    for i in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~leaf):
        bitset = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]]
        n_cats = sizes[int(nodes["feature_idx"][i])] or 0
        if n_cats > MAX_CATEGORIES:
            raise ValueError(
                f"a categorical column has {n_cats} categories; the explainer handles {MAX_CATEGORIES} at most"
            )
        thresholds[i] = float(sum(1 << c for c in range(n_cats) if _in_bitset(bitset, c)))
        types[i] = _CATEGORICAL
    left = np.where(leaf, -1, nodes["left"]).astype(np.int32)
    right = np.where(leaf, -1, nodes["right"]).astype(np.int32)
    tree = {
        "children_left": left,
        "children_right": right,
        "children_default": np.where(nodes["missing_go_to_left"].astype(bool), left, right),
        "features": np.where(leaf, -2, nodes["feature_idx"]).astype(np.int32),
        "thresholds": thresholds,
        "values": nodes["value"].astype(np.float64).reshape(-1, 1),
        "node_sample_weight": nodes["count"].astype(np.float64),
    }
    return tree, types


class TreeShap:
    """SHAP values of a fitted binary `HistGradientBoostingClassifier`, in its raw log-odds space.

    `shap_values(X)` takes a DataFrame with the columns the booster was fitted on and returns an
    `(n_rows, n_columns)` array in that column order; `base_value` + row sum == `decision_function(X)`.
    """

    def __init__(self, booster: HistGradientBoostingClassifier) -> None:
        if len(booster._predictors[0]) != 1:
            raise ValueError("TreeShap explains binary classifiers only")
        self._booster = booster
        self._order = _column_order(booster)
        self._known = _known_codes(booster)
        sizes = _encoder_sizes(booster)
        trees, types = zip(*(_shap_tree(p, sizes) for (p,) in booster._predictors), strict=True)
        model = {
            "trees": list(trees),
            "base_offset": float(np.ravel(booster._baseline_prediction)[0]),
            "tree_output": "log_odds",
            "objective": "binary_crossentropy",
            "input_dtype": np.float64,
            "internal_dtype": np.float64,
        }
        self._explainer = shap.TreeExplainer(model)
        ensemble = self._explainer.model
        for t, tree_types in enumerate(types):
            ensemble.threshold_types[t, : len(tree_types)] = tree_types
        self.base_value = float(np.ravel(self._explainer.expected_value)[0])
        self._cells = [
            treeshap_cells.CellTree(tree, tree_types) for tree, tree_types in zip(trees, types, strict=True)
        ]
        self._forest = Forest(self._cells, len(self._order))
        self._encoded = _encoder_codes(booster)
        self._lookups: dict[tuple[int, tuple[str, ...]], FloatArray] = {}
        self.n_leaves = sum(int((tree["children_left"] < 0).sum()) for tree in trees)

    def matrix(self, X: pd.DataFrame) -> FloatArray:
        """`X` as shap's trees read it: preprocessed column order, categories as 1-based codes."""
        fast = self._matrix_from_codes(X)
        if fast is not None:
            return fast
        pre = self._booster._preprocessor
        out = np.array(pre.transform(X) if pre is not None else X, dtype=np.float64)
        for j, known in self._known.items():
            codes = out[:, j]
            present = ~np.isnan(codes)
            index = codes[present].astype(np.int64)
            column = np.full(len(codes), np.nan)
            column[present] = np.where(known[index], index + 1.0, np.nan)
            out[:, j] = column
        return out

    def _matrix_from_codes(self, X: pd.DataFrame) -> FloatArray | None:
        """`matrix(X)` read straight from pandas' category codes, for the frames `LeadModel.prepare` makes
        (categorical columns of string categories, float64 numbers); None for anything else.

        The booster's preprocessor (a ColumnTransformer around an OrdinalEncoder) costs tens of
        milliseconds a call whatever the batch size; a lookup from each column's category codes to
        the 1-based encoder code gives the same numbers."""
        pre = self._booster._preprocessor
        if pre is None or not isinstance(X, pd.DataFrame) or self._encoded is None:
            return None
        names, encoded = self._encoded
        if len(X.columns) != len(names) or any(str(a) != b for a, b in zip(X.columns, names, strict=True)):
            return None
        out = np.empty((len(X), len(self._order)))
        for j, source in enumerate(self._order.tolist()):
            column = X.iloc[:, source]
            if j not in self._known:
                if column.dtype != np.float64:
                    return None
                out[:, j] = column.to_numpy()
                continue
            if not isinstance(column.dtype, pd.CategoricalDtype):
                return None
            categories = tuple(column.cat.categories)
            lookup = self._lookups.get((j, categories))
            if lookup is None:
                if not all(isinstance(c, str) for c in categories):
                    return None
                if len(self._lookups) >= _MAX_LOOKUPS:
                    self._lookups.clear()
                lookup = self._lookups[(j, categories)] = self._lookup(j, encoded[j], categories)
            out[:, j] = lookup[column.cat.codes.to_numpy()]
        return out

    def _lookup(self, j: int, encoded: dict[str, int], categories: tuple[str, ...]) -> FloatArray:
        """Category code (-1: missing, the last entry) -> shap's 1-based code of column `j` (NaN: unknown
        to the encoder or to the booster, or missing)."""
        known = self._known[j]
        out = np.full(len(categories) + 1, np.nan)
        for code, category in enumerate(categories):
            index = encoded.get(category)
            if index is not None and known[index]:
                out[code] = index + 1.0
        return out

    def raw(self, X: pd.DataFrame) -> FloatArray:
        """The trees' raw output as shap computes it (equals the booster's `decision_function`)."""
        return np.asarray(self._explainer.model.predict(self.matrix(X)), dtype=np.float64).reshape(len(X))

    def shap_values(self, X: pd.DataFrame) -> FloatArray:
        """Path-dependent TreeSHAP values in log-odds, one column per column of `X` (in its order)."""
        if len(X) == 0:
            return np.zeros((0, len(self._order)))
        values = self._forest.shap_values(self.matrix(X))
        out = np.zeros((len(X), len(self._order)))
        out[:, self._order] = values
        return out

    def shap_values_reference(self, X: pd.DataFrame) -> FloatArray:
        """The same values from shap's own TreeSHAP (one row at a time, in C++): the tests' reference."""
        if len(X) == 0:
            return np.zeros((0, len(self._order)))
        values = np.asarray(self._explainer.shap_values(self.matrix(X), check_additivity=False))
        out = np.zeros((len(X), len(self._order)))
        out[:, self._order] = values.reshape(len(X), -1)
        return out
