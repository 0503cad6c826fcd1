"""Activity aggregates and the feature frame: windows, decay, encoding, leaky fields, frozen categories."""

from __future__ import annotations

import importlib
import json
import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Account, Activity, Crm, FeatureSpec, Lead, default_mapping
from scoring.activity import ACTIVITY_COLUMNS, ActivityIndex
from scoring.features import FrameSchema, build_features
from scoring.graph import AccountGraph
from scoring.graph_features import GRAPH_COLUMNS

os.environ.setdefault("OMP_NUM_THREADS", "1")

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
SF: Crm = "salesforce"


def act(id_: str, who: str | None, days_ago: float, kind: str = "email", **kw: object) -> Activity:
    return Activity(crm=SF, id=id_, who_id=who, kind=kind, at=NOW - timedelta(days=days_ago), **kw)  # type: ignore[arg-type]


def spec(**data: Any) -> FeatureSpec:
    return FeatureSpec.model_validate(data)


FEATURES = [
    spec(
        name="lead_source",
        field="LeadSource",
        type="category",
        label="Lead source",
        categories=["Web", "Referral"],
    ),
    spec(name="employees", field="NumberOfEmployees", type="number", label="Employees"),
    spec(name="opted_out", field="HasOptedOutOfEmail", type="boolean", label="Opted out", missing=False),
    spec(name="last_seen", field="LastSeen__c", type="date", label="Last seen"),
    spec(name="title", field="Title", type="text", label="Job title"),
    spec(name="status", field={"Lead": "Status"}, type="category", leaky=True, explain=False),
    spec(name="rating", field="Rating", type="category", explain=False),
]


def lead(id_: str, **fields: object) -> Lead:
    return Lead(crm=SF, id=id_, email=f"{id_}@acme.com", fields=fields)  # type: ignore[arg-type]


def frame(leads: list[Lead], graph: AccountGraph | None = None, **kw: Any) -> Any:
    graph = graph or AccountGraph()
    return build_features(leads, graph=graph, features=FEATURES, crm=SF, now=NOW, **kw)


# ---- activity ----------------------------------------------------------------------------------------


def test_activity_windows_counts_and_pricing() -> None:
    index = ActivityIndex()
    index.update(
        [
            act("1", "P", 1, "email"),
            act("2", "P", 6.9, "email"),
            act("3", "P", 7.1, "email"),
            act("4", "P", 29, "call"),
            act("5", "P", 89, "meeting"),
            act("6", "P", 91, "meeting"),
            act("7", "P", 2, "web_visit", subject="Visited pricing page"),
            act("8", "P", 3, "web_visit", subject="Visited /pricing", count=3),
            act("9", "P", 4, "form_fill"),
            act("10", "P", 5, "campaign"),
            act("11", "P", -1, "email"),  # after now: ignored
            act("12", "Q", 0.5, "note"),
            act("13", "P", 1, "email", subject="Re: pricing question"),  # not a page visit
            act("14", "P", 1, "other", subject="Viewed page /pricing"),
        ]
    )
    agg = index.aggregate(SF, ["P", "Q", "nobody"], now=NOW)
    assert list(agg.columns) == list(ACTIVITY_COLUMNS) and (agg.dtypes == np.float64).all()
    p = agg.loc["P"]
    assert (p["emails_7d"], p["emails_30d"], p["emails_90d"]) == (3, 4, 4)
    assert (p["calls_7d"], p["calls_30d"]) == (0, 1)
    assert (p["meetings_30d"], p["meetings_90d"]) == (0, 1)
    assert (p["web_visits_7d"], p["pricing_visits_7d"], p["pricing_visits_30d"]) == (4, 5, 5)
    assert (p["form_fills_7d"], p["campaign_responses_7d"]) == (1, 1)
    assert p["days_since_last_activity"] == pytest.approx(1)
    assert math.isnan(float(agg["days_since_last_activity"]["Q"]))  # notes don't count
    assert agg.loc["nobody"].drop("days_since_last_activity").eq(0).all()


def test_engagement_decays_by_half_life() -> None:
    index = ActivityIndex()
    index.update([act("1", "P", 0, "email"), act("2", "R", 14, "email"), act("3", "S", 28, "meeting")])
    agg = index.aggregate(SF, ["P", "R", "S"], now=NOW, half_life_days=14)
    assert agg["engagement_score"].tolist() == pytest.approx([1.0, 0.5, 0.75])
    weighted = index.aggregate(SF, ["P"], now=NOW, weights={"email": 4.0})
    assert weighted.loc["P", "engagement_score"] == pytest.approx(4.0)


def test_activity_updates_replace_and_delete() -> None:
    index = ActivityIndex()
    changes = index.update([act("1", "P", 1), act("2", "P", 2)])
    assert changes.persons == {(SF, "P")} and len(index) == 2
    assert index.update([act("1", "P", 1)]).persons == set()  # the lookback window re-sends it
    changes = index.update([act("1", "Q", 1, "call")])  # reassigned to Q
    assert changes.persons == {(SF, "P"), (SF, "Q")} and len(index) == 2
    index.update([act("2", "P", 2, deleted=True), Activity(crm=SF, id="3", who_id="P")])  # no date: dropped
    agg = index.aggregate(SF, ["P", "Q"], now=NOW)
    assert agg.loc["P", "emails_7d"] == 0 and agg.loc["Q", "calls_7d"] == 1 and len(index) == 1
    assert len(index.timeline(SF, "Q")) == 1 and index.timeline(SF, "nobody").size == 0
    # Only the last version of an activity in one batch counts.
    index.update([act("9", "P", 1, "call"), act("9", "P", 1, "meeting")])
    assert index.aggregate(SF, ["P"], now=NOW).loc["P", "meetings_7d"] == 1


# ---- feature frame -------------------------------------------------------------------------------------


def test_encoding_dtypes_and_values() -> None:
    leads = [
        lead(
            "A",
            lead_source="web",
            employees=1200.0,
            opted_out=True,
            last_seen=NOW - timedelta(days=3),
            title="CEO",
        ),
        lead("B", lead_source="Referral", opted_out=None, title="  VP   Sales "),
        lead("C", lead_source="Partner", employees=float("inf")),
    ]
    ff = frame(leads)
    data = ff.data
    assert list(data.index) == ["A", "B", "C"]
    assert list(data.columns) == [
        "lead_source",
        "employees",
        "opted_out",
        "last_seen",
        "title",
        "rating",
        *ACTIVITY_COLUMNS,
        *GRAPH_COLUMNS,
    ]
    assert isinstance(data["lead_source"].dtype, pd.CategoricalDtype)
    assert list(data["lead_source"].cat.categories) == [
        "Web",
        "Referral",
        "Partner",
    ]  # config order, then seen
    assert data["lead_source"].tolist() == ["Web", "Referral", "Partner"]
    assert data["employees"].dtype == np.float64 and math.isnan(data.loc["C", "employees"])
    assert data["opted_out"].tolist() == [1.0, 0.0, 0.0]  # missing: false
    assert data.loc["A", "last_seen"] == pytest.approx(3.0) and math.isnan(data.loc["B", "last_seen"])
    assert data.loc["B", "title"] == "VP Sales"
    assert "status" not in data.columns


def test_leaky_fields_never_enter_unless_asked() -> None:
    leads = [lead("A", status="Closed - Converted")]
    assert "status" not in frame(leads).data.columns
    assert "status" not in frame(leads).columns
    assert frame(leads, exclude_leaky=False).data.loc["A", "status"] == "Closed - Converted"
    sf = build_features(leads, graph=AccountGraph(), features=default_mapping(SF).features, crm=SF, now=NOW)
    assert "lead_status" not in sf.data.columns


def test_column_info_and_words() -> None:
    graph = AccountGraph()
    graph.update(
        accounts=[Account(crm=SF, id="001A", name="Acme Corp", website="acme.com")],
        activities=[act(str(i), "A", 3, "web_visit", subject="Visited pricing page") for i in range(4)],
    )
    ff = frame(
        [lead("A", lead_source="Referral", employees=1200.0, last_seen=NOW - timedelta(days=2))], graph
    )
    info = ff.columns["employees"]
    assert (info.source, info.origin, info.kind, info.label) == (
        "NumberOfEmployees",
        "field",
        "number",
        "Employees",
    )
    assert ff.columns["rating"].explainable is False
    assert ff.describe("A", "lead_source") == "Lead source: Referral"
    assert ff.describe("A", "employees") == "Employees: 1,200"
    assert ff.describe("A", "opted_out") == "Opted out: no"
    assert ff.describe("A", "last_seen") == "Last seen: 2 days ago"
    assert ff.describe("A", "title") == "Job title: not set"
    assert ff.describe("A", "pricing_visits_30d") == "Pricing page visits (30 days): 4"
    assert (
        ff.columns["pricing_visits_30d"].source
        == ff.columns["pricing_visits_7d"].source
        == "activity:pricing_visits"
    )
    assert ff.describe("A", "matched") == "Belongs to account Acme Corp"
    assert ff.columns["colleagues_engaged_30d"].source == "graph:colleagues_engaged"


def test_completeness_counts_mapped_explainable_fields() -> None:
    ff = frame([lead("A", lead_source="Web", employees=5.0, title="CEO", rating="Hot"), lead("B")])
    # lead_source, employees, opted_out, last_seen, title count; rating (not explained) and status (leaky) don't.
    assert ff.completeness.to_dict() == {"A": pytest.approx(3 / 5), "B": 0.0}


def test_frozen_categories_make_train_and_score_agree() -> None:
    # Imported by name: scikit-learn ships no type information.
    ensemble = importlib.import_module("sklearn.ensemble")
    rng = np.random.default_rng(0)
    sources = ["Web", "Referral", "Partner", "Event"]
    train_leads = [
        lead(f"T{i}", lead_source=sources[i % 4], employees=float(rng.integers(1, 5000))) for i in range(200)
    ]
    train = frame(train_leads)
    schema = FrameSchema.from_dict(json.loads(json.dumps(train.schema().to_dict())))
    assert schema == train.schema()
    scored = frame([lead("S1", lead_source="partner"), lead("S2", lead_source="Trade Show")], schema=schema)
    assert list(scored.data.columns) == list(train.data.columns)
    assert list(scored.data["lead_source"].cat.categories) == list(train.data["lead_source"].cat.categories)
    assert scored.data.loc["S1", "lead_source"] == "Partner" and pd.isna(scored.data.loc["S2", "lead_source"])
    labels = np.array([i % 4 in (1, 2) for i in range(200)])
    usable = train.schema(drop_empty=True)
    assert "employees" in usable.columns and "last_seen" not in usable.columns
    model = ensemble.HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=10, random_state=0
    )
    model.fit(train.conform(usable).data, labels)
    assert model.predict_proba(scored.conform(usable).data).shape == (2, 2)


def test_conform_fills_missing_and_drops_extra_columns() -> None:
    ff = frame([lead("A", lead_source="Web")])
    schema = FrameSchema(("lead_source", "brand_new"), {"lead_source": ("Referral", "Web")})
    conformed = ff.conform(schema)
    assert list(conformed.data.columns) == ["lead_source", "brand_new"]
    assert list(conformed.data["lead_source"].cat.categories) == ["Referral", "Web"]
    assert math.isnan(conformed.data.loc["A", "brand_new"]) and "brand_new" in conformed.columns


def test_bad_calls_raise() -> None:
    with pytest.raises(ValueError, match="another CRM"):
        frame([Lead(crm="hubspot", id="1")])
    with pytest.raises(ValueError, match="clash"):
        build_features(
            [lead("A")],
            graph=AccountGraph(),
            features=[spec(name="matched", field="X", type="number")],
            crm=SF,
            now=NOW,
        )


def test_repeated_ids_keep_the_last_record() -> None:
    ff = frame([lead("A", employees=1.0), lead("A", employees=2.0)])
    assert ff.data["employees"].tolist() == [2.0]


_WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=30),
    st.sampled_from(
        ["🙂" * 50, "x" * 20_000, "2024-02-30", "2024-01-01T00:00:00", "", " ", "NaN", "1,200", "yes"]
    ),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.fixed_dictionaries({f.name: _WEIRD for f in FEATURES}), min_size=1, max_size=5),
    emails=st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=40),
            st.sampled_from(["foo@", "a@localhost", "b@[::1]", "c@bücher.de", "d@10.0.0.1"]),
        ),
        min_size=5,
        max_size=5,
    ),
    companies=st.lists(
        st.one_of(st.none(), st.text(max_size=40), st.just("🙂 Corp")), min_size=5, max_size=5
    ),
)
def test_hostile_leads_never_crash(
    values: list[dict[str, Any]], emails: list[str | None], companies: list[str | None]
) -> None:
    graph = AccountGraph()
    graph.update(accounts=[Account(crm=SF, id="001", name=companies[0], website=emails[1])])
    leads = [
        Lead(crm=SF, id=f"L{i}", email=emails[i], company=companies[i], domain=emails[-1], fields=fields)
        for i, fields in enumerate(values)
    ]
    graph.update(leads=leads[:2], activities=[act("1", "L0", 1, subject=companies[1])])
    ff = build_features(leads, graph=graph, features=FEATURES, crm=SF, now=NOW)
    assert len(ff.data) == len(leads)
    for column in ff.data.columns:
        assert isinstance(ff.describe("L0", column), str)
