"""Canonical writeback values -> CRM payloads, and back again through translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mappings import (
    HubSpotMapping,
    Lead,
    SalesforceMapping,
    default_mapping,
    to_canonical,
    to_crm_payload,
)

SCORED_AT = datetime(2024, 5, 21, 9, 30, 15, 123456, tzinfo=UTC)


def test_salesforce_payload_is_typed_json(sf_mapping: SalesforceMapping) -> None:
    payload = to_crm_payload(
        "salesforce",
        {
            "score": 87.0,
            "tier": "a",
            "reasons": ["Partner referral (+15)", "Large company (+10)"],
            "recommended_action": "Call within 24h",
            "model_version": "gbm-2024-05-01",
            "scored_at": SCORED_AT,
            "review_decision": None,
            "override": 72.4,
        },
        sf_mapping,
    )
    assert payload == {
        "leadq_Score__c": 87,
        "leadq_Tier__c": "A",
        "leadq_Reasons__c": "Partner referral (+15)\nLarge company (+10)",
        "leadq_Action__c": "Call within 24h",
        "leadq_Model_Version__c": "gbm-2024-05-01",
        "leadq_Scored_At__c": "2024-05-21T09:30:15.123+0000",
        "leadq_Review_Decision__c": None,
        "leadq_Override_Score__c": 72,
    }
    assert isinstance(payload["leadq_Score__c"], int)


def test_hubspot_payload_is_strings(hs_mapping: HubSpotMapping) -> None:
    local = SCORED_AT.astimezone(timezone(timedelta(hours=-5)))
    payload = to_crm_payload(
        "hubspot",
        {"score": 87, "tier": "B", "scored_at": local, "review_decision": "Override", "override": None},
        hs_mapping,
    )
    assert payload == {
        "leadq_score": "87",
        "leadq_tier": "B",
        "leadq_scored_at": "2024-05-21T09:30:15.123Z",
        "leadq_review_decision": "override",
        "leadq_override_score": "",
    }


def test_text_is_cut_to_the_field_length_with_an_ellipsis(
    sf_mapping: SalesforceMapping, hs_mapping: HubSpotMapping
) -> None:
    long = "why " * 20_000
    sf = to_crm_payload("salesforce", {"reasons": long, "recommended_action": "x" * 300}, sf_mapping)
    assert len(sf["leadq_Reasons__c"]) == 32768 and str(sf["leadq_Reasons__c"]).endswith("…")  # type: ignore[arg-type]
    assert len(sf["leadq_Action__c"]) == 255  # type: ignore[arg-type]
    hs = to_crm_payload("hubspot", {"reasons": long, "model_version": "v" * 100}, hs_mapping)
    assert len(hs["leadq_reasons"]) == 65536  # type: ignore[arg-type]
    assert hs["leadq_model_version"] == "v" * 63 + "…"
    clean = to_crm_payload("salesforce", {"recommended_action": "call\x00 now\x1b"}, sf_mapping)
    assert clean["leadq_Action__c"] == "call now"


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"score": "87"}, "finite number"),
        ({"score": True}, "finite number"),
        ({"score": float("nan")}, "finite number"),
        ({"scored_at": "2024-01-01"}, "datetime"),
        ({"tier": "E"}, "not an option"),
        ({"reasons": 5}, "takes text"),
        ({"colour": "red"}, "unknown writeback slot"),
    ],
)
def test_values_of_the_wrong_type_are_caller_bugs(
    sf_mapping: SalesforceMapping, values: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        to_crm_payload("salesforce", values, sf_mapping)


def test_crm_and_mapping_must_agree(hs_mapping: HubSpotMapping) -> None:
    with pytest.raises(ValueError, match="cannot write"):
        to_crm_payload("salesforce", {"score": 1}, hs_mapping)


def _read_back(crm: str, payload: dict[str, object]) -> Lead:
    mapping = default_mapping(crm)
    raw: dict[str, Any] = (
        {"Id": "00Q000000000001AAA", **payload} if crm == "salesforce" else {"id": "1", "properties": payload}
    )
    result = to_canonical(crm, "Lead" if crm == "salesforce" else "contacts", raw, mapping)
    assert result.problems == []
    assert isinstance(result.record, Lead)
    return result.record


writeback_values = st.fixed_dictionaries(
    {},
    optional={
        "score": st.integers(0, 100),
        "tier": st.sampled_from(["A", "B", "C", "D"]),
        "reasons": st.text(
            st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=200
        ).filter(lambda s: s.strip() == s and s != ""),
        "recommended_action": st.text("abcdefgh ", min_size=1, max_size=40).map(lambda s: s.strip() or "x"),
        "model_version": st.from_regex(r"[a-z0-9.\-]{1,30}", fullmatch=True),
        "scored_at": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
        "review_decision": st.sampled_from(["approve", "reject", "override", None]),
        "override": st.one_of(st.none(), st.integers(0, 100)),
    },
)


@settings(max_examples=60, deadline=None)
@example(
    values={
        "recommended_action": "call  now",
        "override": None,
        "scored_at": SCORED_AT.replace(microsecond=0),
    },
    crm="hubspot",
)
@given(values=writeback_values, crm=st.sampled_from(["salesforce", "hubspot"]))
def test_writeback_round_trip(values: dict[str, object], crm: str) -> None:
    mapping = default_mapping(crm)
    lead = _read_back(crm, to_crm_payload(crm, values, mapping))
    # Numbers read back as floats; a cleared field (null, or "" in HubSpot) reads back as None.
    expected = {slot: float(v) if isinstance(v, int) else v for slot, v in values.items()}
    assert dict(lead.writeback) == expected
