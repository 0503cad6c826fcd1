"""The feature frame equals, value for value, the one the per-value definition (tests/scoring/features_oracle.py)
built: same columns, dtypes, categories and their order, index, context objects, completeness and errors."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Account, Activity, Contact, Crm, FeatureSpec, Lead, Opportunity
from scoring.features import FeatureFrame, FrameSchema, build_features
from scoring.graph import AccountGraph
from tests.scoring import features_oracle as oracle

os.environ.setdefault("OMP_NUM_THREADS", "1")

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
SF: Crm = "salesforce"


def spec(**data: Any) -> FeatureSpec:
    return FeatureSpec.model_validate(data)


FEATURES = [
    spec(name="source", field="LeadSource", type="category", categories=["Web", "web ", "Referral"]),
    spec(name="industry", field={"Lead": "Industry", "Contact": "Account.Industry"}, type="category",
         values={"tech": "Technology", "software": "Technology"}),
    spec(name="title", field="Title", type="text"),
    spec(name="employees", field="NumberOfEmployees", type="number", missing=0),
    spec(name="revenue", field={"Lead": "AnnualRevenue"}, type="number", missing={"default": 7}),
    spec(name="opted_out", field="HasOptedOutOfEmail", type="boolean", missing=False),
    spec(name="trial", field={"Contact": "Trial__c"}, type="boolean", missing=True),
    spec(name="last_seen", field="LastSeen__c", type="date"),
    spec(name="first_seen", field={"Lead": "FirstSeen__c"}, type="date", missing={"default": "2024-01-01"}),
    spec(name="country", field={"Lead": "Country"}, type="category", missing={"default": "Nowhere"}),
    spec(name="status", field={"Lead": "Status"}, type="category", leaky=True, explain=False),
    spec(name="rating", field="Rating", type="category", explain=False),
]  # fmt: skip

_WORDS = [
    "Web",
    "web",
    " WEB ",
    "Referral",
    "referral",
    "Partner",
    "tech",
    "Straße",
    "STRASSE",
    "a  b",
    "a b",
]
_VALUES = st.one_of(
    st.none(),
    st.sampled_from(_WORDS),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 12.0, 1e300, float("nan")]),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=12),
    st.sampled_from(["", "  ", "NaN", "1,200", "yes", "Off", "2024-02-30", "2024-01-01T00:00:00", "x" * 150]),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.dates(),
)


@st.composite
def _people(draw: st.DrawFn) -> list[Lead]:
    count = draw(st.integers(min_value=0, max_value=12))
    people: list[Lead] = []
    for _ in range(count):
        fields = draw(st.dictionaries(st.sampled_from([f.name for f in FEATURES]), _VALUES, max_size=8))
        kind = Contact if draw(st.booleans()) else Lead
        people.append(
            kind(
                crm=SF,
                id=draw(st.sampled_from([f"P{i}" for i in range(10)])),  # repeats: the last record wins
                email=draw(st.sampled_from([None, "jo@acme.com", "al@globex.io", "x@gmail.com"])),
                company=draw(st.sampled_from([None, "Acme", "Globex Inc", "Initech"])),
                account_id=draw(st.sampled_from([None, "001A", "001B", "001C", "001Z"])),
                fields=fields,
            )
        )
    return people


def _graph(people: list[Lead], known: int) -> AccountGraph:
    graph = AccountGraph()
    graph.update(
        accounts=[
            Account(crm=SF, id="001A", name="Acme", website="acme.com", is_customer=True, owner_id="005X"),
            Account(crm=SF, id="001B", name="Globex", website="globex.io", parent_id="001A"),
            Account(crm=SF, id="001C", name="Initech", parent_id="001A"),
        ],
        opportunities=[
            Opportunity(crm=SF, id="006A", account_id="001A", is_closed=True, is_won=True),
            Opportunity(crm=SF, id="006B", account_id="001B"),
        ],
        activities=[
            Activity(crm=SF, id=f"T{i}", who_id=f"P{i}", kind="email", at=NOW - timedelta(days=10 * i))
            for i in range(6)
        ],
    )
    graph.update(leads=[p for p in people[:known] if p.kind == "lead"],
                 contacts=[p for p in people[:known] if p.kind == "contact"])  # fmt: skip
    return graph


def _assert_same(new: FeatureFrame, old: FeatureFrame) -> None:
    pd.testing.assert_frame_equal(new.data, old.data, check_exact=True)
    for name in new.data.columns:
        column = new.data[name]
        if column.dtype == np.float64:  # -0.0 and 0.0 compare equal: their signs must agree too
            assert np.array_equal(np.signbit(column.to_numpy()), np.signbit(old.data[name].to_numpy()))
    pd.testing.assert_frame_equal(new.context, old.context, check_exact=True)
    # assert_frame_equal takes None and NaN for one another: the context's missing values must match.
    assert [[type(v) for v in row] for row in new.context.to_numpy().tolist()] == [
        [type(v) for v in row] for row in old.context.to_numpy().tolist()
    ]
    pd.testing.assert_series_equal(new.completeness, old.completeness, check_exact=True)
    assert list(new.columns.items()) == list(old.columns.items())
    assert new.now == old.now


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=_people(),
    known=st.integers(min_value=0, max_value=12),
    exclude_leaky=st.booleans(),
    max_categories=st.sampled_from([0, 1, 2, 3, 250]),
    frozen=st.none()
    | st.dictionaries(st.sampled_from([f.name for f in FEATURES]), st.lists(st.sampled_from(_WORDS))),
)
def test_frame_equals_the_per_value_definition(
    people: list[Lead],
    known: int,
    exclude_leaky: bool,
    max_categories: int,
    frozen: dict[str, list[str]] | None,
) -> None:
    graph = _graph(people, known)
    kw: dict[str, Any] = {"features": FEATURES, "crm": SF, "now": NOW, "exclude_leaky": exclude_leaky}
    new = build_features(people, graph=graph, max_categories=max_categories, **kw)
    old = oracle.build_features(people, graph=graph, max_categories=max_categories, **kw)
    _assert_same(new, old)
    if frozen is not None:  # a model's schema: its columns (some unknown here) and category orders
        schema = FrameSchema(
            (*frozen, "brand_new", *new.data.columns[:5]), {k: tuple(v) for k, v in frozen.items()}
        )
        _assert_same(new.conform(schema), oracle.conform(old, schema))
        _assert_same(build_features(people, graph=graph, schema=schema, **kw),
                     oracle.build_features(people, graph=graph, schema=schema, **kw))  # fmt: skip


def test_naive_now_and_a_real_sized_batch_agree() -> None:
    words = ["Web", "web", "Referral", None, "  ", "Partner", "Event"]
    people = [
        (Contact if i % 3 == 0 else Lead)(
            crm=SF,
            id=f"L{i}",
            company=["Acme", "Globex Inc", None][i % 3],
            fields={
                "source": words[i % len(words)],
                "industry": ["tech", "Software", None][i % 3],
                "title": f"VP   Sales {i % 17 if i % 5 else i % 3}",
                "employees": [float(i), None, math.nan, math.inf][i % 4],
                "opted_out": [True, False, None][i % 3],
                "last_seen": NOW - timedelta(days=i % 40),
                "first_seen": [datetime(2024, 1, i % 28 + 1), None][i % 2],  # naive: read as UTC
                "country": ["Germany", "germany ", None][i % 3],
            },
        )
        for i in range(400)
    ]
    graph = _graph(people, 200)
    naive = NOW.replace(tzinfo=None)
    for max_categories in (250, 3):  # few: which texts are most frequent decides the categories
        kw: dict[str, Any] = {"features": FEATURES, "crm": SF, "now": naive, "max_categories": max_categories}
        _assert_same(
            build_features(people, graph=graph, **kw), oracle.build_features(people, graph=graph, **kw)
        )


@pytest.mark.parametrize(
    ("people", "features"),
    [
        ([Lead(crm=SF, id="A"), Lead(crm="hubspot", id="B")], FEATURES),
        ([Lead(crm=SF, id="A")], [*FEATURES, spec(name="matched", field="X", type="number")]),
        ([Lead(crm=SF, id="A")], [spec(name="engagement_score", field="X", type="number")]),
    ],
)
def test_errors_are_the_same(people: list[Lead], features: list[FeatureSpec]) -> None:
    with pytest.raises(ValueError) as new:
        build_features(people, graph=AccountGraph(), features=features, crm=SF, now=NOW)
    with pytest.raises(ValueError) as old:
        oracle.build_features(people, graph=AccountGraph(), features=features, crm=SF, now=NOW)
    assert str(new.value) == str(old.value)
