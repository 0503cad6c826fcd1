"""`Row` reads as the dict it replaces, and translated records hold rows equal to the dicts they held.

The oracle for a row is the dict of the same items: every answer a reader can ask of `Lead.fields` (equality
both ways and with other mappings, lookups, order, views, repr, pickling, copies) is compared with the
dict's. The oracle for translated records is `reference_reading.feature_values`, the plain-dict reading of
the features before the readers' shortcuts (and before rows).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Contact, CrmMapping, FeatureValue, Lead, Row, to_canonical, values_of
from mappings.rows import row_index
from tests.mappings import reference_reading as ref
from tests.mappings.test_hostile import hubspot_records, salesforce_records
from tests.mappings.test_translate_fast import MAPPINGS

NOW = datetime(2026, 11, 1, tzinfo=UTC)
NAN = float("nan")  # one object: equal to itself in a container (identity first), as in a dict
keys = st.sampled_from(["a", "b", "industry", "employees", "rating", "", "é", "lead.x", "1"])
feature_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.just(NAN),
    st.just(-0.0), st.text(max_size=5),
)  # fmt: skip
dicts = st.dictionaries(keys, feature_values, max_size=8)


def _round_trip(value: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Any:
    return pickle.loads(pickle.dumps(value, protocol))  # noqa: S301 (bytes this test has just made)


def _same_answers(row: Row[Any], d: dict[str, Any]) -> None:
    assert list(row) == list(d) and len(row) == len(d) and list(reversed(row)) == list(reversed(d))
    assert list(row.keys()) == list(d.keys()) and row.keys() == d.keys()
    assert list(row.values()) == list(d.values()) and len(row.values()) == len(d)
    assert list(row.items()) == list(d.items()) and row.items() == d.items() and len(row.items()) == len(d)
    assert repr(row) == repr(d) and str(row) == str(d)
    assert dict(row) == d and {**row} == d and dict(row.items()) == d
    for key in ["a", "b", "industry", "absent"]:
        assert (key in row) == (key in d)
        assert row.get(key) is d.get(key) and row.get(key, "x") is d.get(key, "x")
        if key in d:
            assert row[key] is d[key]
            assert (key, d[key]) in row.items() and d[key] in row.values()
        else:
            with pytest.raises(KeyError) as missing:
                row[key]
            assert missing.value.args == (key,)


@given(d=dicts)
def test_a_row_answers_as_its_dict(d: dict[str, Any]) -> None:
    row = Row.of(d)
    _same_answers(row, d)
    assert Row.of(d.items()) == row and Row.of(row) == row
    with pytest.raises(TypeError):
        hash(row)


@given(d=dicts, other=dicts, shuffle=st.randoms(use_true_random=False))
def test_a_row_equals_what_its_dict_equals_both_ways(
    d: dict[str, Any], other: dict[str, Any], shuffle: Any
) -> None:
    row, other_row = Row.of(d), Row.of(other)
    items = list(d.items())
    shuffle.shuffle(items)
    reordered = dict(items)  # equal to `d` (dicts ignore order), its row has another index
    for candidate in (other, reordered, d, MappingProxyType(other), MappingProxyType(d)):
        want = d == candidate
        assert (row == candidate) is want and (candidate == row) is want
        assert (row != candidate) is not want and (candidate != row) is not want
    for candidate_row, as_dict in ((other_row, other), (Row.of(reordered), reordered), (Row.of(d), d)):
        assert (row == candidate_row) is (d == as_dict) and (candidate_row == row) is (as_dict == d)
    not_mappings: list[object] = [list(d.items()), tuple(d), None, 1, str(d)]
    for not_a_mapping in not_mappings:
        assert (row == not_a_mapping) is (d == not_a_mapping)
        assert (row != not_a_mapping) is (d != not_a_mapping)


@given(d=dicts)
def test_rows_pickle_and_copy_as_their_dicts_and_share_their_index_again(d: dict[str, Any]) -> None:
    row = Row.of(d)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = _round_trip(row, protocol)
        # As a dict's copy: equal, but for a NaN (a copy is another NaN object, not equal to the first).
        assert type(back) is Row and (back == row) is (_round_trip(d, protocol) == d)
        assert repr(back) == repr(d) and list(back) == list(d)
        assert back._index is row._index  # one index for all the rows of a key order, also unpickled
    assert copy.copy(row) == row and (copy.deepcopy(row) == d) is (copy.deepcopy(d) == d)
    [first, second] = _round_trip([row, Row.of(d)])
    assert first._index is second._index


def test_a_row_is_built_of_an_index_and_values_of_the_same_length() -> None:
    index = row_index(("a", "b"))
    assert index is row_index(("a", "b")) and Row(index, (1, 2)) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="2 keys given 1 values"):
        Row(index, (1,))
    with pytest.raises(ValueError, match="distinct"):
        row_index(("a", "a"))
    assert Row.of({}) == {} and repr(Row.of({})) == "{}" and not Row.of({})


@given(
    mappings=st.lists(
        st.one_of(dicts, dicts.map(Row.of), st.just({"a": 1}).map(MappingProxyType)), max_size=6
    ),
    names=st.lists(keys, max_size=4),
)
def test_values_of_reads_each_mapping_as_its_get_does(
    mappings: list[Mapping[str, Any]], names: list[str]
) -> None:
    got = values_of(mappings, names)
    assert got == [tuple(map(m.get, names)) for m in mappings]
    assert all(type(values) is tuple for values in got)


def test_records_holding_a_row_or_its_dict_are_equal_and_callers_may_still_pass_dicts() -> None:
    values: dict[str, FeatureValue] = {"industry": "Retail", "employees": 12.0, "rating": None}
    lead = Lead(crm="salesforce", id="00Q1", fields=Row.of(values))
    assert lead == Lead(crm="salesforce", id="00Q1", fields=values) and hash(lead) == hash(replace(lead))
    assert {lead} == {replace(lead, fields=values)}
    edited = replace(lead, fields={**lead.fields, "rating": "Hot"})
    assert type(edited.fields) is dict and edited.fields == {**values, "rating": "Hot"}
    assert _round_trip(lead) == lead and copy.deepcopy(lead) == lead
    assert repr(lead) == repr(replace(lead, fields=values))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(salesforce_records(), hubspot_records()))
def test_translated_people_hold_rows_equal_to_the_dicts_the_plain_reading_gives(raw: Any) -> None:
    if not isinstance(raw, dict):
        return
    crm = "salesforce" if "Id" in raw else "hubspot"
    mapping: CrmMapping = MAPPINGS[crm]
    for obj in ("Lead", "Contact") if crm == "salesforce" else ("contacts",):
        result = to_canonical(crm, obj, raw, mapping, now=NOW)
        if not isinstance(result.record, Lead):
            continue
        fields = result.record.fields
        want = ref.feature_values(ref.ReferenceReader(crm, raw, result.record.id, obj), mapping, NOW)
        assert type(fields) is Row and fields == want and want == fields
        assert list(fields.items()) == list(want.items()) and repr(fields) == repr(want)
        # Every record of an object shares its keys: one index, held by the object's plan.
        twin = to_canonical(crm, obj, raw, mapping, now=NOW).record
        assert isinstance(twin, Lead) and isinstance(twin.fields, Row) and twin.fields._index is fields._index


def test_a_contact_row_lacks_the_lead_only_features() -> None:
    mapping = MAPPINGS["salesforce"]
    raw = {"Id": "0035g00000000U8AAI", "Email": "a@b.com", "Status": "Open", "NumberOfEmployees": 128}
    lead = to_canonical("salesforce", "Lead", raw, mapping, now=NOW).record
    contact = to_canonical("salesforce", "Contact", raw, mapping, now=NOW).record
    assert isinstance(lead, Lead) and isinstance(contact, Contact)
    assert "lead_status" in lead.fields and "lead_status" not in contact.fields
    assert contact.fields.get("lead_status") is None and lead.fields["employees"] == 128.0
    assert values_of([lead.fields, contact.fields], ["lead_status", "employees"]) == [
        (lead.fields["lead_status"], 128.0),
        (None, contact.fields["employees"]),  # a contact's head count is its account's
    ]
