"""Property-based: random contacts and random filterGroups / sorts, the sandbox's search against a plain-Python
evaluation of the same request written here (the semantics the sandbox documents in `sandbox/hubspot/filters.py`).

Most examples run the search function directly (fast, many examples, paging included); fewer go through HTTPS.
"""

from __future__ import annotations

import fnmatch
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import LimitConfig, SandboxServer
from sandbox.clock import epoch_ms, hs_datetime
from sandbox.hubspot.search import search_records
from sandbox.store import Store

BASE = datetime(2024, 6, 1, tzinfo=UTC)
KINDS = {
    "firstname": "string", "company": "string",
    "annualrevenue": "number", "hs_analytics_num_visits": "number",
    "lifecyclestage": "enumeration", "hs_lead_status": "enumeration",
    "hs_email_optout": "bool",
    "notes_last_updated": "datetime", "notes_last_contacted": "datetime",
    "lastmodifieddate": "stamp", "createdate": "stamp", "hs_object_id": "id",
}  # fmt: skip
OPERATORS = ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"]  # fmt: skip
BY_KIND = {k: sorted(n for n, kind in KINDS.items() if kind == k) for k in set(KINDS.values())}
WORDS = [
    "alice",
    "Alice",
    "bob smith",
    "Bob Smith Jr",
    "carol@acme.com",
    "ÉCOLE",
    "x y z",
    "acme",
    "Acme Corp",
]
ENUMS = {
    "lifecyclestage": ["lead", "customer", "opportunity", "LEAD"],
    "hs_lead_status": ["NEW", "OPEN", "new"],
}
PATTERNS = ["alice", "ali*", "*smith", "bob smith", "smith jr", "*@acme.com", "*", "x*z", "é*", "corp", "a*e"]


# ---------------------------------------------------------------------------------------------- strategies
def _ms_value() -> st.SearchStrategy[int]:
    return st.integers(0, 6).map(lambda m: epoch_ms(BASE + timedelta(minutes=m)))


def _datetime_text() -> st.SearchStrategy[str]:
    return _ms_value().flatmap(
        lambda ms: st.sampled_from([str(ms), hs_datetime(datetime.fromtimestamp(ms / 1000, UTC))])
    )


def stored_value(kind: str, name: str) -> st.SearchStrategy[str]:
    if kind == "string":
        return st.one_of(st.sampled_from(WORDS), st.text(alphabet="abAB xy@.", min_size=1, max_size=6))
    if kind == "number":
        return st.one_of(st.integers(-5, 5).map(str), st.sampled_from(["1.5", "-0.5", "2.0", "1e1"]))
    if kind == "enumeration":
        return st.sampled_from(ENUMS[name])
    if kind == "bool":
        return st.sampled_from(["true", "false", "True"])
    return _datetime_text()


CONTACT = st.fixed_dictionaries(
    {},
    optional={n: stored_value(k, n) for n, k in KINDS.items() if k not in ("stamp", "id")},
)
RECORD = st.tuples(CONTACT, st.integers(0, 6), st.integers(0, 6))  # props, minutes created, minutes modified


def operand(kind: str, name: str) -> st.SearchStrategy[str]:
    """A filter value of the property's kind ("@k" for ids: the k-th id of the example, resolved later)."""
    if kind == "stamp":
        return _datetime_text()
    if kind == "id":
        return st.integers(-1, 11).map(lambda k: f"@{k}")
    if kind == "string":
        words = st.sampled_from(WORDS)
        return st.one_of(words, words.map(str.upper), words.map(str.lower))
    return (
        stored_value(kind, name) if kind != "datetime" else st.one_of(_datetime_text(), st.just("2024-06-01"))
    )


def seen(kind: str, name: str, recs: list[Rec]) -> list[str]:
    """Filter values taken from this example's records (in the forms a client would send), so filters bite."""
    out: list[str] = []
    for r in recs:
        raw = r.raw(name)
        if raw is None:
            continue
        if kind in ("stamp", "id"):
            out += [str(raw)] + (
                [hs_datetime(datetime.fromtimestamp(raw / 1000, UTC))] if kind == "stamp" else []
            )
        elif kind == "string":
            out += [raw, raw.upper(), raw.lower()]
        else:
            out.append(raw)
    return out


def patterns(recs: list[Rec], name: str) -> st.SearchStrategy[str]:
    """CONTAINS_TOKEN values: fixed ones, and tokens of this example's values cut and wildcarded."""
    tokens = sorted({t for r in recs for t in str(r.raw(name) or "").split()})
    fixed = st.sampled_from(PATTERNS)
    if not tokens:
        return fixed
    cut = st.tuples(st.sampled_from(tokens), st.integers(0, 3), st.sampled_from(["", "*", "?"]))
    return st.one_of(
        fixed,
        cut.map(lambda t: t[0][t[1] :] if t[2] == "" else (t[2].replace("?", "") + t[0][t[1] :] + "*")),
    )


def a_filter(
    draw: Callable[[st.SearchStrategy[Any]], Any], recs: list[Rec], op: str | None = None
) -> dict[str, Any]:
    """One random filter, its values from the property's pool or from the records at hand."""
    # the operator first, then a kind, then a property: each operator meets each kind equally often
    op = op or draw(st.sampled_from(OPERATORS))
    kind = draw(st.sampled_from(["string"] if "TOKEN" in op else sorted(BY_KIND)))
    name = draw(st.sampled_from(BY_KIND[kind]))
    pool = seen(kind, name, recs)
    value = st.one_of(operand(kind, name), st.sampled_from(pool)) if pool else operand(kind, name)
    out: dict[str, Any] = {"propertyName": name, "operator": op}
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        out["value"] = draw(patterns(recs, name))
    elif op in ("IN", "NOT_IN"):
        out["values"] = draw(st.lists(value, min_size=1, max_size=3))
    elif op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        out["value"] = draw(value)
        if op == "BETWEEN":
            out["highValue"] = draw(value)
    return out


SORT = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(sorted(KINDS)), st.sampled_from(["ASCENDING", "DESCENDING"])),
)


# ---------------------------------------------------------------------------------------------- the reference
@dataclass
class Rec:
    id: int
    props: dict[str, str]
    created: int
    updated: int

    def raw(self, name: str) -> Any:
        kind = KINDS[name]
        if kind == "id":
            return self.id
        if kind == "stamp":
            return self.updated if name == "lastmodifieddate" else self.created
        return self.props.get(name)


def as_ms(text: Any) -> int | None:
    s = str(text)
    if s.lstrip("-").isdigit():
        return int(s)
    t = datetime.fromisoformat(s)
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    return round((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def comparable(kind: str, value: Any, *, in_list: bool = False) -> Any:
    if value is None:
        return None
    if kind in ("number", "id"):
        try:
            return float(value)
        except ValueError:
            return None
    if kind in ("datetime", "stamp"):
        return as_ms(value)
    if kind == "bool" or (kind == "string" and not in_list):
        return str(value).lower()
    return str(value)


def token_match(value: Any, pattern: str) -> bool:
    if value is None or not pattern.split():
        return False
    words = pattern.lower().split()
    tokens = str(value).lower().split()
    runs = [" ".join(tokens[i : i + len(words)]) for i in range(len(tokens) - len(words) + 1)]
    return any(fnmatch.fnmatchcase(run, " ".join(words)) for run in runs)


def matches(rec: Rec, flt: dict[str, Any]) -> bool:
    name, op = str(flt["propertyName"]), str(flt["operator"])
    kind, raw = KINDS[name], rec.raw(name)
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        present: bool = raw is not None and raw != ""
        return present == (op == "HAS_PROPERTY")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return token_match(raw, str(flt["value"])) is (op == "CONTAINS_TOKEN")
    if op in ("IN", "NOT_IN"):  # stored strings fold, the listed values do not ("values must be lowercase")
        x = comparable(kind, raw)
        found = x is not None and x in [comparable(kind, v, in_list=True) for v in flt["values"]]
        return found if op == "IN" else not found
    x, v = comparable(kind, raw), comparable(kind, flt["value"])
    if op == "NEQ":
        return x is None or x != v
    if x is None:
        return False
    if op == "BETWEEN":
        return bool(v <= x <= comparable(kind, flt["highValue"]))
    return bool({"EQ": x == v, "LT": x < v, "LTE": x <= v, "GT": x > v, "GTE": x >= v}[op])


def expected(recs: list[Rec], groups: list[list[dict[str, Any]]], sort: tuple[str, str] | None) -> list[int]:
    hits = [r for r in recs if not groups or any(all(matches(r, f) for f in g) for g in groups)]
    if sort is None:
        return [r.id for r in sorted(hits, key=lambda r: (r.created, r.id))]
    name, direction = sort
    desc = direction == "DESCENDING"
    key = [(comparable(KINDS[name], r.raw(name)), r.id) for r in hits]
    present = sorted((k for k in key if k[0] is not None), reverse=desc)
    absent = sorted((k for k in key if k[0] is None), key=lambda k: k[1], reverse=desc)
    return [i for _, i in present + absent]


# ---------------------------------------------------------------------------------------------- running
def load(store: Store, records: list[tuple[dict[str, str], int, int]]) -> list[Rec]:
    with store.transaction() as c:
        c.execute("DELETE FROM hs_object")
    out = []
    for props, created, modified in records:
        rec = store.hs_insert("contacts", props, when=BASE + timedelta(minutes=created))
        if modified > created:
            store.clock.freeze(BASE + timedelta(minutes=modified))
            rec = store.hs_update("contacts", rec.id, {}) or rec
            store.clock.unfreeze()
        out.append(Rec(rec.id, dict(props), rec.created_ms, rec.updated_ms))
    return out


def resolve_ids(groups: list[list[dict[str, Any]]], recs: list[Rec]) -> list[list[dict[str, Any]]]:
    """Turn the "@k" placeholders of hs_object_id filters into ids near this example's records."""
    base = recs[0].id if recs else 1

    def fix(v: Any) -> Any:
        return str(base + int(v[1:])) if isinstance(v, str) and v.startswith("@") else v

    def resolved(f: dict[str, Any]) -> dict[str, Any]:
        if KINDS[f["propertyName"]] != "id":
            return f
        return {k: ([fix(x) for x in v] if k == "values" else fix(v)) for k, v in f.items()}

    return [[resolved(f) for f in g] for g in groups]


def body_of(groups: list[list[dict[str, Any]]], sort: tuple[str, str] | None, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"filterGroups": [{"filters": g} for g in groups], **kw}
    if sort:
        body["sorts"] = [{"propertyName": sort[0], "direction": sort[1]}]
    return body


STORE = Store()


def groups_of(
    data: st.DataObject, recs: list[Rec], max_groups: int, max_filters: int
) -> list[list[dict[str, Any]]]:
    n = data.draw(st.integers(0, max_groups))
    groups = [
        [a_filter(data.draw, recs) for _ in range(data.draw(st.integers(0 if n > 1 else 1, max_filters)))]
        for _ in range(n)
    ]
    return resolve_ids(groups, recs)


@pytest.mark.parametrize("op", OPERATORS)
@settings(max_examples=40, deadline=None)
@given(records=st.lists(RECORD, max_size=10), data=st.data())
def test_each_operator_matches_the_reference(op: str, records: Any, data: st.DataObject) -> None:
    """One filter of one operator, its values mostly taken from the records: every operator and kind, sharply."""
    recs = load(STORE, records)
    groups = resolve_ids([[a_filter(data.draw, recs, op)]], recs)
    result = search_records(STORE, "contacts", body_of(groups, None, limit=200))
    assert [int(r["id"]) for r in result["results"]] == expected(recs, groups, None)


@settings(max_examples=200, deadline=None)
@given(st.lists(RECORD, max_size=10), st.data(), SORT, st.integers(1, 4))
def test_groups_sorts_and_pages_match_the_reference(
    records: Any, data: st.DataObject, sort: Any, size: int
) -> None:
    """Several groups of several filters, a sort, and the same result read page by page."""
    recs = load(STORE, records)
    groups = groups_of(data, recs, 3, 3)
    want = expected(recs, groups, sort)
    whole = search_records(STORE, "contacts", body_of(groups, sort, limit=200))
    assert whole["total"] == len(want)
    assert [int(r["id"]) for r in whole["results"]] == want
    got: list[int] = []
    after: str | None = None
    while True:
        page = search_records(STORE, "contacts", body_of(groups, sort, limit=size, after=after))
        assert page["total"] == len(want)
        got += [int(r["id"]) for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert got == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(RECORD, max_size=8), data=st.data(), sort=SORT)
def test_search_over_https_matches_the_reference(
    sandbox: SandboxServer, records: Any, data: st.DataObject, sort: Any
) -> None:
    # `load` empties the fixture's store at every example, so sharing it across examples is sound
    sandbox.state.set_limits(LimitConfig(hs_search_per_second=10_000, hs_ten_second_limit=100_000))
    recs = load(sandbox.store, records)
    groups = groups_of(data, recs, 3, 2)
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_path))
    with httpx.Client(
        base_url=sandbox.url, verify=ctx, headers={"Authorization": f"Bearer {sandbox.token}"}
    ) as c:
        r = c.post("/crm/v3/objects/contacts/search", json=body_of(groups, sort, limit=200))
    assert r.status_code == 200, r.text
    assert [int(x["id"]) for x in r.json()["results"]] == expected(recs, groups, sort)
