"""Vectorised comparisons, with the null rule: any comparison that involves a missing value is false.

Types are already checked when these run; each builder returns a runner producing `Flags` without nulls.
Text is compared case- and whitespace-insensitively (categories are normalised once per batch).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mappings.config.features import normalise_category
from scoring.policy.schema import Kind
from scoring.policy.typed import Literal, Runner, Typed, flags, number_operand, texts
from scoring.policy.values import Batch, BoolArray, Flags, FloatArray, Value

_ORDER: dict[type[ast.cmpop], Callable[[FloatArray | float, FloatArray | float], BoolArray]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _flags(batch: Batch, values: Any) -> Flags:
    # Two literals compare to one scalar; every runner returns one value per row.
    array = np.asarray(values, dtype=bool)
    return Flags(array if array.shape == (batch.rows,) else np.full(batch.rows, bool(array)))


def ordering(op: ast.cmpop, left: Typed, right: Typed) -> Runner:
    """`<`, `<=`, `>`, `>=` on numbers or dates (NaN already compares false)."""
    compare = _ORDER[type(op)]
    a, b = number_operand(left), number_operand(right)

    def run(batch: Batch) -> Value:
        return _flags(batch, compare(a(batch), b(batch)))

    return run


def equality(left: Typed, right: Typed, *, negate: bool) -> Runner:
    """`==` / `!=` on two values of one kind; `!=` is false, not true, when either side is missing."""
    kind = left.kind
    if kind is Kind.STRING:
        return _text_equality(left, right, negate=negate)
    if kind is Kind.BOOLEAN:
        return _flag_equality(left, right, negate=negate)
    a, b = number_operand(left), number_operand(right)

    def run_numbers(batch: Batch) -> Value:
        x, y = a(batch), b(batch)
        if not negate:
            return _flags(batch, np.equal(x, y))
        return _flags(batch, np.not_equal(x, y) & ~np.isnan(x) & ~np.isnan(y))

    return run_numbers


def _text_equality(left: Typed, right: Typed, *, negate: bool) -> Runner:
    if right.is_literal or left.is_literal:
        column, constant = (left, right) if right.is_literal else (right, left)
        wanted = normalise_category(str(constant.literal))
        run_column = column.run

        def run_literal(batch: Batch) -> Value:
            values = texts(run_column(batch))
            same = values.categories == wanted
            return Flags(values.spread(~same if negate else same))

        return run_literal
    run_left, run_right = left.run, right.run

    def run_columns(batch: Batch) -> Value:
        x, y = texts(run_left(batch)), texts(run_right(batch))
        known = (x.codes >= 0) & (y.codes >= 0)
        same = x.objects() == y.objects()
        return Flags(known & (~same if negate else same))

    return run_columns


def _flag_equality(left: Typed, right: Typed, *, negate: bool) -> Runner:
    run_left, run_right = left.run, right.run

    def run(batch: Batch) -> Value:
        x, y = flags(run_left(batch)), flags(run_right(batch))
        differ = x.values != y.values
        return Flags((differ if negate else ~differ) & x.known() & y.known())

    return run


def membership(left: Typed, items: Sequence[Literal], *, negate: bool) -> Runner:
    """`x in [...]` / `x not in [...]` against a list of literals of x's kind; missing x is false both ways."""
    run_left = left.run
    if left.kind is Kind.STRING:
        wanted = np.asarray([normalise_category(str(item)) for item in items], dtype=object)

        def run_texts(batch: Batch) -> Value:
            values = texts(run_left(batch))
            found = np.isin(values.categories, wanted)
            return Flags(values.spread(~found if negate else found))

        return run_texts
    if left.kind is Kind.BOOLEAN:
        wanted_flags = {bool(item) for item in items}

        def run_flags(batch: Batch) -> Value:
            values = flags(run_left(batch))
            found = np.zeros(len(values.values), dtype=bool)
            for item in wanted_flags:
                found |= values.values == item
            return Flags((~found if negate else found) & values.known())

        return run_flags
    wanted_numbers = np.asarray([float(item) for item in items], dtype=np.float64)
    a = number_operand(left)

    def run_numbers(batch: Batch) -> Value:
        x = np.asarray(a(batch), dtype=np.float64)
        found = np.isin(x, wanted_numbers)
        return _flags(batch, (~found & ~np.isnan(x)) if negate else found)

    return run_numbers


def per_text(column: Typed, test: Callable[[str], bool]) -> Runner:
    """A test of each distinct text value, spread over the batch; missing text is false."""
    run_column = column.run

    def run(batch: Batch) -> Value:
        values = texts(run_column(batch))
        hits = np.fromiter(
            (test(str(c)) for c in values.categories), dtype=bool, count=len(values.categories)
        )
        return Flags(values.spread(hits))

    return run


def normalise_needle(needle: str) -> str:
    """Quoted text searched for inside values: case-folded, whitespace runs as one space, but kept at the
    ends (so `' vp '` still looks for a separate word)."""
    return re.sub(r"\s+", " ", needle).casefold()


def substring(needle: str, haystack: Typed, *, negate: bool) -> Runner:
    """`'vp' in lead.title`: whether the text contains the quoted text (ignoring case)."""
    wanted = normalise_needle(needle)
    if negate:
        return per_text(haystack, lambda value: wanted not in value)
    return per_text(haystack, lambda value: wanted in value)
