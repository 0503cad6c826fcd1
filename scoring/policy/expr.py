"""Type-check a parsed expression against the declared variables and compile it to vectorised code.

Only the node types handled below are admitted; anything else (lambdas, comprehensions, subscripts,
attribute access outside `lead.` and `graph.`, calls to unknown functions...) is reported, never run.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from scoring.policy.errors import PolicyError, PolicyIssue, Span
from scoring.policy.functions import FUNCTIONS
from scoring.policy.operators import IS_FIX, OperatorChecks, compare_hint
from scoring.policy.parse import Source, parse
from scoring.policy.schema import NAMESPACES, Kind, Schema
from scoring.policy.typed import Runner, Typed, failed, literal, truth, variable
from scoring.policy.values import Batch, BoolArray, Frame

_TRUE_FALSE = {"true": True, "false": False}
_NULL_NAMES = {"null", "none", "nil", "missing"}
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
            compare_hint(source, typed),
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


class _Checker(OperatorChecks):
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

    def written(self, node: ast.AST) -> str | None:
        span = self.source.span(node)
        raw = self.source.text[span.start : span.end]
        plain = re.fullmatch(r"[rRuU]?(['\"])(.*)\1", raw, re.DOTALL)
        # Triple quotes, implicit concatenation ('a' 'b') and escaped quotes keep Python's reading.
        if plain is None or raw[:3] in ("'''", '"""') or plain.group(1) in plain.group(2):
            return None
        return plain.group(2)

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
            return self.fail(node, "None is not a value", IS_FIX)
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
            return self.fail(node, f"{name} is not a value", IS_FIX)
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
