"""Property tests: random leads and random WHERE clauses, checked against a plain Python reading of SOQL.

The evaluator here is written from the SOQL semantics, not from the engine: two-valued logic where a null
field fails `=`, `<`, `LIKE`, `IN` and passes `!=` and `NOT IN`; case-insensitive strings; date literals as
day ranges in UTC; datetimes compared as instants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.clock import sf_datetime
from sandbox.errors import SfApiError
from sandbox.soql import execute
from sandbox.store import Store

NOW = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
CHARS = "aAbB _%'\\"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Rec = dict[str, Any]


# --------------------------------------------------------------------------------------------- clauses
@dataclass(frozen=True)
class Clause:
    text: str
    holds: Callable[[Rec], bool]


def soql_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cmp(op: str, a: Any, b: Any) -> bool:
    return bool({
        "=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
    }[op])  # fmt: skip


def compare(
    field: str, op: str, literal: str, value: Any, fold: Callable[[Any], Any] = lambda v: v
) -> Clause:
    def holds(rec: Rec) -> bool:
        x = rec[field]
        if value is None:
            return (x is None) if op == "=" else (x is not None) if op == "!=" else False
        if x is None:
            return op == "!="
        return _cmp(op, fold(x), fold(value))

    return Clause(f"{field} {op} {literal}", holds)


def in_list(
    field: str, values: list[Any], literals: list[str], negate: bool, fold: Callable[[Any], Any]
) -> Clause:
    def holds(rec: Rec) -> bool:
        x = rec[field]
        inside = any((x is None) if v is None else (x is not None and fold(x) == fold(v)) for v in values)
        return not inside if negate else inside

    return Clause(f"{field} {'NOT IN' if negate else 'IN'} ({', '.join(literals)})", holds)


def lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
STRING_FIELDS = st.sampled_from(["FirstName", "Company", "City"])
strings = st.text(alphabet=CHARS, max_size=4)


@st.composite
def string_clause(draw: st.DrawFn) -> Clause:
    field = draw(STRING_FIELDS)
    form = draw(st.sampled_from(["cmp", "null", "in", "like"]))
    if form == "cmp":
        value = draw(strings)
        return compare(field, draw(OPS), soql_string(value), value, lower)
    if form == "null":
        return compare(field, draw(st.sampled_from(["=", "!="])), "null", None)
    if form == "in":
        values: list[str | None] = draw(st.lists(st.none() | strings, min_size=1, max_size=3))
        literals = ["null" if v is None else soql_string(v) for v in values]
        return in_list(field, values, literals, draw(st.booleans()), lower)
    # LIKE: a pattern of literal characters (escaped as needed) and wildcards
    pieces = draw(st.lists(st.sampled_from(["%", "_"]) | st.sampled_from(list(CHARS)).map(lambda c: "=" + c),
                           max_size=5))  # fmt: skip
    regex = "".join(".*" if p == "%" else "." if p == "_" else re.escape(p[1]) for p in pieces)
    text = "".join(p if p in ("%", "_") else ("\\" + p[1] if p[1] in "%_'\\" else p[1]) for p in pieces)
    pattern = re.compile(regex, re.IGNORECASE | re.DOTALL)
    return Clause(
        f"{field} LIKE '{text}'",
        lambda rec: rec[field] is not None and pattern.fullmatch(rec[field]) is not None,
    )


@st.composite
def number_clause(draw: st.DrawFn) -> Clause:
    field = draw(st.sampled_from(["NumberOfEmployees", "AnnualRevenue"]))
    value = draw(st.integers(-3, 10) | st.sampled_from([0.0, 1.5, -1.5, 10.25]))
    if draw(st.integers(0, 4)) == 0:
        values = draw(st.lists(st.integers(-3, 10), min_size=1, max_size=3))
        return in_list(field, values, [str(v) for v in values], draw(st.booleans()), lambda v: v)
    return compare(field, draw(OPS), repr(value), value)


@st.composite
def boolean_clause(draw: st.DrawFn) -> Clause:
    value = draw(st.booleans())
    field = draw(st.sampled_from(["IsConverted", "HasOptedOutOfEmail"]))
    return compare(field, draw(st.sampled_from(["=", "!="])), str(value).lower(), value)


def keyword_range(keyword: str, n: int) -> tuple[date, date]:
    """The few date literals the properties use, straight from the SOQL reference."""
    day = timedelta(days=1)
    first = TODAY.replace(day=1)
    previous = (first - day).replace(day=1)
    return {
        "TODAY": (TODAY, TODAY + day),
        "YESTERDAY": (TODAY - day, TODAY),
        "TOMORROW": (TODAY + day, TODAY + 2 * day),
        f"LAST_N_DAYS:{n}": (TODAY - n * day, TODAY + day),
        f"NEXT_N_DAYS:{n}": (TODAY + day, TODAY + (n + 1) * day),
        f"N_DAYS_AGO:{n}": (TODAY - n * day, TODAY - (n - 1) * day),
        "THIS_MONTH": (first, (first + 32 * day).replace(day=1)),
        "LAST_MONTH": (previous, first),
    }[keyword]


def range_clause(field: str, op: str, keyword: str, n: int, to_day_start: Callable[[date], Any]) -> Clause:
    start, end = (to_day_start(d) for d in keyword_range(keyword, n))

    def holds(rec: Rec) -> bool:
        x = rec[field]
        if x is None:
            return op == "!="
        inside = start <= x < end
        outcome = {
            "=": inside,
            "!=": not inside,
            "<": x < start,
            "<=": x < end,
            ">": x >= end,
            ">=": x >= start,
        }
        return bool(outcome[op])

    return Clause(f"{field} {op} {keyword}", holds)


KEYWORDS = st.tuples(
    st.sampled_from(["TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "THIS_MONTH",
                     "LAST_MONTH"]),
    st.integers(1, 30),
).map(lambda kn: (f"{kn[0]}:{kn[1]}" if "_N_" in kn[0] or kn[0].startswith("N_") else kn[0], kn[1]))  # fmt: skip
DAYS = st.dates(TODAY - timedelta(days=40), TODAY + timedelta(days=40))
INSTANTS = st.integers(-40 * 86_400_000, 40 * 86_400_000).map(lambda ms: NOW + timedelta(milliseconds=ms))


@st.composite
def date_clause(draw: st.DrawFn) -> Clause:
    op = draw(OPS)
    if draw(st.booleans()):
        keyword, n = draw(KEYWORDS)
        return range_clause("ConvertedDate", op, keyword, n, lambda d: d)
    if draw(st.integers(0, 5)) == 0:
        return compare("ConvertedDate", draw(st.sampled_from(["=", "!="])), "null", None)
    day = draw(DAYS)
    return compare("ConvertedDate", op, day.isoformat(), day)


@st.composite
def datetime_clause(draw: st.DrawFn) -> Clause:
    op = draw(OPS)
    if draw(st.booleans()):
        keyword, n = draw(KEYWORDS)
        return range_clause(
            "CreatedDate", op, keyword, n, lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC)
        )
    instant = draw(INSTANTS)
    offset = timedelta(minutes=draw(st.sampled_from([0, 60, -300, 330, -480])))
    local = instant.astimezone(timezone(offset))
    millis = draw(st.booleans()) or instant.microsecond != 0
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{local.microsecond // 1000:03d}" if millis else "")
    if offset or draw(st.booleans()):
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(int(offset.total_seconds())) // 60
        text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    else:
        text += "Z"
    return compare("CreatedDate", op, text, instant)


leaf = st.one_of(string_clause(), number_clause(), boolean_clause(), date_clause(), datetime_clause())


def combine(children: st.SearchStrategy[Clause]) -> st.SearchStrategy[Clause]:
    def join(word: str, items: list[Clause]) -> Clause:
        test = all if word == "AND" else any
        return Clause(
            "(" + f" {word} ".join(c.text for c in items) + ")", lambda rec: test(c.holds(rec) for c in items)
        )

    def negate(c: Clause) -> Clause:
        return Clause(f"(NOT {c.text})", lambda rec: not c.holds(rec))

    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda cs: join("AND", cs)),
        st.lists(children, min_size=2, max_size=3).map(lambda cs: join("OR", cs)),
        children.map(negate),
    )


clauses = st.recursive(leaf, combine, max_leaves=6)


# --------------------------------------------------------------------------------------------- records
leads = st.lists(
    st.fixed_dictionaries(
        {
            "FirstName": st.none() | strings,
            "Company": strings,
            "City": st.none() | strings,
            "NumberOfEmployees": st.none() | st.integers(-3, 10),
            "AnnualRevenue": st.none() | st.sampled_from([0.0, 1.5, 2.0, 10.25, -1.5]),
            "IsConverted": st.booleans(),
            "HasOptedOutOfEmail": st.booleans(),
            "ConvertedDate": st.none() | DAYS,
            "CreatedDate": INSTANTS,
        }
    ),
    max_size=12,
)


_STORE = Store()
_STORE.clock.freeze(NOW)


def load(rows: list[Rec]) -> tuple[Store, list[str]]:
    """The leads in the shared store, replacing the previous example's (a new store per example is slower)."""
    with _STORE.transaction() as c:
        c.execute('DELETE FROM "sf_Lead"')
    stored = [
        {**r, "LastName": "L", "ConvertedDate": r["ConvertedDate"] and r["ConvertedDate"].isoformat(),
         "CreatedDate": sf_datetime(r["CreatedDate"])}
        for r in rows
    ]  # fmt: skip
    return _STORE, _STORE.sf_insert_many("Lead", stored)


@SETTINGS
@given(rows=leads, clause=clauses)
def test_where_matches_a_plain_reading_of_soql(rows: list[Rec], clause: Clause) -> None:
    store, ids = load(rows)
    got = [
        r[0] for r in execute(store, f"SELECT Id FROM Lead WHERE {clause.text}", include_deleted=False).rows
    ]
    assert got == [i for i, rec in zip(ids, rows, strict=True) if clause.holds(rec)], clause.text


@settings(max_examples=60, deadline=None)
@given(rows=leads, descending=st.booleans(), nulls=st.sampled_from(["", " NULLS FIRST", " NULLS LAST"]),
       limit=st.integers(0, 15), offset=st.integers(0, 15))  # fmt: skip
def test_order_limit_offset_match_a_plain_sort(
    rows: list[Rec], descending: bool, nulls: str, limit: int, offset: int
) -> None:
    store, ids = load(rows)
    soql = (
        f"SELECT Id FROM Lead ORDER BY NumberOfEmployees {'DESC' if descending else 'ASC'}{nulls}, Company "
        f"LIMIT {limit} OFFSET {offset}"
    )
    got = [r[0] for r in execute(store, soql, include_deleted=False).rows]
    nulls_first = nulls == " NULLS FIRST" or (not nulls and not descending)
    sign = -1 if descending else 1

    def key(pair: tuple[str, Rec]) -> tuple[Any, ...]:
        n = pair[1]["NumberOfEmployees"]
        null_rank = 0 if (n is None) == nulls_first else 1
        return (null_rank, 0 if n is None else sign * n, pair[1]["Company"].lower())

    expected = [
        i for i, _ in sorted(zip(ids, rows, strict=True), key=key)
    ]  # stable: ties stay in creation order
    assert got == expected[offset : offset + limit]


# --------------------------------------------------------------------------------------------- robustness
TOKENS = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER BY", "LIMIT", "OFFSET", "ASC", "DESC",
    "NULLS", "FIRST", "COUNT()", "COUNT(", "FIELDS(ALL)", "Lead", "Contact", "Id", "Name", "Account.Name",
    "Owner.Email", "CreatedDate", "IsConverted", "NumberOfEmployees", "Foo", "=", "!=", "<", ">=", "(", ")", ",",
    "'x'", "'", "\\", "null", "true", "5", "-2.5", "2024-01-31", "2024-01-31T10:00:00Z", "TODAY", "LAST_N_DAYS:3",
    "LAST_N_DAYS:", ":", ".", "#", "\n", "GROUP BY", "2001", "99999999999999",
]  # fmt: skip


@settings(max_examples=250, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join) | st.text(max_size=40))
def test_bad_input_is_a_400_never_a_crash(text: str) -> None:
    for soql in (text, f"SELECT Id FROM Lead WHERE {text}", f"SELECT {text} FROM Lead"):
        try:
            execute(_STORE, soql, include_deleted=True)
        except SfApiError as e:
            assert e.status == 400 and e.code and e.message
