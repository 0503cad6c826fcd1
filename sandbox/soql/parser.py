"""SOQL text to a `nodes.Query`, with syntax errors reported as the real API reports them (MALFORMED_QUERY).

The grammar is `soql.lark` (LALR, contextual lexer). Lark's exceptions are translated into the real message
format; the tokens lexed so far are recorded so the error can point where Salesforce points: after a word
that the grammar took as an alias (`SELECT Id FRM Lead`), the caret goes under that word and the message
names the token after it, as the real parser does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path as FsPath

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from sandbox.errors import SfApiError
from sandbox.soql.errors import malformed
from sandbox.soql.nodes import (
    And,
    Comparison,
    Condition,
    Not,
    Or,
    OrderItem,
    Path,
    Query,
    SelectCount,
    SelectCountField,
    SelectField,
    SelectFields,
    SelectItem,
    Value,
)

# SOQL's reserved words cannot name a field or object, even where the grammar would take an identifier.
RESERVED = frozenset(
    (
        "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES", "LAST", "LIKE",
        "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
    )
)  # fmt: skip
# Valid SOQL the sandbox does not implement; say so rather than leave a developer puzzled.
_UNSUPPORTED = {
    "GROUP": "GROUP BY",
    "HAVING": "HAVING",
    "WITH": "WITH",
    "INCLUDES": "INCLUDES",
    "EXCLUDES": "EXCLUDES",
}
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_MAX_INT_DIGITS = 12  # LIMIT and OFFSET; more would overflow SQLite's integers

_local = threading.local()
_parser_lock = threading.Lock()
_parser: Lark | None = None


class _ReservedWordError(Exception):
    def __init__(self, token: Token) -> None:
        super().__init__(str(token))
        self.token = token


class _Recorder(PostLex):
    """Keeps the tokens lexed so far (for error positions) and refuses reserved words as identifiers."""

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        seen: list[Token] | None = getattr(_local, "tokens", None)
        for token in stream:
            if token.type == "IDENT" and token.value.upper() in RESERVED:
                raise _ReservedWordError(token)
            if seen is not None:
                seen.append(token)
            yield token


def _get_parser() -> Lark:
    global _parser
    with _parser_lock:
        if _parser is None:
            grammar = (FsPath(__file__).parent / "soql.lark").read_text()
            _parser = Lark(
                grammar, parser="lalr", lexer="contextual", postlex=_Recorder(), maybe_placeholders=False
            )
        return _parser


def parse(soql: str) -> Query:
    """Parse one SOQL statement; raise `SfApiError` (400 MALFORMED_QUERY) on a syntax error."""
    seen: list[Token] = []
    _local.tokens = seen
    try:
        tree = _get_parser().parse(soql)
    except _ReservedWordError as e:
        raise _unexpected(soql, e.token, seen) from None
    except UnexpectedInput as e:
        raise _syntax_error(soql, e, seen) from None
    finally:
        _local.tokens = None
    return _Builder(soql).query(tree)


# ---------------------------------------------------------------------------------------------- errors
def _end_pos(soql: str) -> int:
    return len(soql.rstrip())


def _unexpected(soql: str, token: Token, seen: list[Token]) -> SfApiError:
    start = token.start_pos if token.start_pos is not None else _end_pos(soql)
    before = [t for t in seen if t.end_pos is not None and t.end_pos <= start]
    pos = start
    # an identifier straight after another was taken as an alias; the real API points at the alias
    if len(before) >= 2 and before[-1].type == "IDENT" and before[-2].type in ("IDENT", "RPAR"):
        pos = before[-1].start_pos or start
    word = token.value if token.type != "$END" else "<EOF>"
    text = f"unexpected token: {word}"
    feature = _UNSUPPORTED.get(word.upper())
    if feature:
        text += f" ({feature} is not supported by the leadq sandbox)"
    return malformed(soql, pos, text)


def _syntax_error(soql: str, e: UnexpectedInput, seen: list[Token]) -> SfApiError:
    if isinstance(e, UnexpectedToken):
        if e.token.type == "$END":
            return _unexpected(soql, Token("$END", "", start_pos=_end_pos(soql)), seen)
        return _unexpected(soql, e.token, seen)
    if isinstance(e, UnexpectedEOF):
        return _unexpected(soql, Token("$END", "", start_pos=_end_pos(soql)), seen)
    if isinstance(e, UnexpectedCharacters):
        # The lexer's message counts columns from 0 and the real API prints that number as the 1-based
        # column, so its caret lands one character early (`FIND {John|...` puts it under the `n`).
        pos = e.pos_in_stream if e.pos_in_stream is not None else _end_pos(soql)
        char = soql[pos : pos + 1] or "<EOF>"
        if char == "'":
            pos = len(soql)  # an unterminated string runs to the end of the text, where the lexer gives up
        line_start = soql.rfind("\n", 0, pos) + 1
        row, col = soql.count("\n", 0, pos) + 1, pos - line_start
        if char == "'":
            text = f"line {row}:{col} mismatched character '<EOF>' expecting '''"
        else:
            text = f"line {row}:{col} no viable alternative at character '{char}'"
        return malformed(soql, max(line_start, pos - 1), text, column=col)
    return malformed(soql, 0, "unexpected token: <EOF>")


# ---------------------------------------------------------------------------------------------- literals
def unescape(soql: str, raw: str, pos: int) -> str:
    """A string literal's value (`raw` is the text between the quotes); `\\%` and `\\_` stand for themselves."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in ("%", "_"):
            out.append(nxt)
        else:
            raise malformed(
                soql,
                pos,
                f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in string literal.",
            )
        i += 2
    return "".join(out)


def like_pattern(raw: str) -> str:
    """A LIKE literal as an SQLite pattern with `\\` as the ESCAPE character (`%`/`_` stay wildcards)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in ("%", "_"):
                out.append("\\" + nxt)
            else:
                lit = _ESCAPES.get(nxt, nxt)
                out.append("\\\\" if lit == "\\" else lit)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})", re.IGNORECASE)


def _datetime(text: str) -> datetime:
    m = _DATETIME.fullmatch(text)
    if m is None:
        raise ValueError(text)
    base, frac, zone = m.groups()
    micros = int((frac or ".0")[1:7].ljust(6, "0"))
    zone = "+00:00" if zone.upper() == "Z" else zone
    if ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    t = datetime.fromisoformat(base + zone).replace(microsecond=micros)
    return t.astimezone(UTC)


# ---------------------------------------------------------------------------------------------- tree -> nodes
class _Builder:
    def __init__(self, soql: str) -> None:
        self.soql = soql

    def query(self, tree: Tree[Token]) -> Query:
        select: tuple[SelectItem, ...] = ()
        object_name, object_pos, object_alias = "", 0, None
        where: Condition | None = None
        order: tuple[OrderItem, ...] = ()
        limit: int | None = None
        offset: int | None = None
        for clause in tree.children:
            assert isinstance(clause, Tree)
            kind = clause.data
            if kind == "select_clause":
                select = tuple(self.select_item(c) for c in clause.children if isinstance(c, Tree))
            elif kind == "from_clause":
                name = clause.children[1]
                assert isinstance(name, Token)
                object_name, object_pos = str(name), name.start_pos or 0
                object_alias = self.alias(clause.children[2:])
            elif kind == "where_clause":
                where = self.condition(clause.children[1])
            elif kind == "order_clause":
                order = tuple(self.order_item(c) for c in clause.children[2:] if isinstance(c, Tree))
            elif kind == "limit_clause":
                limit = self.integer(clause.children[1])
            elif kind == "offset_clause":
                offset = self.integer(clause.children[1])
        return Query(select, object_name, object_pos, object_alias, where, order, limit, offset)

    def integer(self, token: Tree[Token] | Token) -> int:
        assert isinstance(token, Token)
        if len(token.value) > _MAX_INT_DIGITS:
            raise malformed(self.soql, token.start_pos or 0, f"unexpected token: {token.value}")
        return int(token.value)

    @staticmethod
    def alias(children: list[Tree[Token] | Token]) -> str | None:
        for c in children:
            if isinstance(c, Tree) and c.data == "alias":
                return str(c.children[0])
        return None

    @staticmethod
    def path(tree: Tree[Token] | Token) -> Path:
        assert isinstance(tree, Tree) and tree.data == "field_path"
        parts = tuple(str(t) for t in tree.children)
        first = tree.children[0]
        assert isinstance(first, Token)
        return Path(parts, first.start_pos or 0)

    def select_item(self, tree: Tree[Token]) -> SelectItem:
        kids = tree.children
        if tree.data == "select_field":
            return SelectField(self.path(kids[0]), self.alias(kids[1:]))
        head = kids[0]
        assert isinstance(head, Token)
        pos = head.start_pos or 0
        if tree.data == "select_count":
            return SelectCount(pos)
        if tree.data == "select_count_field":
            return SelectCountField(self.path(kids[1]), self.alias(kids[2:]), pos)
        return SelectFields(str(kids[1]).upper(), pos)

    def condition(self, tree: Tree[Token] | Token) -> Condition:
        assert isinstance(tree, Tree)
        kind = tree.data
        subtrees = [c for c in tree.children if isinstance(c, Tree)]
        if kind == "and_":
            return And(tuple(self.condition(c) for c in subtrees))
        if kind == "or_":
            return Or(tuple(self.condition(c) for c in subtrees))
        if kind == "not_":
            return Not(self.condition(subtrees[0]))
        path = self.path(subtrees[0])
        values = tuple(self.value(v) for v in subtrees[1:])
        if kind == "compare":
            op_token = tree.children[1]
            assert isinstance(op_token, Token)
            op = "!=" if op_token.value == "<>" else op_token.value
            return Comparison(path, op, values, op_token.start_pos or 0)
        op = {"like": "LIKE", "in_": "IN", "not_in": "NOTIN"}[str(kind)]
        token = next(c for c in tree.children if isinstance(c, Token))
        return Comparison(path, op, values, token.start_pos or 0)

    def value(self, tree: Tree[Token]) -> Value:
        token = tree.children[0]
        assert isinstance(token, Token)
        raw, pos, kind = token.value, token.start_pos or 0, token.type
        if kind == "STRING":
            inner = raw[1:-1]
            return Value("string", unescape(self.soql, inner, pos), inner, pos)
        if kind == "NUMBER":
            number: int | float = float(raw) if "." in raw else int(raw)
            return Value("number", number, raw, pos)
        if kind in ("TRUE", "FALSE"):
            return Value("boolean", kind == "TRUE", raw, pos)
        if kind == "NULL":
            return Value("null", None, raw, pos)
        try:
            if kind == "DATE":
                return Value("date", date.fromisoformat(raw), raw, pos)
            if kind == "DATETIME":
                return Value("datetime", _datetime(raw), raw, pos)
        except ValueError:
            raise malformed(self.soql, pos, f"unexpected token: {raw}") from None
        if kind == "DATE_N_KEYWORD":
            name, n = raw.upper().split(":")
            return Value("date_keyword", (name, int(n)), raw, pos)
        return Value("date_keyword", (raw.upper(), None), raw, pos)

    def order_item(self, tree: Tree[Token]) -> OrderItem:
        path = self.path(tree.children[0])
        descending = False
        nulls_first: bool | None = None
        for c in tree.children[1:]:
            assert isinstance(c, Tree)
            if c.data == "direction":
                descending = str(c.children[0]).upper() == "DESC"
            elif c.data == "nulls":
                nulls_first = str(c.children[1]).upper() == "FIRST"
        return OrderItem(path, descending, nulls_first)
