"""A checked sub-expression: its type, how to evaluate it over a batch, and its value if it is a literal."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scoring.policy.schema import Kind
from scoring.policy.values import Batch, BoolArray, Flags, FloatArray, Texts, Value, texts_from

Runner = Callable[[Batch], Value]
Literal = float | str | bool
"""A literal's value: numbers and dates (days since 1970) as float, text as str, true/false as bool."""


@dataclass(frozen=True, slots=True)
class Typed:
    """A checked sub-expression. `kind` None means a problem was already reported for it."""

    kind: Kind | None
    run: Runner
    node: ast.AST
    literal: Literal | None = None

    @property
    def is_literal(self) -> bool:
        """Whether the value is known without looking at the batch."""
        return self.literal is not None


def _failed(batch: Batch) -> Value:
    raise AssertionError("an expression with problems was evaluated")


def failed(node: ast.AST) -> Typed:
    """A sub-expression whose problem is already reported; it types as anything, so no error cascades."""
    return Typed(None, _failed, node)


def literal(kind: Kind, value: Literal, node: ast.AST) -> Typed:
    """A literal, evaluated as the same value on every row."""

    def run(batch: Batch) -> Value:
        if kind is Kind.BOOLEAN:
            return Flags(np.full(batch.rows, bool(value)))
        if kind is Kind.STRING:
            return texts_from(np.full(batch.rows, value, dtype=object))
        return np.full(batch.rows, float(value))

    return Typed(kind, run, node, value)


def variable(name: str, kind: Kind, node: ast.AST) -> Typed:
    """A column of the batch."""

    def run(batch: Batch) -> Value:
        return batch.value(name, kind)

    return Typed(kind, run, node)


def numbers(value: Value) -> FloatArray:
    """A number or date value's array."""
    assert isinstance(value, np.ndarray)
    return value


def flags(value: Value) -> Flags:
    """A true/false value."""
    assert isinstance(value, Flags)
    return value


def texts(value: Value) -> Texts:
    """A text value."""
    assert isinstance(value, Texts)
    return value


def truth(value: Value) -> BoolArray:
    """Where a true/false value is true (missing reads false)."""
    return flags(value).values


def number_operand(typed: Typed) -> Callable[[Batch], FloatArray | float]:
    """Evaluate a number or date; a literal stays a scalar so numpy broadcasts it instead of filling."""
    if typed.is_literal:
        constant = float(typed.literal)  # type: ignore[arg-type]
        return lambda batch: constant
    run = typed.run
    return lambda batch: numbers(run(batch))


def filled(batch: Batch, value: FloatArray | float) -> FloatArray:
    """A number result as one float per row (a literal operand may have left it a scalar)."""
    array = np.asarray(value, dtype=np.float64)
    return array if array.shape == (batch.rows,) else np.full(batch.rows, array, dtype=np.float64)
