"""The readers' shortcuts read every value exactly as the general readers do: same values, same problems.

The oracle is `reference_reading` (the readers before their shortcuts). Values are drawn to hit both sides
of every shortcut: plain and padded text, control characters, well-formed and malformed ids and stamps,
JSON types a field should not hold. A batch must also equal its records translated one at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import (
    CrmMapping,
    SalesforceMapping,
    default_mapping,
    parse_config,
    render_default_config,
    to_canonical,
    translate_batch,
)
from mappings.field_reader import FieldReader
from mappings.mapped import feature_values, task_key, writeback_values
from tests.mappings import reference_reading as ref
from tests.mappings.hostile_values import RATING_CATEGORIES
from tests.mappings.test_hostile import NASTY, hubspot_records, salesforce_records

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG = parse_config(
    render_default_config(
        crms=("salesforce", "hubspot"), sandbox_url="https://x.invalid", ca_bundle="/c.pem"
    ).replace(*next(iter(RATING_CATEGORIES.items()))),
    resolve=False,
)
MAPPINGS: dict[str, CrmMapping] = {
    "salesforce": CONFIG.salesforce or default_mapping("salesforce"),
    "hubspot": CONFIG.hubspot or default_mapping("hubspot"),
}
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
stamps = st.one_of(
    moments.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"),
    moments.map(lambda t: t.isoformat().replace("+00:00", "Z")),
    moments.map(lambda t: t.date().isoformat()),
    moments.map(lambda t: f" {t.isoformat()}\n"),
    st.integers(0, 4 * 10**12).map(str),
)
ids = st.one_of(
    st.sampled_from(["00Q5g00000004miEAA", "501", " 501 ", "a b", "", "x" * 256, "00Q\n", "id:1.2-3_4"]),
    st.text(st.sampled_from("aZ09_-.: \t\n\x00é"), max_size=20),
)
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.sampled_from("ab \t\n\r\x0b\x1c\x85\xa0\u2028\u200b\x00\x7f\ud800"), max_size=12),
    st.sampled_from(["a" * 1000, "a" * 1001, " " + "b" * 1000, "  web   FORM ", "Hot", " hot ", "HOT"]),
)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(), st.sampled_from(NASTY),
    texts, stamps, ids, st.lists(st.integers(), max_size=2), st.dictionaries(st.just("id"), st.integers()),
)  # fmt: skip
METHODS: list[tuple[str, dict[str, Any]]] = [
    ("text", {}), ("text", {"single_line": False}), ("number", {}), ("boolean", {}),
    ("boolean", {"default": True}), ("timestamp", {}), ("calendar_date", {}), ("id", {}), ("email", {}),
    ("domain", {}),
]  # fmt: skip


def _readers(crm: str, raw: dict[str, Any]) -> tuple[FieldReader, ref.ReferenceReader]:
    return FieldReader(crm, raw, "r1", "Lead"), ref.ReferenceReader(crm, raw, "r1", "Lead")


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(value=values, crm=st.sampled_from(["salesforce", "hubspot"]), method=st.sampled_from(METHODS))
def test_every_field_reader_agrees_with_the_general_readers(value: Any, crm: str, method: Any) -> None:
    name, kwargs = method
    raw: dict[str, Any] = {"F": value} if crm == "salesforce" else {"properties": {"F": value}}
    fast, slow = _readers(crm, raw)
    got = getattr(fast, name)("F", **kwargs)
    want = getattr(slow, name)("F", **kwargs)
    assert got == want and type(got) is type(want)
    assert fast.problems == slow.problems
    assert getattr(fast, name)("Absent", **kwargs) == getattr(slow, name)("Absent", **kwargs)


@given(value=values)
def test_dotted_paths_read_flattened_keys_and_nested_objects(value: Any) -> None:
    # The Salesforce connector flattens `Account.Name` into one key; nested objects are walked.
    for raw in ({"Account": {"Name": value}}, {"Account.Name": value}, {"Account": value}):
        fast, slow = _readers("salesforce", raw)
        assert fast.get("Account.Name") is slow.get("Account.Name")
        assert fast.text("Account.Name") == slow.text("Account.Name")
        assert fast.problems == slow.problems
    fast, _ = _readers("salesforce", {"Account.Name": value})
    assert fast.get("Account.Name") is value
    assert fast.has("Account.Name")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(salesforce_records(), hubspot_records()), extra=st.dictionaries(st.sampled_from(
    ["Rating", "LeadSource", "Country", "CreatedDate", "Email", "leadq_Score__c", "leadq_Review_Decision__c",
     "leadq_Key__c", "Description"]), values))  # fmt: skip
def test_features_and_writeback_values_match_the_reference(raw: Any, extra: dict[str, Any]) -> None:
    if not isinstance(raw, dict):
        return
    crm = "salesforce" if "Id" in raw else "hubspot"
    if crm == "salesforce":
        raw = {**raw, **extra}
    elif not isinstance(raw.get("properties"), dict):
        return
    mapping = MAPPINGS[crm]
    for obj in ("Lead", "Contact", "contacts", "Task"):
        fast, slow = FieldReader(crm, raw, "r1", obj), ref.ReferenceReader(crm, raw, "r1", obj)
        assert feature_values(fast, mapping, NOW) == ref.feature_values(slow, mapping, NOW)
        for task in (False, True):
            assert writeback_values(fast, mapping, task=task) == ref.writeback_values(
                slow, mapping, task=task
            )
        assert fast.problems == slow.problems


def test_category_shortcuts_keep_the_admins_spelling_and_report_unknown_values() -> None:
    mapping = MAPPINGS["salesforce"]
    assert isinstance(mapping, SalesforceMapping)
    raw = {"Id": "00Q5g00000004miEAA", "Rating": "  hot ", "LeadSource": "  web   FORM ", "Country": "Mars"}
    fast = FieldReader("salesforce", {**raw, "Rating": "Lukewarm"}, "r1", "Lead")
    values = feature_values(FieldReader("salesforce", raw, "r1", "Lead"), mapping, NOW)
    assert values["rating"] == "Hot" and values["country"] == "Mars"
    assert feature_values(fast, mapping, NOW)["rating"] == "Lukewarm"
    [problem] = fast.problems
    assert (problem.field, problem.value) == ("Rating", "Lukewarm")
    assert problem.message.startswith("feature rating: value not in the feature's categories")


def test_task_key_comes_from_the_key_field_then_the_marker() -> None:
    mapping = MAPPINGS["salesforce"]
    marked = {"Description": "see [leadq:abc-1]", "Subject": "x"}
    assert (
        task_key(FieldReader("salesforce", marked, "t", "Task"), mapping, "Description", "Subject") == "abc-1"
    )
    keyed = {**marked, "leadq_Key__c": " k-2 "}
    assert task_key(FieldReader("salesforce", keyed, "t", "Task"), mapping, "Description", "Subject") == "k-2"


def _org_like(n: int) -> list[dict[str, Any]]:
    """A page of Tasks shaped like the connector's (flattened, Bulk-typed), every field varied."""
    out: list[dict[str, Any]] = []
    base = datetime(2026, 8, 12, 16, 56, tzinfo=UTC)
    for i in range(n):
        stamp = (base - timedelta(hours=7 * i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        out.append({
            "IsDeleted": i % 11 == 0, "SystemModstamp": stamp, "CreatedDate": stamp, "OwnerId": f"0055g00000000{i % 7}AAA",
            "Subject": ["Visited pricing page", "Call: intro", "Email: follow up", "  Meeting\tprep ", None][i % 5],
            "Description": None if i % 3 else f"notes [leadq:key-{i}]", "Status": ["Completed", "Open", None][i % 3],
            "IsClosed": i % 2 == 0, "Type": ["Web Visit", "Call", "Email", None, "Other"][i % 5],
            "TaskSubtype": ["Task", "Email", "Call"][i % 3], "WhoId": f"0035g{i:013d}" if i % 13 else None,
            "WhatId": ["0015g000000000rAAA", "0065g00000000f9AAA", None][i % 3],
            "ActivityDate": stamp[:10] if i % 4 else None, "CompletedDateTime": stamp if i % 2 == 0 else None,
            "leadq_Key__c": None, "leadq_Review_Decision__c": ["Approve", "nope", None][i % 3],
            "Id": f"00T5g{i:013d}" if i % 17 else ["", None, "bad id"][i % 3],
        })  # fmt: skip
    return out


def test_a_large_batch_equals_its_records_translated_one_by_one() -> None:
    raws = _org_like(3000)
    for obj in ("Task", "Event", "Lead"):
        batch = translate_batch("salesforce", obj, raws, MAPPINGS["salesforce"], now=NOW)
        singles = [
            to_canonical("salesforce", obj, r, MAPPINGS["salesforce"], now=NOW, position=i)
            for i, r in enumerate(raws)
        ]
        assert batch.records == [s.record for s in singles if s.record is not None]
        assert batch.problems == [p for s in singles for p in s.problems]
        assert any(p.quarantined for p in batch.problems) and len(batch.records) > 2500
