"""Path-dependent TreeSHAP computed per tree over the cells rows fall into, vectorised over rows.

Path-dependent TreeSHAP's value function of one tree is a sum over its leaves of
`value x prod over the leaf's path features j of (1 if x_j follows the path else 0, when j is known;
cover share z_j, when not)`; several splits on one feature along a path multiply (TreeSHAP's merging of
repeated features). Two facts make that cheap on batches:

* a leaf is a product game over its at most `depth` distinct path features, whose Shapley values depend
  only on which of them the row follows: at most 2^depth patterns, tabulated once per leaf
  (`pattern_table`);
* which path a row follows, at every leaf of a tree, is fixed by the row's decisions at the tree's
  internal nodes. Rows with the same decisions (the same *cell* of the tree's partition) have the same
  SHAP values, and a batch of 100,000 rows meets a few hundred cells per tree at most.

So per tree: each internal node's decision for every row (numpy over columns), a decision code per row,
the SHAP values of each distinct code from the pattern tables, and one gather per column the tree uses.
The values are shap's (to rounding: the sums run in another order), 10-20x faster than shap's per-row
C++ recursion on batches of thousands of rows.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CATEGORICAL = 1  # shap's threshold type of a categorical split (a bitset of 1-based codes sent left)
DIRECT_CODES = 16  # trees with at most this many internal nodes index their cells directly
_MAX_CODE_BITS = 62  # more internal nodes than this: cells found by np.unique over decision rows


@cache
def _game(d: int) -> tuple[BoolArray, FloatArray, BoolArray]:
    """For `d` players: which coalitions each pattern contains (2^d, 2^d), the Shapley weight of each
    coalition (2^d,), and which players each coalition holds (2^d, d)."""
    sets = np.arange(1 << d)
    holds = ((sets[:, None] >> np.arange(d)) & 1).astype(bool)
    size = holds.sum(axis=1)
    weight = np.array([math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) if k < d else 0.0
                       for k in size])  # fmt: skip
    within = (sets[None, :] & ~sets[:, None]) == 0  # coalition (column) inside pattern (row)
    return within, weight, holds


def pattern_table(zero: list[float], value: float) -> FloatArray:
    """(2^d, d): each path feature's Shapley value in one leaf's product game, per pattern of followed
    features (bit j set: the row follows the path on feature j).

    The game: v(S) = value x prod_{j in S} o_j x prod_{j not in S} z_j with o_j in {0, 1}, so for
    player i: phi_i = value x (o_i - z_i) x sum over coalitions S of the others inside the pattern of
    w(|S|) x prod_{j outside S, j != i} z_j."""
    d = len(zero)
    within, weight, holds = _game(d)
    z = np.asarray(zero, dtype=np.float64)
    others_out = ~holds[:, None, :] & ~np.eye(d, dtype=bool)[None, :, :]  # (S, i, j): j outside S, j != i
    rest = np.where(others_out, z[None, None, :], 1.0).prod(axis=2) * ~holds  # (S, i); 0 when i is in S
    total = (within * weight[None, :]) @ rest  # (pattern, i)
    follows = holds.astype(np.float64)  # a pattern's own bits are the features it follows
    result: FloatArray = value * (follows - z[None, :]) * total
    return result


class _Leaf:
    __slots__ = ("groups", "table")

    def __init__(self, groups: list[tuple[int, list[tuple[int, bool]]]], table: FloatArray) -> None:
        self.groups = groups  # per path feature: (local column, [(internal node slot, went left)])
        self.table = table


class CellTree:
    """One tree in shap's dictionary form (as `scoring.treeshap` builds it), ready to explain batches."""

    def __init__(self, tree: dict[str, Any], types: npt.NDArray[np.int32]) -> None:
        left = tree["children_left"]
        internal = np.flatnonzero(left >= 0)
        slot = {int(n): k for k, n in enumerate(internal)}
        self.feature: IntArray = tree["features"][internal].astype(np.int64)
        self.threshold: FloatArray = tree["thresholds"][internal].astype(np.float64)
        self.categorical: BoolArray = types[internal] == CATEGORICAL
        self.mask: IntArray = np.where(self.categorical, self.threshold, 0.0).astype(np.int64)
        self.default_left: BoolArray = tree["children_default"][internal] == left[internal]
        self.columns: IntArray = np.unique(self.feature)
        local = {int(c): k for k, c in enumerate(self.columns)}
        self.leaves = [
            _Leaf([(local[f], steps) for f, steps in grouped.items()], pattern_table(zero, value))
            for grouped, zero, value in _leaf_paths(tree, slot)
        ]

    def add_shap(self, columns: FloatArray, out: FloatArray) -> None:
        """Add this tree's SHAP values of the rows to `out`; both are column-major (column, row)."""
        if not self.leaves:
            return
        cells, inverse = self._cells(columns)
        values = self._cell_values(cells)
        for j, column in enumerate(self.columns):
            out[column] += values[:, j][inverse]

    def _left(self, columns: FloatArray, k: int) -> BoolArray:
        """Whether each row goes left at internal node `k` (missing values the way the booster learnt)."""
        x = columns[self.feature[k]]
        missing = np.isnan(x)
        if self.categorical[k]:
            code = np.where(missing, 1.0, x).astype(np.int64) - 1
            left: BoolArray = ((self.mask[k] >> np.clip(code, 0, 62)) & 1).astype(bool)
        else:
            with np.errstate(invalid="ignore"):
                left = x <= self.threshold[k]
        went: BoolArray = left | missing if self.default_left[k] else left & ~missing
        return went

    def _cells(self, columns: FloatArray) -> tuple[BoolArray, IntArray]:
        """The distinct decision vectors among the rows (cell, internal node) and each row's cell."""
        n = len(self.feature)
        if n > _MAX_CODE_BITS:
            decided = np.stack([self._left(columns, k) for k in range(n)], axis=1)
            cells, inverse = np.unique(decided, axis=0, return_inverse=True)
            return cells, inverse.ravel().astype(np.int64)
        code = np.zeros(columns.shape[1], dtype=np.int64)
        for k in range(n):
            code |= self._left(columns, k).astype(np.int64) << k
        if n <= DIRECT_CODES:
            seen = np.zeros(1 << n, dtype=bool)
            seen[code] = True
            unique = np.flatnonzero(seen)
            index = np.zeros(1 << n, dtype=np.int64)
            index[unique] = np.arange(len(unique))
            inverse = index[code]
        else:
            unique, inverse = np.unique(code, return_inverse=True)
        cells = ((unique[:, None] >> np.arange(n)) & 1).astype(bool)
        return cells, inverse.ravel().astype(np.int64)

    def _cell_values(self, cells: BoolArray) -> FloatArray:
        """(cell, local column): the tree's SHAP values of each cell."""
        out = np.zeros((len(cells), len(self.columns)))
        for leaf in self.leaves:
            pattern = np.zeros(len(cells), dtype=np.int64)
            for bit, (_, steps) in enumerate(leaf.groups):
                follows = np.ones(len(cells), dtype=bool)
                for node, went_left in steps:
                    follows &= cells[:, node] == went_left
                pattern |= follows.astype(np.int64) << bit
            looked_up = leaf.table[pattern]
            for bit, (column, _) in enumerate(leaf.groups):
                out[:, column] += looked_up[:, bit]
        return out


def _leaf_paths(
    tree: dict[str, Any], slot: dict[int, int]
) -> list[tuple[dict[int, list[tuple[int, bool]]], list[float], float]]:
    """Per leaf that adds something: its path's splits grouped by feature, each feature's cover share
    (the product over its splits), and the leaf's value."""
    left, right = tree["children_left"], tree["children_right"]
    cover, values = tree["node_sample_weight"], tree["values"][:, 0]
    out = []
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if left[node] >= 0:
            stack.append((int(left[node]), [*path, (node, True)]))
            stack.append((int(right[node]), [*path, (node, False)]))
            continue
        if not path or values[node] == 0.0:
            continue  # a root-only tree, or a leaf that adds nothing
        grouped: dict[int, list[tuple[int, bool]]] = {}
        zero: dict[int, float] = {}
        children = [n for n, _ in path[1:]] + [node]
        for (at, went_left), child in zip(path, children, strict=True):
            feature = int(tree["features"][at])
            grouped.setdefault(feature, []).append((slot[at], went_left))
            zero[feature] = zero.get(feature, 1.0) * float(cover[child]) / float(cover[at])
        out.append((grouped, [zero[f] for f in grouped], float(values[node])))
    return out


def shap_values(trees: list[CellTree], matrix: FloatArray, n_columns: int) -> FloatArray:
    """Path-dependent TreeSHAP values (row, column) of an ensemble's trees for the rows of `matrix`."""
    columns = np.ascontiguousarray(matrix.T, dtype=np.float64)
    out = np.zeros((n_columns, len(matrix)))
    for tree in trees:
        tree.add_shap(columns, out)
    return np.ascontiguousarray(out.T)
