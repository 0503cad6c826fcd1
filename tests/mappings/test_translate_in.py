"""CRM records -> canonical records: wire types, picklists, dates, problems per field, batches."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from mappings import (
    Account,
    Activity,
    Contact,
    HubSpotMapping,
    Lead,
    Opportunity,
    SalesforceMapping,
    Task,
    engagement_activities,
    supported_objects,
    to_canonical,
    translate_batch,
)
from tests.conftest import REFERENCE

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def sf_lead(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "attributes": {"type": "Lead", "url": "/services/data/v59.0/sobjects/Lead/00Q000000000001AAA"},
        "Id": "00Q000000000001AAA",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Analytical Engines",
        "Email": "Ada@Engines.EXAMPLE.com",
        "Title": "  CTO \n",
        "LeadSource": "  web   FORM ",
        "Industry": "Technology",
        "NumberOfEmployees": 250,
        "AnnualRevenue": 12000000.0,
        "Rating": "hot",
        "Status": "Open - Not Contacted",
        "Country": "USA",
        "HasOptedOutOfEmail": False,
        "CreatedDate": "2024-05-01T10:00:00.000+0000",
        "SystemModstamp": "2024-05-20T08:30:00.000+0000",
        "OwnerId": "005000000000001AAA",
        "IsConverted": False,
        "IsDeleted": False,
    }
    return {**base, **fields}


def hs_contact(**properties: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "email": "Grace@Navy.EXAMPLE.org",
        "firstname": "Grace",
        "lastname": "Hopper",
        "company": "US Navy",
        "jobtitle": "Rear Admiral",
        "hs_analytics_source": "organic_search",
        "industry": "Government",
        "numemployees": "1000+",
        "annualrevenue": "5000000.5",
        "lifecyclestage": "opportunity",
        "hs_lifecyclestage_opportunity_date": "1714557600000",
        "country": "US",
        "hs_analytics_num_page_views": "42",
        "hs_analytics_num_visits": None,
        "hs_email_optout": "false",
        "createdate": "2024-05-01T10:00:00.000Z",
        "lastmodifieddate": "2024-05-20T08:30:00.123Z",
        "hubspot_owner_id": "123",
        "associatedcompanyid": "9001",
    }
    return {"id": "501", "properties": {**props, **properties}, "archived": False}


def test_salesforce_lead(sf_mapping: SalesforceMapping) -> None:
    result = to_canonical("salesforce", "Lead", sf_lead(), sf_mapping, now=NOW)
    assert result.problems == []
    lead = result.record
    assert isinstance(lead, Lead) and not isinstance(lead, Contact)
    assert lead.kind == "lead"
    assert lead.email == "Ada@engines.example.com"
    assert lead.domain == "engines.example.com"
    assert lead.name == "Ada Lovelace"
    assert lead.title == "CTO"
    assert lead.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert lead.modified_at == datetime(2024, 5, 20, 8, 30, tzinfo=UTC)
    assert lead.fields == {
        "lead_source": "Web",  # value map: case and whitespace do not matter
        "industry": "Technology",
        "title": "CTO",
        "employees": 250.0,
        "annual_revenue": 12_000_000.0,
        "rating": "hot",
        "lead_status": "Open - Not Contacted",
        "country": "United States",
        "email_opt_out": False,
        "lead_age_days": 30.58,
        "email_domain": "engines.example.com",
        "free_email": False,
    }


def test_salesforce_contact_reads_parent_account_paths(sf_mapping: SalesforceMapping) -> None:
    raw = {
        "Id": "003000000000001AAA",
        "AccountId": "001000000000001AAA",
        "Email": "bob@gmail.com",
        "MailingCountry": "UK",
        "Account": {
            "attributes": {"type": "Account"},
            "Name": "Acme",
            "Industry": "Retail",
            "Website": "acme.io",
        },
        "CreatedDate": "2024-01-01",
    }
    result = to_canonical("salesforce", "Contact", raw, sf_mapping, now=NOW)
    contact = result.record
    assert isinstance(contact, Contact) and contact.kind == "contact"
    assert (contact.company, contact.domain, contact.account_id) == ("Acme", "acme.io", "001000000000001AAA")
    assert contact.fields["industry"] == "Retail"
    assert contact.fields["employees"] is None
    assert contact.fields["country"] == "United Kingdom"
    assert contact.fields["free_email"] is True
    assert "lead_status" not in contact.fields  # Lead-only feature
    assert result.problems == []


def test_salesforce_converted_lead_and_writeback_values(sf_mapping: SalesforceMapping) -> None:
    raw = sf_lead(
        IsConverted=True,
        ConvertedDate="2024-05-10",
        ConvertedOpportunityId="006000000000001AAA",
        leadq_Score__c=87.0,
        leadq_Tier__c="A",
        leadq_Scored_At__c="2024-05-21T00:00:00.000+0000",
        leadq_Review_Decision__c="Approve",
        leadq_Override_Score__c=None,
    )
    lead = to_canonical("salesforce", "Lead", raw, sf_mapping, now=NOW).record
    assert isinstance(lead, Lead)
    assert lead.is_converted and lead.converted_at == datetime(2024, 5, 10, tzinfo=UTC)
    assert lead.converted_opportunity_id == "006000000000001AAA"
    assert lead.writeback == {
        "score": 87.0,
        "tier": "A",
        "scored_at": datetime(2024, 5, 21, tzinfo=UTC),
        "review_decision": "approve",
        "override": None,
    }
    assert lead.writeback_raw["score"] == 87.0 and "reasons" not in lead.writeback_raw


def test_people_never_written_to_share_one_writeback_mapping(sf_mapping: SalesforceMapping) -> None:
    unwritten = [sf_lead(Id=f"00Q00000000000{n}AAA", leadq_Score__c=None) for n in range(3)]
    scored = sf_lead(Id="00Q000000000009AAA", leadq_Score__c=87.0)
    people = translate_batch("salesforce", "Lead", [*unwritten, scored], sf_mapping, now=NOW).records
    assert all(isinstance(p, Lead) for p in people)
    first, *others, written = cast(list[Lead], people)
    # The same slots, all None: one mapping for both attributes of every such person (two dicts a person
    # were ~540 bytes of the ~4.6 KB the world holds per person).
    assert dict(first.writeback) == dict.fromkeys(first.writeback) and first.writeback
    assert all(
        p.writeback is first.writeback and p.writeback_raw is first.writeback for p in [first, *others]
    )
    assert written.writeback["score"] == 87.0 and written.writeback is not first.writeback
    assert written.writeback_raw is not written.writeback


def test_bad_values_become_problems_and_read_as_missing(sf_mapping: SalesforceMapping) -> None:
    raw = sf_lead(
        NumberOfEmployees="lots",
        CreatedDate="2024-13-45",
        Email="not-an-email",
        HasOptedOutOfEmail="perhaps",
        OwnerId={"x": 1},
        leadq_Score__c="high",
    )
    result = to_canonical("salesforce", "Lead", raw, sf_mapping, now=NOW)
    lead = result.record
    assert isinstance(lead, Lead)
    assert lead.fields["employees"] is None
    assert lead.fields["email_opt_out"] is False  # missing: false
    assert lead.email is None and lead.owner_id is None and lead.created_at is None
    problems = {(p.field, p.message.split(":")[0]) for p in result.problems}
    assert ("NumberOfEmployees", "feature employees") in problems
    assert ("CreatedDate", "not a valid date or date-time") in problems
    assert ("Email", "not an email address") in problems
    assert ("OwnerId", "not a valid record id") not in problems  # a dict is not an id at all
    assert ("leadq_Score__c", "score") in problems
    assert all(p.record_id == "00Q000000000001AAA" and p.object == "Lead" for p in result.problems)
    assert all(str(p).startswith("Lead 00Q000000000001AAA ") for p in result.problems)


def test_records_without_ids_are_dropped_but_the_batch_goes_on(sf_mapping: SalesforceMapping) -> None:
    raws: list[Any] = [sf_lead(), {"Email": "x@y.com"}, "garbage", sf_lead(Id="00Q000000000002AAA", Id2=1)]
    batch = translate_batch("salesforce", "Lead", raws, sf_mapping, now=NOW)
    assert [r.id for r in batch.records] == ["00Q000000000001AAA", "00Q000000000002AAA"]
    assert [(p.record_id, p.field) for p in batch.problems] == [
        ("<record 1>", "Id"),
        ("<record 2>", "<record>"),
    ]


def test_hubspot_contact(hs_mapping: HubSpotMapping) -> None:
    result = to_canonical("hubspot", "contacts", hs_contact(), hs_mapping, now=NOW)
    assert result.problems == []
    contact = result.record
    assert isinstance(contact, Contact)
    assert contact.email == "Grace@navy.example.org"
    assert contact.account_id == "9001" and contact.owner_id == "123"
    assert contact.is_converted  # opportunity is one of the label's stages
    assert contact.converted_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert contact.modified_at == datetime(2024, 5, 20, 8, 30, 0, 123000, tzinfo=UTC)
    assert contact.fields["traffic_source"] == "ORGANIC_SEARCH"  # matched to the known category
    assert contact.fields["employees"] == "1000+"
    assert contact.fields["annual_revenue"] == 5000000.5
    assert contact.fields["page_views"] == 42.0
    assert contact.fields["visits"] == 0.0  # missing: zero
    assert contact.fields["email_opt_out"] is False
    assert contact.fields["country"] == "United States"


def test_hubspot_unknown_picklist_value_is_kept_and_reported(hs_mapping: HubSpotMapping) -> None:
    result = to_canonical(
        "hubspot", "contacts", hs_contact(hs_analytics_source="TIKTOK"), hs_mapping, now=NOW
    )
    assert isinstance(result.record, Contact)
    assert result.record.fields["traffic_source"] == "TIKTOK"
    (problem,) = result.problems
    assert (problem.record_id, problem.field, problem.value) == ("501", "hs_analytics_source", "TIKTOK")
    assert "categories" in problem.message


def test_hubspot_company_deal_and_engagements(hs_mapping: HubSpotMapping) -> None:
    company = to_canonical(
        "hubspot", "companies",
        {"id": "9001", "properties": {"name": "Navy", "domain": "WWW.Navy.example.org", "numberofemployees": "5000",
                                      "lifecyclestage": "customer", "hs_parent_company_id": "1"}},
        hs_mapping,
    ).record  # fmt: skip
    assert isinstance(company, Account)
    assert (company.domain, company.employees, company.is_customer, company.parent_id) == (
        "navy.example.org", 5000.0, True, "1",
    )  # fmt: skip
    deal_raw = {
        "id": "77",
        "properties": {"dealname": "Big", "dealstage": "closedwon", "amount": "1200.50", "closedate": "2024-05-31T12:00:00Z"},
        "associations": {"companies": {"results": [{"id": "9001", "type": "deal_to_company"}]},
                         "contacts": {"results": [{"id": "501"}, {"id": 502}]}},
    }  # fmt: skip
    deal = to_canonical("hubspot", "deals", deal_raw, hs_mapping).record
    assert isinstance(deal, Opportunity)
    assert (deal.is_won, deal.is_closed, deal.amount, deal.close_date) == (
        True,
        True,
        1200.5,
        date(2024, 5, 31),
    )
    assert (deal.account_id, deal.contact_ids) == ("9001", ("501", "502"))
    note = to_canonical(
        "hubspot", "notes",
        {"id": "5", "properties": {"hs_note_body": "<p>Met at <b>booth</b></p>\n<p>x</p>", "hs_timestamp": "1714557600000"},
         "associations": {"contacts": {"results": [{"id": "501"}]}}},
        hs_mapping,
    ).record  # fmt: skip
    assert isinstance(note, Activity)
    assert (note.kind, note.subject, note.who_id) == ("note", "Met at booth x", "501")
    assert note.at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_tasks_split_into_review_tasks_and_activities(
    sf_mapping: SalesforceMapping, hs_mapping: HubSpotMapping
) -> None:
    call = to_canonical(
        "salesforce", "Task", {"Id": "00T1", "Subject": "Call: intro", "Type": "Call"}, sf_mapping
    )
    assert isinstance(call.record, Activity) and call.record.kind == "call"
    email = to_canonical("salesforce", "Task", {"Id": "00T2", "Subject": "Email: pricing"}, sf_mapping)
    assert isinstance(email.record, Activity) and email.record.kind == "email"
    review = to_canonical(
        "salesforce",
        "Task",
        {"Id": "00T3", "Subject": "Review lead score", "Status": "Completed", "WhoId": "00Q1",
         "leadq_Key__c": "rev-00Q1-7", "leadq_Review_Decision__c": "Reject",
         "CompletedDateTime": "2024-05-02T09:00:00.000+0000", "ActivityDate": "2024-05-03"},
        sf_mapping,
    ).record  # fmt: skip
    assert isinstance(review, Task)
    assert (review.idempotency_key, review.decision, review.is_completed) == ("rev-00Q1-7", "reject", True)
    assert review.due_at == datetime(2024, 5, 3, tzinfo=UTC)
    marked = to_canonical(
        "hubspot", "tasks",
        {"id": "9", "properties": {"hs_task_subject": "Review", "hs_task_body": "why... [leadq:rev-501-2]",
                                   "hs_task_status": "NOT_STARTED", "leadq_review_decision": ""}},
        hs_mapping,
    )  # fmt: skip
    assert isinstance(marked.record, Task)
    assert (marked.record.idempotency_key, marked.record.decision) == ("rev-501-2", None)
    assert not marked.record.is_completed


def test_salesforce_event_and_campaign_member(sf_mapping: SalesforceMapping) -> None:
    event = to_canonical(
        "salesforce", "Event", {"Id": "00U1", "Subject": "Demo", "StartDateTime": "2024-05-02T15:00:00.000+0200",
                                "WhoId": "00Q1", "WhatId": "001A"}, sf_mapping
    ).record  # fmt: skip
    assert isinstance(event, Activity)
    assert (event.kind, event.account_id, event.at) == (
        "meeting",
        "001A",
        datetime(2024, 5, 2, 13, tzinfo=UTC),
    )
    member = to_canonical(
        "salesforce", "CampaignMember", {"Id": "00v1", "LeadId": "00Q1", "CampaignId": "701A",
                                         "Status": "Responded", "FirstRespondedDate": "2024-04-01"}, sf_mapping
    ).record  # fmt: skip
    assert isinstance(member, Activity)
    assert (member.kind, member.who_id, member.what_id) == ("campaign", "00Q1", "701A")


def test_hubspot_engagement_counters_become_activities() -> None:
    raw = hs_contact(
        hs_analytics_num_visits="12", hs_analytics_last_visit_timestamp="2024-05-30T10:00:00Z",
        num_conversion_events="0", hs_email_open="x",
    )  # fmt: skip
    result = engagement_activities(raw)
    assert [(a.kind, a.count, a.who_id) for a in result.records] == [("web_visit", 12, "501")]
    assert [p.field for p in result.problems] == ["hs_email_open"]


def test_caller_mistakes_raise(sf_mapping: SalesforceMapping, hs_mapping: HubSpotMapping) -> None:
    assert "CampaignMember" in supported_objects("salesforce")
    with pytest.raises(ValueError, match="not translated"):
        to_canonical("salesforce", "Widget__c", {}, sf_mapping)
    with pytest.raises(ValueError, match="cannot translate"):
        to_canonical("hubspot", "contacts", {}, sf_mapping)


def _recorded(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if "records" in data:
        return list(data["records"])
    (response,) = [r["response"] for by_path in data["api"].values() for r in by_path.values()][:1]
    return list(response.get("results") or response.get("records"))


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference data not present")
@pytest.mark.parametrize(
    ("crm", "object_name", "file"),
    [
        ("salesforce", "Lead", "salesforce/recorded-nango/legacy-mocks/query-leads.v60.json"),
        ("salesforce", "Account", "salesforce/recorded-nango/legacy-mocks/query-accounts.v60.json"),
        ("salesforce", "Opportunity", "salesforce/recorded-nango/opportunities.test.json"),
        ("salesforce", "Contact", "salesforce/recorded-nango/contacts.test.json"),
        ("hubspot", "contacts", "hubspot/recorded-nango/list-contacts.test.json"),
        ("hubspot", "companies", "hubspot/recorded-nango/companies.test.json"),
        ("hubspot", "deals", "hubspot/recorded-nango/deals.test.json"),
        ("hubspot", "tasks", "hubspot/recorded-nango/tasks.test.json"),
    ],
)
def test_real_recorded_responses_translate_cleanly(
    crm: str, object_name: str, file: str, sf_mapping: SalesforceMapping, hs_mapping: HubSpotMapping
) -> None:
    raws = _recorded(REFERENCE / file)
    mapping = sf_mapping if crm == "salesforce" else hs_mapping
    batch = translate_batch(crm, object_name, raws, mapping, now=NOW)
    assert len(batch.records) == len(raws) > 0
    assert [str(p) for p in batch.problems if "future" not in p.message] == []


def test_salesforce_contact_reads_the_connectors_flattened_account_paths(
    sf_mapping: SalesforceMapping,
) -> None:
    # What `SalesforceConnector.pull_changes` hands over (REST and Bulk alike): one key per dotted path.
    raw = {
        "Id": "003000000000002AAA",
        "AccountId": "001000000000002AAA",
        "Email": "ann@acme.io",
        "Account.Name": "Acme",
        "Account.Industry": "Retail",
        "Account.Website": "acme.io",
        "Account.NumberOfEmployees": 250,
        "CreatedDate": "2024-01-01",
    }
    contact = to_canonical("salesforce", "Contact", raw, sf_mapping, now=NOW).record
    assert isinstance(contact, Contact)
    assert (contact.company, contact.domain) == ("Acme", "acme.io")
    assert contact.fields["industry"] == "Retail"
    assert contact.fields["employees"] == 250
