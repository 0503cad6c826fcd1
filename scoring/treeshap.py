"""Exact TreeSHAP for scikit-learn's `HistGradientBoostingClassifier`, categorical splits included.

shap 0.51 reads a HistGradientBoosting tree's nodes as if every split were `x <= threshold`. A native
categorical split is a set of categories (a bitset), so on a model with categorical features its SHAP
values are silently wrong (shap issue #3436: base + sum of SHAP misses the model's output by whole
log-odds units). This module hands shap's own TreeExplainer (its default path-dependent algorithm, no
background data) an equivalent tree ensemble that has threshold splits only:

* each categorical column is fed as a *rank*: its categories ordered so that the model's splits mostly
  cut that order in one place (`category_ranks`);
* a categorical split whose categories (among those that can still reach it along the path) fall in one
  run of that order becomes one threshold split; otherwise it becomes a short chain of threshold splits
  on the same column, each run leading to a copy of the subtree it belongs to. A copy's covers (the
  training counts TreeSHAP weighs unknown features by) are scaled so that the copies of one child add
  up to that child's cover.

The rewritten tree computes the same function, and the path-dependent value function E[f(x) | x_S] is
unchanged for every coalition S (a feature split several times on a path counts once in TreeSHAP), so
the SHAP values are those of the original model, and base value + sum of SHAP values == the model's raw
(log-odds) output. Tests check this against `decision_function` and against brute-force Shapley values.

The private sklearn attributes this needs (`_predictors`, `_preprocessor`, `_bin_mapper`,
`_baseline_prediction`) are read here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["TreeShap", "category_ranks"]

FloatArray = npt.NDArray[np.float64]
_BITS = 32


def _in_bitset(bitset: npt.NDArray[np.uint32], code: int) -> bool:
    return bool((int(bitset[code // _BITS]) >> (code % _BITS)) & 1)


def _known_codes(booster: HistGradientBoostingClassifier) -> dict[int, npt.NDArray[np.bool_]]:
    """Per preprocessed categorical column: which encoder codes the model knows (others read as missing)."""
    known_bitsets, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    out: dict[int, npt.NDArray[np.bool_]] = {}
    for j, n_cats in enumerate(_encoder_sizes(booster)):
        if n_cats is None:
            continue
        bitset = known_bitsets[f_idx_map[j]]
        out[j] = np.array([_in_bitset(bitset, code) for code in range(n_cats)], dtype=bool)
    return out


def _encoder_sizes(booster: HistGradientBoostingClassifier) -> list[int | None]:
    """Number of encoder categories per preprocessed column (None for numeric columns)."""
    n_features = int(booster.n_features_in_)
    pre = booster._preprocessor
    if pre is None:
        return [None] * n_features
    encoder = pre.named_transformers_["encoder"]
    sizes: list[int | None] = [len(cats) for cats in encoder.categories_]
    return sizes + [None] * (n_features - len(sizes))


def _column_order(booster: HistGradientBoostingClassifier) -> list[int]:
    """Original column index of each preprocessed column (categorical columns come first there)."""
    pre = booster._preprocessor
    n_features = int(booster.n_features_in_)
    if pre is None:
        return list(range(n_features))
    return [int(i) for i in np.concatenate([np.flatnonzero(m) for _, _, m in pre.transformers_[:2]])]


def category_ranks(booster: HistGradientBoostingClassifier) -> dict[int, npt.NDArray[np.int64]]:
    """A rank per encoder code of each categorical (preprocessed) column, read off the model itself.

    Each category is scored by how often, weighted by node size, it goes to the higher-valued side of
    the splits on its column; sorting by that score puts categories the model treats alike next to each
    other, so most categorical splits become one threshold.
    """
    sizes = _encoder_sizes(booster)
    scores = {j: np.zeros(n) for j, n in enumerate(sizes) if n is not None}
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes
        for node in nodes[(nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 1)]:
            j = int(node["feature_idx"])
            left, right = nodes[node["left"]], nodes[node["right"]]
            direction = 1.0 if left["value"] > right["value"] else -1.0
            bitset = predictor.raw_left_cat_bitsets[node["bitset_idx"]]
            goes_left = np.array([_in_bitset(bitset, c) for c in range(len(scores[j]))])
            scores[j] += float(node["count"]) * direction * np.where(goes_left, 1.0, -1.0)
    return {j: np.argsort(np.argsort(-s, kind="stable"), kind="stable") for j, s in scores.items()}


@dataclass
class _TreeBuilder:
    """Writes one rewritten tree in shap's dictionary format."""

    nodes: Any
    bitsets: npt.NDArray[np.uint32]
    ranks: Mapping[int, npt.NDArray[np.int64]]
    known: Mapping[int, npt.NDArray[np.bool_]]
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    default: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    cover: list[float] = field(default_factory=list)

    def _new(self, feature: int, threshold: float, value: float, cover: float) -> int:
        for column in (self.left, self.right, self.default):
            column.append(-1)
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.value.append(value)
        self.cover.append(cover)
        return len(self.feature) - 1

    def _link(self, at: int, left: int, right: int, default: int) -> None:
        self.left[at], self.right[at], self.default[at] = left, right, default

    def emit(self, index: int, reach: Mapping[int, frozenset[int]], scale: float) -> int:
        """Write node `index` (and its subtree) given the ranks that can still reach it per column."""
        node = self.nodes[index]
        cover = float(node["count"]) * scale
        if node["is_leaf"]:
            return self._new(-2, 0.0, float(node["value"]), cover)
        j = int(node["feature_idx"])
        if not node["is_categorical"]:
            at = self._new(j, float(node["num_threshold"]), float(node["value"]), cover)
            left, right = self.emit(node["left"], reach, scale), self.emit(node["right"], reach, scale)
            self._link(at, left, right, left if node["missing_go_to_left"] else right)
            return at
        return self._categorical(index, reach, scale)

    def _categorical(self, index: int, reach: Mapping[int, frozenset[int]], scale: float) -> int:
        node = self.nodes[index]
        j = int(node["feature_idx"])
        rank_of = self.ranks[j]
        bitset = self.bitsets[node["bitset_idx"]]
        reachable = reach.get(j, frozenset(int(r) for r, k in zip(rank_of, self.known[j], strict=True) if k))
        code_of = {int(rank): code for code, rank in enumerate(rank_of)}
        children = {True: int(node["left"]), False: int(node["right"])}
        # Runs of consecutive reachable ranks that go the same way.
        runs: list[tuple[bool, list[int]]] = []
        for rank in sorted(reachable):
            side = _in_bitset(bitset, code_of[rank])
            if runs and runs[-1][0] == side:
                runs[-1][1].append(rank)
            else:
                runs.append((side, [rank]))
        missing_left = bool(node["missing_go_to_left"])
        if not runs:  # only missing values can get here; any threshold routes them by default
            runs = [(True, [])]
        if len(runs) == 1:  # one threshold past the run; the other child keeps its cover (missing only)
            runs.append((not runs[0][0], []))
        copies = {side: sum(1 for s, _ in runs if s == side) for side in (True, False)}

        def child(side: bool, ranks: list[int]) -> int:
            narrowed = {**reach, j: frozenset(ranks)}
            return self.emit(children[side], narrowed, scale / copies[side])

        # A right-leaning chain: node k sends run k left and the remaining runs right.
        heads: list[int] = []
        for k in range(len(runs) - 1):
            run = runs[k][1]
            cut = (run[-1] + 0.5) if run else (min(runs[k + 1][1], default=0) - 0.5)
            heads.append(self._new(j, float(cut), float(node["value"]), 0.0))
        for k, head in enumerate(heads):
            left = child(*runs[k])
            last = k == len(heads) - 1
            right = child(*runs[k + 1]) if last else heads[k + 1]
            if last:
                default = left if runs[k][0] == missing_left else right
            else:
                default = right
            self._link(head, left, right, default)
        for head in reversed(heads):
            self.cover[head] = self.cover[self.left[head]] + self.cover[self.right[head]]
        return heads[0]

    def as_shap_tree(self) -> dict[str, FloatArray | npt.NDArray[np.int32]]:
        return {
            "children_left": np.asarray(self.left, dtype=np.int32),
            "children_right": np.asarray(self.right, dtype=np.int32),
            "children_default": np.asarray(self.default, dtype=np.int32),
            "features": np.asarray(self.feature, dtype=np.int32),
            "thresholds": np.asarray(self.threshold, dtype=np.float64),
            "values": np.asarray(self.value, dtype=np.float64).reshape(-1, 1),
            "node_sample_weight": np.asarray(self.cover, dtype=np.float64),
        }


class TreeShap:
    """SHAP values of a fitted binary `HistGradientBoostingClassifier`, in its raw log-odds space.

    `shap_values(X)` takes the DataFrame the model was fitted on (same columns) and returns a
    `(n_rows, n_columns)` array in `X`'s column order; `base_value` + row sum == `decision_function`.
    """

    def __init__(self, booster: HistGradientBoostingClassifier) -> None:
        if len(booster._predictors[0]) != 1:
            raise ValueError("TreeShap explains binary classifiers only")
        self._booster = booster
        self._order = _column_order(booster)
        self._known = _known_codes(booster)
        self._ranks = category_ranks(booster)
        trees = []
        for (predictor,) in booster._predictors:
            builder = _TreeBuilder(predictor.nodes, predictor.raw_left_cat_bitsets, self._ranks, self._known)
            builder.emit(0, {}, 1.0)
            trees.append(builder.as_shap_tree())
        self.base_offset = float(np.ravel(booster._baseline_prediction)[0])
        model = {
            "trees": trees,
            "base_offset": self.base_offset,
            "tree_output": "log_odds",
            "objective": "binary_crossentropy",
            "input_dtype": np.float64,
            "internal_dtype": np.float64,
        }
        self._explainer = shap.TreeExplainer(model)
        self.base_value = float(np.ravel(self._explainer.expected_value)[0])
        self.n_leaves = sum(int((t["children_left"] < 0).sum()) for t in trees)

    def matrix(self, X: pd.DataFrame) -> FloatArray:
        """`X` in the rewritten trees' input space: preprocessed column order, categories as ranks."""
        data = np.array(self._booster._preprocessor.transform(X) if self._booster._preprocessor else X)
        out = np.asarray(data, dtype=np.float64).copy()
        for j, ranks in self._ranks.items():
            codes = out[:, j]
            valid = ~np.isnan(codes)
            idx = codes[valid].astype(np.int64)
            ranked = np.where(self._known[j][idx], ranks[idx].astype(np.float64), np.nan)
            col = np.full(len(codes), np.nan)
            col[valid] = ranked
            out[:, j] = col
        return out

    def raw(self, X: pd.DataFrame) -> FloatArray:
        """The rewritten ensemble's raw output (equals the booster's `decision_function`)."""
        out: FloatArray = np.asarray(self._explainer.model.predict(self.matrix(X)), dtype=np.float64)
        return out.reshape(len(X))

    def shap_values(self, X: pd.DataFrame) -> FloatArray:
        """Path-dependent TreeSHAP values in log-odds, one column per column of `X` (in its order)."""
        values = np.asarray(self._explainer.shap_values(self.matrix(X), check_additivity=False))
        out = np.zeros((len(X), len(self._order)))
        out[:, self._order] = values.reshape(len(X), -1)
        return out


def columns_of(booster: HistGradientBoostingClassifier) -> Sequence[str]:
    """The column names the booster was fitted with."""
    return [str(c) for c in booster.feature_names_in_]
