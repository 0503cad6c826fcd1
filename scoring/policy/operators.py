"""Type checks and compilation of operators: and/or/not, signs, arithmetic and comparisons."""

from __future__ import annotations

import ast
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np

from scoring.policy.compare import equality, membership, ordering, substring
from scoring.policy.errors import Span
from scoring.policy.parse import Source
from scoring.policy.schema import Kind
from scoring.policy.typed import Literal, Typed, failed, filled, literal, number_operand, truth
from scoring.policy.values import Batch, Flags, Value

_ARITHMETIC: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("add", operator.add),
    ast.Sub: ("subtract", operator.sub),
    ast.Mult: ("multiply", operator.mul),
    ast.Div: ("divide", operator.truediv),
}
_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Pow: "**",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
IS_FIX = "test for a missing value with is_null(x), and compare values with == or !="


def compare_hint(source: Source, typed: Typed) -> str:
    snippet = source.snippet(typed.node)
    if typed.is_literal:
        return "combine conditions, e.g. score >= 80 and lead.employees >= 1000"
    if typed.kind is Kind.NUMBER:
        return f"compare it, e.g. {snippet} >= 10"
    if typed.kind is Kind.STRING:
        return f"compare it, e.g. {snippet} == 'Web'"
    if typed.kind is Kind.DATETIME:
        return f"compare its age, e.g. days_since({snippet}) > 30"
    return "combine conditions with and, or, not"


class OperatorChecks(ABC):
    """The operator half of the expression checker; names, literals and calls are in `expr`."""

    source: Source

    @abstractmethod
    def check(self, node: ast.AST) -> Typed:
        """Check and compile a sub-expression."""

    @abstractmethod
    def fail(self, at: ast.AST | Span, message: str, fix: str) -> Typed:
        """Report a problem and stand in for the failed sub-expression."""

    @abstractmethod
    def describe(self, typed: Typed) -> str:
        """A sub-expression as written, with its type."""

    def _BoolOp(self, node: ast.BoolOp) -> Typed:
        word = "and" if isinstance(node.op, ast.And) else "or"
        parts = [self.check(value) for value in node.values]
        for part in parts:
            if part.kind is not None and part.kind is not Kind.BOOLEAN:
                self.fail(
                    part.node,
                    f"{word} combines true/false conditions, but {self.describe(part)} is not one",
                    compare_hint(self.source, part),
                )
        if any(part.kind is not Kind.BOOLEAN for part in parts):
            return failed(node)
        runs = [part.run for part in parts]
        combine = np.logical_and if word == "and" else np.logical_or

        def run(batch: Batch) -> Value:
            return Flags(reduce(combine, (truth(r(batch)) for r in runs)))

        return Typed(Kind.BOOLEAN, run, node)

    def _UnaryOp(self, node: ast.UnaryOp) -> Typed:
        operand = self.check(node.operand)
        if isinstance(node.op, ast.Invert):
            return self.fail(node, "~ is not allowed", "write not (...) to negate a condition")
        if operand.kind is None:
            return failed(node)
        if isinstance(node.op, ast.Not):
            if operand.kind is not Kind.BOOLEAN:
                return self.fail(
                    node,
                    f"not needs a true/false condition, but {self.describe(operand)} is not one",
                    compare_hint(self.source, operand),
                )
            inner = operand.run
            # Two-valued logic: a missing boolean reads false, so `not` of it is true.
            return Typed(Kind.BOOLEAN, lambda batch: Flags(~truth(inner(batch))), node)
        if operand.kind is not Kind.NUMBER:
            return self.fail(
                node,
                f"only numbers have a sign, but {self.describe(operand)} is not a number",
                "remove the sign",
            )
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        if operand.is_literal:
            return literal(Kind.NUMBER, sign * float(operand.literal), node)  # type: ignore[arg-type]
        value = number_operand(operand)
        return Typed(Kind.NUMBER, lambda batch: filled(batch, sign * value(batch)), node)

    def _BinOp(self, node: ast.BinOp) -> Typed:
        left, right = self.check(node.left), self.check(node.right)
        if type(node.op) not in _ARITHMETIC:
            symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
            fix = "write and / or to combine conditions" if symbol in ("&", "|") else "use + - * / on numbers"
            return self.fail(node, f"operator {symbol} is not supported", fix)
        if left.kind is None or right.kind is None:
            return failed(node)
        verb, ufunc = _ARITHMETIC[type(node.op)]
        result = _arithmetic_kind(type(node.op), left.kind, right.kind)
        if result is None:
            return self.fail(
                node,
                f"cannot {verb} {self.describe(left)} and {self.describe(right)}",
                "arithmetic works on numbers; for the age of a date write days_since(x)",
            )
        if isinstance(node.op, ast.Div) and right.is_literal and float(right.literal) == 0:  # type: ignore[arg-type]
            return self.fail(node.right, "division by zero", "divide by a number other than 0")
        if left.is_literal and right.is_literal:
            folded = ufunc(float(left.literal), float(right.literal))  # type: ignore[arg-type]
            return literal(result, float(folded), node)
        a, b = number_operand(left), number_operand(right)
        divide = isinstance(node.op, ast.Div)

        def run(batch: Batch) -> Value:
            x, y = a(batch), b(batch)
            if divide:
                with np.errstate(divide="ignore", invalid="ignore"):
                    # Dividing by zero gives a missing value, never infinity.
                    return filled(batch, np.where(np.equal(y, 0), np.nan, np.divide(x, y)))
            return filled(batch, ufunc(x, y))

        return Typed(result, run, node)

    def _Compare(self, node: ast.Compare) -> Typed:
        left = self.check(node.left)
        parts: list[Typed] = []
        previous_node: ast.AST = node.left
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                test = f"is_null({self.source.snippet(previous_node)})"
                fix = f"write {test}" if isinstance(op, ast.Is) else f"write not {test}"
                span = self.source.covering(previous_node, comparator)
                return self.fail(span, "is / is not cannot compare values", fix)
            if isinstance(op, ast.In | ast.NotIn) and isinstance(comparator, ast.List | ast.Tuple | ast.Set):
                part = self._membership(left, op, comparator)
                right = failed(comparator)
            else:
                right = self.check(comparator)
                part = self._pair(left, op, right, previous_node, comparator)
            parts.append(part)
            left, previous_node = right, comparator
        if any(part.kind is None for part in parts):
            return failed(node)
        if len(parts) == 1:
            return Typed(Kind.BOOLEAN, parts[0].run, node)
        runs = [part.run for part in parts]
        return Typed(
            Kind.BOOLEAN, lambda batch: Flags(reduce(np.logical_and, (truth(r(batch)) for r in runs))), node
        )

    def _pair(
        self, left: Typed, op: ast.cmpop, right: Typed, left_node: ast.AST, right_node: ast.AST
    ) -> Typed:
        span_node = self.source.covering(left_node, right_node)
        if left.kind is None or right.kind is None:
            return failed(right_node)
        if isinstance(op, ast.In | ast.NotIn):
            return self._substring(left, op, right, span_node)
        if left.kind is not right.kind:
            return self.fail(
                span_node,
                f"cannot compare {self.describe(left)} with {self.describe(right)}",
                self._mismatch_fix(left, right),
            )
        if isinstance(op, ast.Eq | ast.NotEq):
            return Typed(Kind.BOOLEAN, equality(left, right, negate=isinstance(op, ast.NotEq)), right_node)
        if left.kind is Kind.STRING:
            return self.fail(
                span_node,
                "text can only be compared with ==, != and in",
                "write e.g. lead.source == 'Web' or tier in ['A', 'B']",
            )
        if left.kind is Kind.BOOLEAN:
            return self.fail(
                span_node,
                "true/false can only be compared with == and !=",
                "use the condition alone, or not (...)",
            )
        return Typed(Kind.BOOLEAN, ordering(op, left, right), right_node)

    def _mismatch_fix(self, left: Typed, right: Typed) -> str:
        kinds = {left.kind, right.kind}
        column, other = (left, right) if not left.is_literal else (right, left)
        snippet = self.source.snippet(column.node)
        if kinds == {Kind.DATETIME, Kind.STRING} and other.is_literal:
            return f"write the date as date('2024-01-31'), e.g. {snippet} > date('2024-01-31')"
        if other.kind is Kind.STRING and other.is_literal and _is_number(str(other.literal)):
            return "remove the quotes: numbers are written without them"
        examples = {
            Kind.NUMBER: f"{snippet} >= 1000",
            Kind.STRING: f"{snippet} == 'Web'",
            Kind.BOOLEAN: f"{snippet} == true, or {snippet} alone",
            Kind.DATETIME: f"{snippet} > date('2024-01-31') or days_since({snippet}) > 30",
        }
        assert column.kind is not None
        return f"compare {column.kind.spoken} with {column.kind.spoken}, e.g. {examples[column.kind]}"

    def _membership(self, left: Typed, op: ast.cmpop, items: ast.List | ast.Tuple | ast.Set) -> Typed:
        values: list[Literal] = []
        for element in items.elts:
            item = self.check(element)
            if item.kind is None:
                continue
            if not item.is_literal:
                self.fail(
                    element,
                    "list items must be written out (numbers, quoted text, true/false)",
                    "write e.g. ['Web', 'Partner']",
                )
            elif left.kind is not None and item.kind is not left.kind:
                self.fail(
                    element,
                    f"{self.describe(item)} cannot be in a list compared with {self.describe(left)}",
                    f"list {left.kind.spoken} values",
                )
            else:
                assert item.literal is not None
                values.append(item.literal)
        if left.kind is None or len(values) != len(items.elts):
            return failed(items)
        if left.kind is Kind.DATETIME:
            return self.fail(
                items,
                "dates cannot be looked up in a list",
                "compare with < and >, e.g. x > date('2024-01-31')",
            )
        return Typed(Kind.BOOLEAN, membership(left, values, negate=isinstance(op, ast.NotIn)), items)

    def _substring(self, left: Typed, op: ast.cmpop, right: Typed, span_node: Span) -> Typed:
        if right.kind is not Kind.STRING:
            return self.fail(
                span_node,
                f"in needs a list [...] or text on its right, but {self.describe(right)} is neither",
                "write e.g. lead.source in ['Web', 'Partner'] or 'VP' in lead.title",
            )
        if not (left.kind is Kind.STRING and left.is_literal):
            return self.fail(
                span_node, "the text searched for must be quoted", "write e.g. 'VP' in lead.title"
            )
        return Typed(
            Kind.BOOLEAN, substring(str(left.literal), right, negate=isinstance(op, ast.NotIn)), right.node
        )


def _arithmetic_kind(op: type[ast.operator], left: Kind, right: Kind) -> Kind | None:
    if left is Kind.NUMBER and right is Kind.NUMBER:
        return Kind.NUMBER
    if op is ast.Sub and left is Kind.DATETIME and right is Kind.DATETIME:
        return Kind.NUMBER  # days between two dates
    if op in (ast.Add, ast.Sub) and left is Kind.DATETIME and right is Kind.NUMBER:
        return Kind.DATETIME
    if op is ast.Add and left is Kind.NUMBER and right is Kind.DATETIME:
        return Kind.DATETIME
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
