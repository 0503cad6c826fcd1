"""Path-dependent TreeSHAP of a whole ensemble at once: `treeshap_cells`' per-tree cells, batched over trees.

`treeshap_cells.CellTree.add_shap` explains one tree with a few dozen numpy calls (one per internal
node, two or three per leaf path feature). On a batch of hundreds of rows every such call costs more in
Python and numpy dispatch than in arithmetic: 231 trees, 14 internal nodes and ~50 leaf path features
each, meant ~15,000 small calls to explain 800 leads. `Forest` computes the same thing with the trees
laid side by side in padded arrays, so the number of numpy calls depends on the number of trees only
through one short loop at the end:

1. every internal node's decision for every row, over a block of trees at once (one gather of the
   columns the nodes read), packed into one decision code per (tree, row);
2. the distinct (tree, code) pairs, i.e. the cells the rows fall into, found at once;
3. per cell, whether it follows each leaf path feature, its pattern per leaf, and the leaf's pattern
   table entries, as (cell, leaf, path feature) arrays;
4. each tree's values added to its rows, tree after tree.

The values are bit-identical to `add_shap` tree by tree: a cell's value per column is summed over the
tree's leaves in the same order starting from 0.0 (step 3 adds leaf after leaf), and each row's value
is summed over trees in the same order (step 4). Trees with more than `treeshap_cells.DIRECT_CODES`
internal nodes (larger than the product's model makes) are explained by their own `add_shap`, in their
place in the order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.treeshap_cells import DIRECT_CODES, CellTree

__all__ = ["Forest"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_BLOCK_ELEMENTS = 1 << 17
"""Most (internal node x row) decisions evaluated at once: the temporaries stay near the CPU's caches
(~1 MB each); larger blocks measured slower, not faster."""
_BATCH_ROWS = 2500
"""Above this many rows per-tree `add_shap` is faster (its per-call cost is spread over enough rows, and
its arrays stay in cache), so `Forest` explains larger batches tree by tree."""
_DIRECT_KEYS = 4
"""Cells are found by marking a table of every possible (tree, code) key when it is at most this many
times the number of keys, else by sorting the keys."""


class _Block:
    """Consecutive trees explained together: their internal nodes and padded leaf tables."""

    def __init__(self, trees: list[CellTree], n_columns: int) -> None:
        self.trees = trees
        self.n_columns = n_columns
        self.columns: list[IntArray] = [tree.columns for tree in trees]
        self.feature: IntArray = np.concatenate([tree.feature for tree in trees])
        self.threshold: FloatArray = np.concatenate([tree.threshold for tree in trees])
        self.default_left: BoolArray = np.concatenate([tree.default_left for tree in trees])
        categorical = np.concatenate([tree.categorical for tree in trees])
        self.categorical: IntArray = np.flatnonzero(categorical).astype(np.int64)
        self.mask: IntArray = np.concatenate([tree.mask for tree in trees])[self.categorical]
        self.slot = np.concatenate([np.arange(len(tree.feature)) for tree in trees]).astype(np.int32)
        self.sizes: IntArray = np.array([len(tree.feature) for tree in trees], dtype=np.int64)
        self.starts: IntArray = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        spaces = np.left_shift(np.int64(1), self.sizes)
        self.space_starts: IntArray = np.concatenate([[0], np.cumsum(spaces)]).astype(np.int64)
        self._leaves(trees)

    def _leaves(self, trees: list[CellTree]) -> None:
        """Per tree, leaf and path feature (padded): the decision bits that feature's steps test and the
        directions they need, its bit in the leaf's pattern, its column and its pattern table entry."""
        n_leaves = max(len(tree.leaves) for tree in trees)
        n_groups = max(len(leaf.groups) for tree in trees for leaf in tree.leaves)
        shape = (len(trees), n_leaves, n_groups)
        self.need_mask = np.zeros(shape, dtype=np.int32)
        self.need_bits = np.ones(shape, dtype=np.int32)  # padding: never followed
        self.weight = np.zeros(shape, dtype=np.int32)  # 0: padding
        self.column = np.full(shape, self.n_columns, dtype=np.int64)  # padding adds to a spare column
        self.entry = np.zeros(shape, dtype=np.int32)  # table offset + path feature (padding: the 0.0)
        self.stride = np.zeros(shape, dtype=np.int32)  # a pattern's row length in the table (padding: 0)
        tables: list[FloatArray] = [np.zeros(1)]
        offset = 1
        for t, tree in enumerate(trees):
            for j, leaf in enumerate(tree.leaves):
                for b, (local, steps) in enumerate(leaf.groups):
                    self.need_bits[t, j, b] = 0
                    for node, went_left in steps:
                        self.need_mask[t, j, b] |= 1 << node
                        self.need_bits[t, j, b] |= int(went_left) << node
                    self.weight[t, j, b] = 1 << b
                    self.column[t, j, b] = int(tree.columns[local])
                    self.entry[t, j, b] = offset + b
                    self.stride[t, j, b] = len(leaf.groups)
                tables.append(leaf.table.ravel())
                offset += leaf.table.size
        self.table: FloatArray = np.concatenate(tables)

    def spans(self, rows: int, block: int) -> list[slice]:
        """Consecutive runs of trees with at most `block` (node x row) decisions (one tree at least)."""
        out, first, nodes = [], 0, 0
        for t, size in enumerate(self.sizes.tolist()):
            if t > first and (nodes + size) * rows > block:
                out.append(slice(first, t))
                first, nodes = t, 0
            nodes += size
        out.append(slice(first, len(self.trees)))
        return out

    def add_shap(self, columns: FloatArray, out: FloatArray, trees: slice) -> None:
        """Add the SHAP values of `trees` (a run of this block's trees) to `out` (column, row)."""
        first, last = int(trees.start), int(trees.stop)
        nodes = slice(int(self.starts[first]), int(self.starts[last]))
        codes = self._codes(columns, nodes, self.starts[first:last] - self.starts[first])
        space = self.space_starts[first : last + 1] - self.space_starts[first]
        cell_codes, cell_trees, inverse = _cells(codes, space)
        values = self._cell_values(cell_codes, cell_trees + first)
        for t in range(last - first):
            used = self.columns[first + t]
            out[used] += values[used[:, None], inverse[t][None, :]]

    def _codes(self, columns: FloatArray, nodes: slice, starts: IntArray) -> IntArray:
        """(tree, row): the bits of each row's decisions at the trees' internal nodes (bit k: node k)."""
        x = columns[self.feature[nodes]]
        missing = np.isnan(x)
        with np.errstate(invalid="ignore"):
            left = x <= self.threshold[nodes, None]
        lo, hi = np.searchsorted(self.categorical, [nodes.start, nodes.stop])
        if hi > lo:
            at = self.categorical[lo:hi] - nodes.start
            code = np.where(missing[at], 1.0, x[at]).astype(np.int64) - 1
            left[at] = ((self.mask[lo:hi, None] >> np.clip(code, 0, 62)) & 1).astype(bool)
        went = np.where(missing, self.default_left[nodes, None], left)
        bits = went.astype(np.int32) << self.slot[nodes, None]
        codes: IntArray = np.add.reduceat(bits, starts, axis=0)
        return codes

    def _cell_values(self, codes: IntArray, trees: IntArray) -> FloatArray:
        """(column, cell): each cell's SHAP values, summed over its tree's leaves in the tree's order."""
        follows = (codes.astype(np.int32)[:, None, None] & self.need_mask[trees]) == self.need_bits[trees]
        if follows.shape[2] <= 8:  # padding never follows: its bits stay 0
            pattern = np.packbits(follows, axis=2, bitorder="little")[:, :, :1].astype(np.int32)
        else:
            pattern = (follows * self.weight[trees]).sum(axis=2, dtype=np.int32, keepdims=True)
        looked_up = self.table[self.entry[trees] + pattern * self.stride[trees]]
        width = self.n_columns + 1
        at = self.column[trees] + (np.arange(len(codes), dtype=np.int64) * width)[:, None, None]
        # bincount adds its weights one after the other in input order: per (cell, column) the leaves'
        # values are summed in the tree's leaf order from 0.0, as `CellTree._cell_values` sums them.
        values = np.bincount(at.ravel(), weights=looked_up.ravel(), minlength=len(codes) * width)
        return np.ascontiguousarray(values.reshape(len(codes), width).T)


def _cells(codes: IntArray, space: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct (tree, code) pairs of `codes` (tree, row): their codes, their trees, and each
    (tree, row)'s pair number. Tree t's codes are keys `space[t]` to `space[t + 1]`."""
    keys = codes + space[:-1, None]
    size = int(space[-1])
    if size <= _DIRECT_KEYS * max(keys.size, 1):
        seen = np.zeros(size, dtype=bool)
        seen[keys] = True
        unique = np.flatnonzero(seen)
        inverse = (np.cumsum(seen, dtype=np.int64) - 1)[keys]
    else:
        unique, flat = np.unique(keys, return_inverse=True)
        inverse = flat.reshape(keys.shape)
    trees = np.searchsorted(space, unique, side="right") - 1
    return unique - space[trees], trees.astype(np.int64), inverse.astype(np.int64)


class Forest:
    """An ensemble's `CellTree`s, explained in blocks of trees (see the module docstring)."""

    def __init__(self, trees: list[CellTree], n_columns: int) -> None:
        self.n_columns = n_columns
        self.trees = trees
        self._parts: list[_Block | CellTree] = []
        run: list[CellTree] = []
        for tree in trees:
            if not tree.leaves:
                continue  # adds nothing
            if len(tree.feature) <= DIRECT_CODES:
                run.append(tree)
                continue
            if run:
                self._parts.append(_Block(run, n_columns))
                run = []
            self._parts.append(tree)
        if run:
            self._parts.append(_Block(run, n_columns))

    def shap_values(
        self, matrix: FloatArray, *, block: int = _BLOCK_ELEMENTS, batch_rows: int = _BATCH_ROWS
    ) -> FloatArray:
        """Path-dependent TreeSHAP values (row, column) of the rows of `matrix` (row, column).

        Trees are batched `block` (internal node x row) decisions at a time; above `batch_rows` rows
        every tree is explained on its own (the values are the same either way)."""
        columns = np.ascontiguousarray(matrix.T, dtype=np.float64)
        out = np.zeros((self.n_columns, len(matrix)))
        if len(matrix) > batch_rows:
            for tree in self.trees:
                tree.add_shap(columns, out)
            return np.ascontiguousarray(out.T)
        for part in self._parts:
            if isinstance(part, CellTree):
                part.add_shap(columns, out)
                continue
            for trees in part.spans(len(matrix), block):
                part.add_shap(columns, out, trees)
        return np.ascontiguousarray(out.T)
