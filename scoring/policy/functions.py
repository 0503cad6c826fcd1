"""The functions expressions may call, each type-checked at start-up and vectorised over a batch."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Protocol

import numpy as np

from scoring.policy.compare import normalise_needle, per_text
from scoring.policy.schema import Kind
from scoring.policy.typed import Runner, Typed, failed, filled, flags, literal, number_operand, numbers, texts
from scoring.policy.values import Batch, Flags, Texts, Value, days_since_epoch, texts_from


class Reporter(Protocol):
    """What a function's check needs from the expression checker."""

    def fail(self, node: ast.AST, message: str, fix: str) -> Typed:
        """Report a problem at `node` and stand in for the failed sub-expression."""
        ...

    def describe(self, typed: Typed) -> str:
        """`lead.employees (a number)`: a sub-expression as an admin wrote it, with its type."""
        ...

    def written(self, node: ast.AST) -> str | None:
        """A quoted text exactly as written between its quotes (backslashes kept), if it is plain."""
        ...


Check = Callable[[Reporter, ast.Call, list[Typed]], Typed]


@dataclass(frozen=True, slots=True)
class Function:
    """A callable name: how it is written, how many arguments it takes, and its check-and-compile."""

    name: str
    usage: str
    min_args: int
    max_args: int | None
    check: Check


def _want(r: Reporter, fn: str, usage: str, arg: Typed, kinds: tuple[Kind, ...], what: str) -> bool:
    if arg.kind is None:
        return False
    if arg.kind not in kinds:
        r.fail(arg.node, f"{fn} needs {what}, but {r.describe(arg)} is not", f"write e.g. {usage}")
        return False
    return True


def _is_null(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
    (arg,) = args
    if arg.kind is None:
        return failed(call)
    if arg.is_literal:
        return literal(Kind.BOOLEAN, False, call)
    run_arg = arg.run

    def run(batch: Batch) -> Value:
        value = run_arg(batch)
        if isinstance(value, Flags):
            return Flags(value.null.copy() if value.null is not None else np.zeros(batch.rows, dtype=bool))
        if isinstance(value, Texts):
            return Flags(value.codes < 0)
        return Flags(np.isnan(value))

    return Typed(Kind.BOOLEAN, run, call)


def _text_test(
    name: str, usage: str, make: Callable[[str], Callable[[str], bool]], *, as_written: bool = False
) -> Check:
    def check(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
        value, pattern = args
        ok = _want(r, name, usage, value, (Kind.STRING,), "text as its first argument")
        if pattern.kind is not None and not (pattern.kind is Kind.STRING and pattern.is_literal):
            return r.fail(
                pattern.node, f"{name} needs quoted text as its second argument", f"write e.g. {usage}"
            )
        if not ok or pattern.kind is None:
            return failed(call)
        text = str(pattern.literal)
        if as_written:
            # A pattern means `\b`, not a backspace: read it the way the admin typed it.
            text = r.written(pattern.node) or text
        try:
            test = make(text)
        except re.error as error:
            return r.fail(
                pattern.node, f"{pattern.literal!r} is not a valid pattern: {error}", f"write e.g. {usage}"
            )
        return Typed(Kind.BOOLEAN, per_text(value, test), call)

    return check


def _contains(needle: str) -> Callable[[str], bool]:
    wanted = normalise_needle(needle)
    return lambda value: wanted in value


def _starts_with(prefix: str) -> Callable[[str], bool]:
    wanted = normalise_needle(prefix)
    return lambda value: value.startswith(wanted)


def _ends_with(suffix: str) -> Callable[[str], bool]:
    wanted = normalise_needle(suffix)
    return lambda value: value.endswith(wanted)


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda value: compiled.search(value) is not None


def _days_since(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
    (arg,) = args
    if not _want(r, "days_since", "days_since(lead.created) > 30", arg, (Kind.DATETIME,), "a date"):
        return failed(call)
    moment = number_operand(arg)

    def run(batch: Batch) -> Value:
        return filled(batch, batch.now_days - moment(batch))

    return Typed(Kind.NUMBER, run, call)


def _date(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
    (arg,) = args
    usage = "date('2024-01-31')"
    if arg.kind is None:
        return failed(call)
    if not (arg.kind is Kind.STRING and arg.is_literal):
        return r.fail(arg.node, "date needs a quoted date", f"write e.g. {usage}")
    try:
        moment = datetime.fromisoformat(str(arg.literal))
    except ValueError:
        return r.fail(
            arg.node, f"{arg.literal!r} is not a date", f"write e.g. {usage} or date('2024-01-31T12:00')"
        )
    return literal(Kind.DATETIME, days_since_epoch(moment), call)


def _abs(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
    (arg,) = args
    if not _want(r, "abs", "abs(lead.change) > 10", arg, (Kind.NUMBER,), "a number"):
        return failed(call)
    operand = number_operand(arg)
    return Typed(Kind.NUMBER, lambda batch: filled(batch, np.abs(operand(batch))), call)


def _same_kind(r: Reporter, name: str, usage: str, args: list[Typed], kinds: tuple[Kind, ...]) -> Kind | None:
    if any(arg.kind is None for arg in args):
        return None
    first = args[0]
    assert first.kind is not None
    if not _want(r, name, usage, first, kinds, " or ".join(kind.spoken for kind in kinds)):
        return None
    for arg in args[1:]:
        if arg.kind is not first.kind:
            r.fail(
                arg.node,
                f"{name} needs arguments of one type; {r.describe(arg)} is not {first.kind.spoken}",
                f"write e.g. {usage}",
            )
            return None
    return first.kind


def _extreme(name: str, pick: np.ufunc) -> Check:
    usage = f"{name}(lead.employees, 10)"

    def check(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
        kind = _same_kind(r, name, usage, args, (Kind.NUMBER, Kind.DATETIME))
        if kind is None:
            return failed(call)
        operands = [number_operand(arg) for arg in args]

        def run(batch: Batch) -> Value:
            # fmin/fmax skip a missing argument; the result is missing only when all are.
            values = [np.broadcast_to(op(batch), (batch.rows,)) for op in operands]
            return np.asarray(reduce(pick, values), dtype=np.float64)

        return Typed(kind, run, call)

    return check


def _coalesce(r: Reporter, call: ast.Call, args: list[Typed]) -> Typed:
    kind = _same_kind(r, "coalesce", "coalesce(lead.employees, 0)", args, tuple(Kind))
    if kind is None:
        return failed(call)
    runs: list[Runner] = [arg.run for arg in args]

    def run(batch: Batch) -> Value:
        values = [run_arg(batch) for run_arg in runs]
        if kind is Kind.BOOLEAN:
            chosen = flags(values[-1])
            for value in reversed(values[:-1]):
                current = flags(value)
                null = current.null if current.null is not None else np.zeros(batch.rows, dtype=bool)
                chosen_null = chosen.null if chosen.null is not None else np.zeros(batch.rows, dtype=bool)
                chosen = Flags(np.where(null, chosen.values, current.values), null & chosen_null)
            return chosen
        if kind is Kind.STRING:
            objects = [texts(value).objects() for value in values]
            merged = reduce(lambda a, b: np.where(a == None, b, a), objects)  # noqa: E711
            return texts_from(merged)
        arrays = [numbers(value) for value in values]
        return reduce(lambda a, b: np.where(np.isnan(a), b, a), arrays)

    return Typed(kind, run, call)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("is_null", "is_null(lead.employees)", 1, 1, _is_null),
        Function(
            "contains",
            "contains(lead.title, 'VP')",
            2,
            2,
            _text_test("contains", "contains(lead.title, 'VP')", _contains),
        ),
        Function(
            "starts_with",
            "starts_with(lead.email, 'info@')",
            2,
            2,
            _text_test("starts_with", "starts_with(lead.email, 'info@')", _starts_with),
        ),
        Function(
            "ends_with",
            "ends_with(lead.email, '.edu')",
            2,
            2,
            _text_test("ends_with", "ends_with(lead.email, '.edu')", _ends_with),
        ),
        Function(
            "matches",
            "matches(lead.title, '\\bcto\\b')",
            2,
            2,
            _text_test("matches", "matches(lead.title, '^vp')", _matches, as_written=True),
        ),
        Function("days_since", "days_since(lead.created) > 30", 1, 1, _days_since),
        Function("date", "date('2024-01-31')", 1, 1, _date),
        Function("abs", "abs(lead.change) > 10", 1, 1, _abs),
        Function("min", "min(lead.employees, 10)", 2, None, _extreme("min", np.fmin)),
        Function("max", "max(lead.employees, 10)", 2, None, _extreme("max", np.fmax)),
        Function("coalesce", "coalesce(lead.employees, 0)", 2, None, _coalesce),
    )
}
"""Every function, by name."""
