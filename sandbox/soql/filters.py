"""WHERE clauses compiled to SQLite SQL with every value a parameter.

SOQL logic is two-valued: a null field simply fails `=`, `<`, `LIKE` and `IN`, and passes `!=` and `NOT IN`
(`Industry != 'Retail'` includes leads with no industry). Every comparison therefore compiles to an
expression that is never NULL, so NOT and the SQL three-valued logic cannot disagree with SOQL.
String comparisons ignore case, as in Salesforce (for ASCII letters: SQLite's NOCASE and LIKE fold only those).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sandbox.clock import sf_datetime
from sandbox.ids import sf_checksum
from sandbox.soql.dates import date_range
from sandbox.soql.errors import invalid_field, invalid_operator
from sandbox.soql.nodes import And, Comparison, Condition, Not, Or, Value
from sandbox.soql.parser import like_pattern
from sandbox.soql.resolve import Resolved, Resolver

_EXPECTED = {
    "string": ("string", True),
    "id": ("id", True),
    "boolean": ("boolean", False),
    "date": ("date", False),
    "datetime": ("dateTime", False),
}
_RANGE_OPS = {"<": (0, "<"), "<=": (1, "<"), ">": (1, ">="), ">=": (0, ">=")}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


class FilterCompiler:
    """Compiles conditions for one query; `params` collects the values in placeholder order."""

    def __init__(self, resolver: Resolver, today: date) -> None:
        self.resolver = resolver
        self.soql = resolver.soql
        self.today = today
        self.params: list[Any] = []
        self.used: set[tuple[str, ...]] = set()

    def compile(self, cond: Condition) -> str:
        """The SQL for one condition, never NULL-valued; its values are appended to `params`."""
        if isinstance(cond, And | Or):
            word = " AND " if isinstance(cond, And) else " OR "
            return self._balanced(word, [self.compile(c) for c in cond.items])
        if isinstance(cond, Not):
            if isinstance(cond.item, Not):
                return self.compile(cond.item.item)
            return f"(NOT {self.compile(cond.item)})"
        return self._comparison(cond)

    @staticmethod
    def _balanced(word: str, parts: list[str]) -> str:
        # SQLite nests `a OR b OR c ...` one level per term and stops at depth 1000; a long list of
        # alternatives (`Id = ... OR Id = ...`) is valid SOQL, so group it as a balanced tree instead
        while len(parts) > 1:
            parts = ["(" + word.join(parts[i : i + 8]) + ")" for i in range(0, len(parts), 8)]
        return parts[0]

    # ------------------------------------------------------------------------------------------ comparisons
    def _comparison(self, c: Comparison) -> str:
        col = self.resolver.resolve(c.path)
        self.used.add(tuple(p.lower() for p in col.rel_path))
        if not col.field.filterable:
            raise invalid_field(
                self.soql, c.path.pos, f"field '{col.field.name}' can not be filtered in a query call"
            )
        if c.op == "LIKE":
            return self._like(col, c)
        if c.op in ("IN", "NOTIN"):
            inside = self._in(col, c)
            return inside if c.op == "IN" else f"(NOT {inside})"
        return self._compare(col, c.op, c.values[0])

    def _compare(self, col: Resolved, op: str, v: Value) -> str:
        x = col.sql
        if v.kind == "null":
            if op == "=":
                return f"({x} IS NULL)"
            if op == "!=":
                return f"({x} IS NOT NULL)"
            return "0"  # nothing is less or greater than null
        self._check_type(col, v)
        if col.category == "boolean" and op not in ("=", "!="):
            raise invalid_operator(self.soql, v.pos, f"invalid operator on boolean field: {col.field.name}")
        if v.kind == "date_keyword":
            return self._date_range(col, op, v)
        collate = " COLLATE NOCASE" if col.category == "string" else ""
        self.params.append(self._param(col, v))
        if op == "!=":
            return f"({x} IS NULL OR {x} != ?{collate})"
        return f"({x} IS NOT NULL AND {x} {op} ?{collate})"

    def _date_range(self, col: Resolved, op: str, v: Value) -> str:
        assert isinstance(v.value, tuple)
        keyword, n = v.value
        start, end = date_range(keyword, n, self.today)
        bounds = [self._day_bound(col, start), self._day_bound(col, end)]
        x = col.sql
        if op == "=":
            self.params.extend(bounds)
            return f"({x} IS NOT NULL AND {x} >= ? AND {x} < ?)"
        if op == "!=":
            self.params.extend(bounds)
            return f"({x} IS NULL OR {x} < ? OR {x} >= ?)"
        which, sql_op = _RANGE_OPS[op]
        self.params.append(bounds[which])
        return f"({x} IS NOT NULL AND {x} {sql_op} ?)"

    @staticmethod
    def _day_bound(col: Resolved, day: date) -> str:
        # stored datetimes are `YYYY-MM-DDThh:mm:ss.sss+0000` in UTC, so midnight UTC compares as text
        return day.isoformat() if col.category == "date" else f"{day.isoformat()}T00:00:00.000+0000"

    def _like(self, col: Resolved, c: Comparison) -> str:
        v = c.values[0]
        if col.category not in ("string", "id"):
            raise invalid_operator(
                self.soql, c.pos, f"invalid operator on {col.category} field: {col.field.name}"
            )
        if v.kind != "string":
            raise self._type_error(col, v)
        self.params.append(like_pattern(v.raw))
        return f"({col.sql} IS NOT NULL AND {col.sql} LIKE ? ESCAPE '\\')"

    def _in(self, col: Resolved, c: Comparison) -> str:
        plain: list[Value] = []
        parts: list[str] = []
        for v in c.values:
            if v.kind == "null":
                parts.append(f"({col.sql} IS NULL)")
            elif v.kind == "date_keyword":
                self._check_type(col, v)
                parts.append(self._date_range(col, "=", v))
            else:
                self._check_type(col, v)
                plain.append(v)
        if plain:
            collate = " COLLATE NOCASE" if col.category == "string" else ""
            marks = ", ".join("?" for _ in plain)
            self.params.extend(self._param(col, v) for v in plain)
            parts.insert(0, f"({col.sql} IS NOT NULL AND {col.sql}{collate} IN ({marks}))")
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    # ------------------------------------------------------------------------------------------ values
    def _check_type(self, col: Resolved, v: Value) -> None:
        cat = col.category
        ok = {
            "string": v.kind == "string",
            "id": v.kind == "string",
            "boolean": v.kind == "boolean",
            "number": v.kind == "number",
            "date": v.kind in ("date", "date_keyword"),
            "datetime": v.kind in ("datetime", "date_keyword"),
        }.get(cat, True)
        if not ok:
            raise self._type_error(col, v)

    def _type_error(self, col: Resolved, v: Value) -> Exception:
        cat = col.category
        if cat == "number":
            expected, quoted = ("integer" if col.field.type == "int" else "double"), False
        else:
            expected, quoted = _EXPECTED.get(cat, ("string", True))
        should = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return invalid_field(
            self.soql, v.pos, f"value of filter criterion for field '{col.field.name}' must be of type {expected} "
            f"and {should}"
        )  # fmt: skip

    def _param(self, col: Resolved, v: Value) -> Any:
        cat = col.category
        if cat == "boolean":
            return 1 if v.value else 0
        if cat == "id":
            assert isinstance(v.value, str)
            return self._id(v)
        if cat == "date":
            assert isinstance(v.value, date)
            return v.value.isoformat()
        if cat == "datetime":
            assert isinstance(v.value, datetime)
            return sf_datetime(v.value)
        return v.value

    def _id(self, v: Value) -> str:
        """The stored (case-exact) form of an id literal; an 18-character id may come in any case."""
        text = str(v.value)
        if text.isalnum() and len(text) == 15:
            return text + sf_checksum(text)
        if text.isalnum() and len(text) == 18:
            suffix = text[15:].upper()
            if all(ch in _ID_ALPHABET for ch in suffix):
                bits = [_ID_ALPHABET.index(ch) for ch in suffix]
                body = "".join(
                    ch.upper() if bits[i // 5] >> (i % 5) & 1 else ch.lower()
                    for i, ch in enumerate(text[:15])
                )
                return body + suffix
        raise invalid_operator(self.soql, v.pos, f"invalid ID field: {text}")
