"""Problems found in policy expressions, each pointing at the rule and at the spot in its expression."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Character offsets [start, end) into an expression's original text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in one expression: where (rule, line, column), what, and how to fix it.

    `where` names the expression's home in leadq.yaml, e.g. `policy big_accounts`, `segment enterprise`
    or `review.high_value`. `line` and `column` are 1-based positions within the expression text.
    """

    where: str
    message: str
    fix: str
    expression: str
    line: int
    column: int
    end_column: int

    def __str__(self) -> str:
        source_line = self.expression.splitlines()[self.line - 1] if self.expression.strip() else ""
        width = max(1, self.end_column - self.column)
        caret = " " * (self.column - 1) + "^" * width
        return (
            f"{self.where}, line {self.line}, column {self.column}: {self.message}\n"
            f"    {source_line}\n"
            f"    {caret}\n"
            f"  fix: {self.fix}"
        )


def issue_at(where: str, expression: str, span: Span, message: str, fix: str) -> PolicyIssue:
    """An issue whose caret covers `span` (clipped to the span's first line)."""
    start = min(max(span.start, 0), max(len(expression) - 1, 0))
    line_start = expression.rfind("\n", 0, start) + 1
    line_end = expression.find("\n", start)
    line_end = len(expression) if line_end < 0 else line_end
    end = min(max(span.end, start + 1), max(line_end, start + 1))
    line = expression.count("\n", 0, start) + 1
    return PolicyIssue(where, message, fix, expression, line, start - line_start + 1, end - line_start + 1)


class PolicyError(ValueError):
    """Every problem of every policy, segment and review expression, reported together at start-up."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.issues = tuple(issues)
        count = len(self.issues)
        header = f"{count} problem{'s' if count != 1 else ''} in policy expressions:"
        super().__init__("\n".join([header, *(str(issue) for issue in self.issues)]))
