"""Parsing an expression with Python's own parser (`ast.parse(mode="eval")`), never evaluating it.

The parser only builds a syntax tree; `scoring.policy.expr` then admits a small whitelist of node types.
Expressions may span lines (YAML `|` blocks): newlines are read as spaces, one character for one, so
every position still maps back to the admin's line and column.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from scoring.policy.errors import PolicyIssue, Span, issue_at

MAX_LENGTH = 2000
MAX_DEPTH = 64

_SYNTAX_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b(contains|starts_with|ends_with|matches)\b(?!\s*\()"),
        "call it as a function, e.g. contains(lead.title, 'VP'), or write 'VP' in lead.title",
    ),
    (re.compile(r"&&|\|\|"), "write and / or instead of && / ||"),
    (re.compile(r"(?<![=!<>])=(?!=)"), "compare with == (a single = is not a comparison)"),
    (re.compile(r"\b(AND|OR|NOT)\b"), "write and, or, not in lower case"),
    (re.compile(r"!(?!=)"), "write not instead of !"),
)
_GENERIC_FIX = "check the operators and quotes at the caret; text needs quotes, e.g. lead.source == 'Web'"


@dataclass(frozen=True, slots=True)
class Source:
    """An expression's text and the means to turn syntax-tree positions into spans of that text."""

    where: str
    text: str
    leading: int
    flat: str
    _utf8: bytes = field(repr=False)

    @classmethod
    def of(cls, where: str, text: str) -> Source:
        """The source of expression `text` found at `where` (e.g. `policy big_accounts`)."""
        stripped = text.lstrip()
        leading = len(text) - len(stripped)
        # One character for one: positions in `flat` are positions in `text` shifted by `leading`.
        flat = stripped.replace("\r", " ").replace("\n", " ").replace("\t", " ")
        return cls(where, text, leading, flat, flat.encode("utf-8"))

    def span(self, node: ast.AST) -> Span:
        """The characters a syntax-tree node covers."""
        start = self._chars(getattr(node, "col_offset", 0))
        end_bytes = getattr(node, "end_col_offset", None)
        end = self._chars(end_bytes) if end_bytes is not None else start + 1
        return Span(self.leading + start, self.leading + end)

    def covering(self, first: ast.AST, last: ast.AST) -> Span:
        """The characters from the start of `first` to the end of `last`."""
        return Span(self.span(first).start, self.span(last).end)

    def snippet(self, node: ast.AST) -> str:
        """The source text of `node`, as the admin wrote it."""
        span = self.span(node)
        return " ".join(self.text[span.start : span.end].split())

    def issue(self, span: Span, message: str, fix: str) -> PolicyIssue:
        """An issue in this expression covering `span`."""
        return issue_at(self.where, self.text, span, message, fix)

    def _chars(self, byte_offset: int) -> int:
        # The syntax tree counts UTF-8 bytes; admins count characters.
        return len(self._utf8[:byte_offset].decode("utf-8", errors="ignore"))


def parse(where: str, text: str) -> tuple[Source, ast.expr | None, list[PolicyIssue]]:
    """Parse `text`; on failure the issues say where and what to fix, and no tree is returned."""
    source = Source.of(where, text)
    whole = Span(source.leading, len(text))
    if not source.flat.strip():
        return (
            source,
            None,
            [source.issue(whole, "the expression is empty", "write a condition, e.g. score >= 80")],
        )
    if len(text) > MAX_LENGTH:
        message = f"the expression is {len(text)} characters long, over the limit of {MAX_LENGTH}"
        return source, None, [source.issue(Span(0, 1), message, "split it into several policies")]
    try:
        tree = ast.parse(source.flat, mode="eval")
    except SyntaxError as error:
        return source, None, [_syntax_issue(source, error)]
    except (ValueError, RecursionError, MemoryError) as error:
        message = "the expression nests too deeply" if not isinstance(error, ValueError) else str(error)
        return source, None, [source.issue(whole, message, "simplify it or split it into several policies")]
    comment = _comment(source)
    if comment is not None:
        return source, None, [comment]
    if _depth(tree.body) > MAX_DEPTH:
        message = f"the expression nests more than {MAX_DEPTH} levels deep"
        return source, None, [source.issue(whole, message, "simplify it or split it into several policies")]
    return source, tree.body, []


def _depth(root: ast.AST) -> int:
    # Iterative, so that measuring a pathological tree cannot itself overflow the stack.
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _syntax_issue(source: Source, error: SyntaxError) -> PolicyIssue:
    offset = (error.offset or 0) - 1
    if offset < 0 or offset >= len(source.flat):
        offset = len(source.flat.rstrip())  # "unexpected end": point just past the last character
    end_offset = (error.end_offset or 0) - 1
    end = end_offset if (error.end_lineno in (None, error.lineno) and end_offset > offset) else offset + 1
    message = (error.msg or "invalid syntax").replace(" (detected at line 1)", "")
    return source.issue(
        Span(source.leading + offset, source.leading + end), message, _syntax_fix(source, message)
    )


def _syntax_fix(source: Source, message: str) -> str:
    if message.startswith("unterminated string"):
        return "close the quote: text is written 'like this'"
    if "was never closed" in message:
        return "close the bracket"
    if message.startswith("unmatched"):
        return "remove the extra bracket or add its opening one"
    for pattern, fix in _SYNTAX_HINTS:
        if pattern.search(_without_strings(source.flat)):
            return fix
    return _GENERIC_FIX


def _without_strings(text: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)


def _comment(source: Source) -> PolicyIssue | None:
    # `a > 1 # note` parses, but across lines a comment would silently swallow the rest of the rule.
    try:
        for token in tokenize.generate_tokens(io.StringIO(source.flat).readline):
            if token.type == tokenize.COMMENT:
                start = source.leading + token.start[1]  # tokenize counts characters
                return source.issue(
                    Span(start, start + len(token.string)),
                    "comments are not allowed in an expression",
                    "remove the # note; explain the policy in its reason:",
                )
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def canonical(text: str) -> str:
    """`text` with layout normalised (spacing, line breaks, quotes, redundant brackets), for versioning."""
    source = Source.of("", text)
    try:
        return ast.unparse(ast.parse(source.flat, mode="eval"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return " ".join(text.split())
