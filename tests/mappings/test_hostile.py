"""Hostile raw records never make translation raise; every problem names its record and field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import (
    ConfigError,
    FieldProblem,
    Lead,
    Record,
    default_mapping,
    engagement_activities,
    parse_config,
    supported_objects,
    to_canonical,
    translate_batch,
)

NOW = datetime(2024, 6, 1, tzinfo=UTC)
SALESFORCE_FIELDS = [
    "IsDeleted",
    "SystemModstamp",
    "LastModifiedDate",
    "Name",
    "FirstName",
    "LastName",
    "Company",
    "Email",
    "Website",
    "Title",
    "OwnerId",
    "ConvertedAccountId",
    "CreatedDate",
    "IsConverted",
    "ConvertedDate",
    "ConvertedContactId",
    "ConvertedOpportunityId",
    "AccountId",
    "Type",
    "ParentId",
    "Industry",
    "NumberOfEmployees",
    "AnnualRevenue",
    "StageName",
    "IsWon",
    "IsClosed",
    "Amount",
    "CloseDate",
    "WhatId",
    "WhoId",
    "Subject",
    "Description",
    "TaskSubtype",
    "Status",
    "CompletedDateTime",
    "ActivityDate",
    "StartDateTime",
    "LeadId",
    "ContactId",
    "CampaignId",
    "FirstRespondedDate",
    "LeadSource",
    "Rating",
    "Country",
    "MailingCountry",
    "HasOptedOutOfEmail",
    "leadq_Score__c",
    "leadq_Tier__c",
    "leadq_Reasons__c",
    "leadq_Scored_At__c",
    "leadq_Review_Decision__c",
    "leadq_Override_Score__c",
    "leadq_Key__c",
]
HUBSPOT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "website",
    "jobtitle",
    "hs_analytics_source",
    "industry",
    "numemployees",
    "annualrevenue",
    "lifecyclestage",
    "hs_lead_status",
    "country",
    "hs_analytics_num_page_views",
    "hs_analytics_num_visits",
    "hs_email_optout",
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hubspot_owner_id",
    "associatedcompanyid",
    "name",
    "domain",
    "numberofemployees",
    "hs_parent_company_id",
    "dealname",
    "dealstage",
    "amount",
    "closedate",
    "hs_is_closed_won",
    "hs_is_closed",
    "hs_task_subject",
    "hs_task_body",
    "hs_task_status",
    "hs_task_type",
    "hs_timestamp",
    "hs_task_completion_date",
    "hs_note_body",
    "hs_createdate",
    "hs_lifecyclestage_opportunity_date",
    "leadq_score",
    "leadq_tier",
    "leadq_scored_at",
    "leadq_key",
    "leadq_review_decision",
    "num_conversion_events",
    "recent_conversion_date",
    "hs_email_open",
    "hs_email_last_open_date",
]

NASTY = [
    "", " ", "\t\n", "null", "None", "NaN", "nan", "inf", "-inf", "1e999", "-0", "1_000", "0x10", "1,000",
    "0000-00-00", "2024-02-30", "10000-01-01T00:00:00Z", "9999-12-31T23:59:59.999-12:00", "0001-01-01T00:00:00+14:00",
    "99999999999999999999999", "-62135596800001", "true", "TRUE", "yes", "maybe", "😀", "👩‍👩‍👧‍👦 family",
    "O'Brien \"quoted\" `tick`", "line1\nline2\r\nline3", "\x00\x07\x1b[31mred\x7f", "\u202eevil", "a@b", "@",
    "x@y.", "user@exam ple.com", "http://[::1", "https://", "ftp://acme.com/x", "Robert'); DROP TABLE leads;--",
    "\ud800lonely", "<script>alert(1)</script>", "%s%n%x", "Partner Referral", "organic_search", "closedwon",
    "Approve", "OVERRIDE", "[leadq:key-1]", "005000000000001AAA",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers(1_000, 50_000).map(lambda n: "y̆" * n),
    st.lists(st.sampled_from(NASTY), min_size=2, max_size=50).map("\n".join),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["id", "x", "Name"]), inner, max_size=2)
    ),
    max_leaves=3,
)
record_ids = st.one_of(
    st.sampled_from(["00Q000000000001AAA", "501", "12345"]), st.integers(0, 10**12), values
)


@st.composite
def salesforce_records(draw: st.DrawFn) -> Any:
    fields = draw(st.dictionaries(st.sampled_from(SALESFORCE_FIELDS), values, max_size=12))
    record: dict[str, Any] = {"Id": draw(record_ids), **fields}
    if draw(st.booleans()):
        record["Account"] = draw(
            st.one_of(values, st.dictionaries(st.sampled_from(["Name", "Industry", "Website"]), values))
        )
    return draw(st.one_of(st.just(record), st.just(record), values))


@st.composite
def hubspot_records(draw: st.DrawFn) -> Any:
    props = draw(st.dictionaries(st.sampled_from(HUBSPOT_PROPERTIES), values, max_size=12))
    associations = st.dictionaries(
        st.sampled_from(["contacts", "companies"]),
        st.one_of(values, st.fixed_dictionaries({"results": st.lists(st.one_of(values, st.fixed_dictionaries({"id": values})), max_size=3)})),
    )  # fmt: skip
    record: dict[str, Any] = {
        "id": draw(record_ids),
        "properties": draw(st.one_of(st.just(props), st.just(props), values)),
        "archived": draw(values),
        "updatedAt": draw(values),
        "associations": draw(st.one_of(associations, values)),
    }
    return draw(st.one_of(st.just(record), st.just(record), values))


def check(crm: str, object_name: str, raw: Any) -> None:
    mapping = default_mapping(crm)
    result = to_canonical(crm, object_name, raw, mapping, now=NOW)
    record_id = raw.get("Id" if crm == "salesforce" else "id") if isinstance(raw, dict) else None
    for problem in result.problems:
        assert isinstance(problem, FieldProblem)
        assert problem.field and isinstance(problem.field, str)
        assert problem.object == object_name
        assert problem.message
        assert str(problem)  # renders, whatever the value
    if result.record is None:
        # Quarantined as a whole: the last problem says so, naming the record as best it can.
        assert result.problems and result.problems[-1].quarantined
        quarantine = result.problems[-1]
        if quarantine.field == "properties":
            assert crm == "hubspot" and quarantine.record_id == str(record_id).strip()
        else:
            assert quarantine.record_id == "<no id>"
        return
    assert not any(problem.quarantined for problem in result.problems)
    record = result.record
    assert isinstance(record, Record)
    assert record.id == str(record_id).strip()
    assert all(problem.record_id == record.id for problem in result.problems)
    _check_values(record)
    if isinstance(record, Lead):
        for feature in mapping.features:
            if feature.name in record.fields:
                _check_feature(feature.type, feature.transform, record.fields[feature.name])
        if record.email:
            assert record.email.rpartition("@")[2] == record.email.rpartition("@")[2].lower()


def _check_values(record: Record) -> None:
    for name in record.__dataclass_fields__:
        value = getattr(record, name)
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), name
        if isinstance(value, str):
            assert not any(ord(c) < 32 and c not in "\t\n" for c in value), name
            assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value), name
        if isinstance(value, float):
            assert value == value and abs(value) != float("inf"), name


def _check_feature(kind: str, transform: str | None, value: object) -> None:
    if value is None:
        return
    expected = {"number": float, "boolean": bool, "category": str, "text": str, "date": datetime}[kind]
    assert isinstance(value, expected), (kind, value)


# Generating hostile data is the slow part, so each record goes through every object's translation.
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(raw=salesforce_records())
def test_salesforce_translation_never_raises(raw: Any) -> None:
    for object_name in supported_objects("salesforce"):
        check("salesforce", object_name, raw)


@FAST
@given(raw=hubspot_records())
def test_hubspot_translation_never_raises(raw: Any) -> None:
    for object_name in supported_objects("hubspot"):
        check("hubspot", object_name, raw)


@settings(max_examples=15, deadline=None)
@given(raws=st.lists(hubspot_records(), max_size=4))
def test_a_batch_keeps_every_record_with_an_id(raws: list[Any]) -> None:
    batch = translate_batch("hubspot", "contacts", raws, default_mapping("hubspot"), now=NOW)
    singles = [to_canonical("hubspot", "contacts", raw, default_mapping("hubspot"), now=NOW) for raw in raws]
    assert len(batch.records) == sum(1 for one in singles if one.record is not None)
    assert len(batch.problems) == sum(len(one.problems) for one in singles)


@settings(max_examples=40, deadline=None)
@given(raw=hubspot_records())
def test_engagement_counters_never_raise(raw: Any) -> None:
    result = engagement_activities(raw)
    assert all(activity.count >= 1 for activity in result.records)


yaml_ish = st.text(
    alphabet=st.sampled_from(list("abcsalesforcehubspot:-[]{}#'\"\n  \t0129.&*!|>%@`")), max_size=120
)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(yaml_ish, st.text(max_size=60)))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, resolve=False)
    except ConfigError as exc:
        assert exc.issues
        assert all(issue.message and issue.fix for issue in exc.issues)


def test_unusable_records_are_quarantined_with_a_reason_and_the_batch_goes_on() -> None:
    good = {"id": "501", "properties": {"email": "ann@acme.com", "hs_analytics_source": "TIKTOK"}}
    raws: list[Any] = [
        None,
        ["not", "a", "record"],
        {"properties": {"email": "x@y.com"}},
        {"id": "1 OR 1=1'", "properties": {}},
        {"id": "502", "properties": "email=x@y.com"},
        {"id": "503", "properties": None},
        good,
    ]
    batch = translate_batch("hubspot", "contacts", raws, default_mapping("hubspot"), now=NOW)
    assert [r.id for r in batch.records] == ["501"]
    quarantined = [(p.record_id, p.field) for p in batch.problems if p.quarantined]
    assert quarantined == [
        ("<record 0>", "<record>"),
        ("<record 1>", "<record>"),
        ("<record 2>", "id"),
        ("<record 3>", "id"),
        ("502", "properties"),
        ("503", "properties"),
    ]
    assert all(
        str(p).startswith("contacts ") and "record quarantined" in str(p)
        for p in batch.problems
        if p.quarantined
    )
    # A bad value is reported but costs only itself: the record is kept and named.
    (value_problem,) = [p for p in batch.problems if not p.quarantined]
    assert (value_problem.record_id, value_problem.field) == ("501", "hs_analytics_source")
