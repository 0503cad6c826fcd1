"""Type-check a parsed expression against the declared variables and compile it to vectorised code.

Only the node types handled below are admitted; anything else (lambdas, comprehensions, subscripts,
attribute access outside `lead.` and `graph.`, calls to unknown functions...) is reported, never run.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import numpy as np

from scoring.policy.compare import equality, membership, ordering, substring
from scoring.policy.errors import PolicyError, PolicyIssue, Span
from scoring.policy.functions import FUNCTIONS
from scoring.policy.parse import Source, parse
from scoring.policy.schema import NAMESPACES, Kind, Schema
from scoring.policy.typed import Literal, Runner, Typed, failed, literal, number_operand, truth, variable
from scoring.policy.values import Batch, BoolArray, Flags, Frame, Value

_TRUE_FALSE = {"true": True, "false": False}
_NULL_NAMES = {"null", "none", "nil", "missing"}
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
_DISALLOWED: dict[type[ast.AST], tuple[str, str]] = {
    ast.Lambda: ("lambda functions are not allowed", "write the condition directly"),
    ast.IfExp: (
        "conditional expressions (x if c else y) are not allowed",
        "write two policies, or use and/or",
    ),
    ast.ListComp: (
        "comprehensions are not allowed",
        "list the values, e.g. lead.source in ['Web', 'Partner']",
    ),
    ast.SetComp: (
        "comprehensions are not allowed",
        "list the values, e.g. lead.source in ['Web', 'Partner']",
    ),
    ast.DictComp: (
        "comprehensions are not allowed",
        "list the values, e.g. lead.source in ['Web', 'Partner']",
    ),
    ast.GeneratorExp: (
        "comprehensions are not allowed",
        "list the values, e.g. lead.source in ['Web', 'Partner']",
    ),
    ast.Subscript: ("indexing with [...] is not allowed", "name the field directly, e.g. lead.employees"),
    ast.Dict: ("dictionaries are not allowed", "compare values with ==, in, or a function"),
    ast.JoinedStr: ("f-strings are not allowed", "write plain quoted text, e.g. 'Web'"),
    ast.NamedExpr: ("assignments (:=) are not allowed", "compare with == instead"),
    ast.Starred: ("* unpacking is not allowed", "list the values one by one"),
    ast.Await: ("await is not allowed", "write a plain condition"),
}
_IS_FIX = "test for a missing value with is_null(x), and compare values with == or !="


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled true/false expression: one truth value per lead of a batch."""

    where: str
    text: str
    canonical: str
    variables: frozenset[str]
    run: Runner

    def on(self, batch: Batch) -> BoolArray:
        """Where the condition holds in `batch` (missing values follow the documented null rules)."""
        return truth(self.run(batch))

    def evaluate(self, frame: Frame, *, now: datetime | None = None) -> BoolArray:
        """Where the condition holds, for a DataFrame (or mapping of arrays) with a column per variable."""
        return self.on(Batch(frame, now or datetime.now(UTC)))


def check_condition(
    where: str, text: str, schema: Schema, *, unavailable: Mapping[str, str] | None = None
) -> tuple[Condition | None, list[PolicyIssue]]:
    """Parse, type-check and compile `text`; returns the condition or every problem found in it.

    `unavailable` names variables that exist but cannot be used here, with the reason (shown as the fix).
    """
    source, tree, issues = parse(where, text)
    if tree is None:
        return None, issues
    checker = _Checker(source, schema, unavailable or {})
    try:
        typed = checker.check(tree)
    except RecursionError:
        return None, [source.issue(source.span(tree), "the expression nests too deeply", "simplify it")]
    if typed.kind is not None and typed.kind is not Kind.BOOLEAN:
        checker.fail(
            tree,
            f"the condition must be true or false, but it is {typed.kind.spoken}",
            _compare_hint(source, typed),
        )
    if checker.issues:
        return None, checker.issues
    return Condition(where, text, ast.unparse(tree), frozenset(checker.used), typed.run), []


def compile_condition(
    where: str, text: str, schema: Schema, *, unavailable: Mapping[str, str] | None = None
) -> Condition:
    """`check_condition`, raising `PolicyError` with every problem instead of returning them."""
    condition, issues = check_condition(where, text, schema, unavailable=unavailable)
    if condition is None:
        raise PolicyError(issues)
    return condition


def _compare_hint(source: Source, typed: Typed) -> str:
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


class _Checker:
    def __init__(self, source: Source, schema: Schema, unavailable: Mapping[str, str]) -> None:
        self.source = source
        self.schema = schema
        self.unavailable = unavailable
        self.issues: list[PolicyIssue] = []
        self.used: set[str] = set()

    def fail(self, at: ast.AST | Span, message: str, fix: str) -> Typed:
        span = at if isinstance(at, Span) else self.source.span(at)
        self.issues.append(self.source.issue(span, message, fix))
        return failed(at if isinstance(at, ast.AST) else ast.Constant(value=None))

    def describe(self, typed: Typed) -> str:
        kind = typed.kind.spoken if typed.kind is not None else "unknown"
        return f"{self.source.snippet(typed.node)} ({kind})"

    def check(self, node: ast.AST) -> Typed:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            result: Typed = handler(node)
            return result
        message, fix = _DISALLOWED.get(
            type(node),
            (
                f"{type(node).__name__} is not allowed in an expression",
                "see the expression language reference",
            ),
        )
        return self.fail(node, message, fix)

    # Literals and names

    def _Constant(self, node: ast.Constant) -> Typed:
        value = node.value
        if isinstance(value, bool):
            return literal(Kind.BOOLEAN, value, node)
        if isinstance(value, int | float) and np.isfinite(value):
            return literal(Kind.NUMBER, float(value), node)
        if isinstance(value, str):
            return literal(Kind.STRING, value, node)
        if value is None:
            return self.fail(node, "None is not a value", _IS_FIX)
        return self.fail(
            node,
            f"{ast.unparse(node)} is not a number, quoted text, true or false",
            "write e.g. 10, 'Web' or true",
        )

    def _Name(self, node: ast.Name) -> Typed:
        name = node.id
        if name in _TRUE_FALSE:
            return literal(Kind.BOOLEAN, _TRUE_FALSE[name], node)
        if name.lower() in _NULL_NAMES:
            return self.fail(node, f"{name} is not a value", _IS_FIX)
        if name in NAMESPACES:
            fields = sorted(n for n in self.schema if n.startswith(name + "."))
            example = fields[0] if fields else f"{name}.<name>"
            return self.fail(
                node, f"{name} is a namespace, not a value", f"name one of its fields, e.g. {example}"
            )
        if name in FUNCTIONS:
            return self.fail(node, f"{name} is a function", f"call it, e.g. {FUNCTIONS[name].usage}")
        return self._variable(name, node)

    def _Attribute(self, node: ast.Attribute) -> Typed:
        if isinstance(node.value, ast.Name) and node.value.id in NAMESPACES:
            return self._variable(f"{node.value.id}.{node.attr}", node)
        return self.fail(
            node,
            f"{self.source.snippet(node)}: only lead.<field> and graph.<fact> can be read with a dot",
            "write lead.<feature name> or graph.<fact>, e.g. lead.employees or graph.account_is_customer",
        )

    def _variable(self, name: str, node: ast.AST) -> Typed:
        if name in self.schema:
            self.used.add(name)
            return variable(name, self.schema[name], node)
        if name in self.unavailable:
            return self.fail(node, f"{name} cannot be used here", self.unavailable[name])
        return self.fail(node, f"unknown variable {name}", self._suggest(name))

    def _suggest(self, name: str) -> str:
        known = [*self.schema, *self.unavailable]
        namespace, _, bare = name.rpartition(".")
        for candidate in (f"{ns}.{name}" for ns in NAMESPACES):
            if candidate in self.schema:
                return f"did you mean {candidate}?"
        if namespace and bare in self.schema:
            return f"did you mean {bare}?"
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if not close and namespace:
            fields = [k for k in known if k.startswith(namespace + ".")]
            bare_close = difflib.get_close_matches(
                bare, [k.split(".", 1)[1] for k in fields], n=1, cutoff=0.5
            )
            close = [f"{namespace}.{bare_close[0]}"] if bare_close else []
        if close:
            return f"did you mean {close[0]}?"
        prefix = (namespace + ".") if namespace else ""
        choices = sorted(k for k in known if k.startswith(prefix) and (namespace or "." not in k))
        return f"use one of: {', '.join(choices[:12])}{', ...' if len(choices) > 12 else ''}"

    def _List(self, node: ast.List | ast.Tuple | ast.Set) -> Typed:
        return self.fail(
            node, "a list can only follow in or not in", "write e.g. lead.source in ['Web', 'Partner']"
        )

    _Tuple = _List
    _Set = _List

    # Operators

    def _BoolOp(self, node: ast.BoolOp) -> Typed:
        word = "and" if isinstance(node.op, ast.And) else "or"
        parts = [self.check(value) for value in node.values]
        for part in parts:
            if part.kind is not None and part.kind is not Kind.BOOLEAN:
                self.fail(
                    part.node,
                    f"{word} combines true/false conditions, but {self.describe(part)} is not one",
                    _compare_hint(self.source, part),
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
                    _compare_hint(self.source, operand),
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
        return Typed(Kind.NUMBER, lambda batch: np.asarray(sign * value(batch), dtype=np.float64), node)

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
                    return np.asarray(np.where(np.equal(y, 0), np.nan, np.divide(x, y)), dtype=np.float64)
            return np.asarray(ufunc(x, y), dtype=np.float64)

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

    def _Call(self, node: ast.Call) -> Typed:
        if not isinstance(node.func, ast.Name):
            return self.fail(
                node.func,
                "methods and computed calls are not allowed",
                "call a function by name, e.g. contains(lead.title, 'VP')",
            )
        name = node.func.id
        args = [self.check(arg) for arg in node.args]
        if node.keywords:
            return self.fail(
                node.keywords[0].value,
                "arguments cannot be named",
                f"write e.g. {FUNCTIONS[name].usage if name in FUNCTIONS else 'is_null(lead.employees)'}",
            )
        function = FUNCTIONS.get(name)
        if function is None:
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1, cutoff=0.6)
            fix = f"did you mean {close[0]}?" if close else f"use one of: {', '.join(sorted(FUNCTIONS))}"
            return self.fail(node.func, f"unknown function {name}", fix)
        count = len(node.args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            wanted = (
                str(function.min_args)
                if function.max_args == function.min_args
                else f"at least {function.min_args}"
            )
            return self.fail(
                node,
                f"{name} takes {wanted} argument{'s' if function.min_args != 1 else ''}, got {count}",
                f"write e.g. {function.usage}",
            )
        return function.check(self, node, args)


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
