"""Salesforce sObject records (REST/SOQL JSON) -> canonical records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from mappings.config.crm import CrmMapping
from mappings.field_reader import FieldReader
from mappings.mapped import activity_kind, decision_of, feature_values, task_key, writeback_values
from mappings.record_makers import (
    ACCOUNT_FIELDS,
    COMMON_FIELDS,
    OPPORTUNITY_FIELDS,
    PERSON_FIELDS,
    TASK_FIELDS,
    maker,
)
from mappings.records import Account, Activity, CanonicalRecord, Contact, Lead, Opportunity, Task
from mappings.wire import email_domain, is_free_mail

Builder = Callable[[FieldReader, CrmMapping, str, datetime], CanonicalRecord]
# Record constructors by position (see `maker`), the fields in the order the builders read them.
_LEAD = maker(
    Lead,
    *PERSON_FIELDS,
    "kind",
    "is_converted",
    "converted_at",
    "converted_contact_id",
    "converted_opportunity_id",
    "fields",
    "writeback",
    "writeback_raw",
)
_CONTACT = maker(Contact, *PERSON_FIELDS, "fields", "writeback", "writeback_raw")
_ACCOUNT = maker(Account, *ACCOUNT_FIELDS)
_OPPORTUNITY = maker(Opportunity, *OPPORTUNITY_FIELDS)
_TASK = maker(Task, *TASK_FIELDS)
_ACTIVITY = maker(
    Activity, *COMMON_FIELDS, "kind", "source_object", "who_id", "what_id", "account_id", "at", "subject"
)
_ACTIVITY_2 = maker(Activity, *COMMON_FIELDS, "kind", "source_object", "who_id", "what_id", "at", "subject")


def _common(r: FieldReader, record_id: str) -> tuple[str, str, bool, datetime | None]:
    # `COMMON_FIELDS`, in order, as the makers take them.
    return (
        "salesforce",
        record_id,
        r.boolean("IsDeleted"),
        r.first_timestamp("SystemModstamp", "LastModifiedDate"),
    )


def _name(r: FieldReader) -> str | None:
    full = r.text("Name")
    if full:
        return full
    parts = [r.text("FirstName"), r.text("LastName")]
    return " ".join(part for part in parts if part) or None


def _company_domain(r: FieldReader, website_path: str, email: str | None) -> str | None:
    # A gmail.com address says nothing about the company, so it never stands in for one.
    domain = r.domain(website_path)
    if domain:
        return domain
    from_email = email_domain(email)
    return None if is_free_mail(from_email) else from_email


def lead(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Lead:
    """Lead -> `Lead`."""
    email = r.email("Email")
    decoded, raw = writeback_values(r, mapping)
    return _LEAD(
        *_common(r, record_id),
        email,
        _name(r),
        r.text("Company"),
        _company_domain(r, "Website", email),
        r.text("Title"),
        r.shared_id("OwnerId"),
        # Not ConvertedAccountId: only converted leads have one, so the account link itself would tell
        # the model the outcome. Leads reach their account through matching, like any other.
        None,
        r.timestamp("CreatedDate"),
        "lead",
        r.boolean("IsConverted"),
        r.timestamp("ConvertedDate"),
        r.id("ConvertedContactId"),
        r.id("ConvertedOpportunityId"),
        feature_values(r, mapping, now),
        decoded,
        raw,
    )


def contact(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Contact:
    """Contact -> `Contact` (company and domain from the parent Account when the query includes it)."""
    email = r.email("Email")
    decoded, raw = writeback_values(r, mapping)
    return _CONTACT(
        *_common(r, record_id),
        email,
        _name(r),
        r.text("Account.Name"),
        _company_domain(r, "Account.Website", email),
        r.text("Title"),
        r.shared_id("OwnerId"),
        r.shared_id("AccountId"),
        r.timestamp("CreatedDate"),
        feature_values(r, mapping, now),
        decoded,
        raw,
    )


def account(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Account:
    """Account -> `Account`; customers are accounts whose Type says so (Customer - Direct, ...)."""
    account_type = r.text("Type") or ""
    return _ACCOUNT(
        *_common(r, record_id),
        r.text("Name"),
        r.text("Website"),
        r.domain("Website"),
        r.id("ParentId"),
        r.text("Industry"),
        r.number("NumberOfEmployees"),
        r.number("AnnualRevenue"),
        "customer" in account_type.casefold(),
        r.shared_id("OwnerId"),
        r.timestamp("CreatedDate"),
    )


def opportunity(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Opportunity:
    """Opportunity -> `Opportunity`; without IsWon/IsClosed in the query, the standard stage names decide."""
    stage = r.text("StageName")
    return _OPPORTUNITY(
        *_common(r, record_id),
        r.text("Name"),
        r.shared_id("AccountId"),
        stage,
        r.boolean("IsWon", default=stage == "Closed Won"),
        r.boolean("IsClosed", default=stage in ("Closed Won", "Closed Lost")),
        r.number("Amount"),
        r.calendar_date("CloseDate"),
        r.timestamp("CreatedDate"),
        r.shared_id("OwnerId"),
    )


def _account_of(r: FieldReader) -> str | None:
    explicit = r.id("AccountId")
    what = r.id("WhatId")
    return explicit or (what if what and what.startswith("001") else None)


def task(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Task | Activity:
    """Task -> `Task` when it is one of our review tasks (it carries our key), else an `Activity`."""
    key = task_key(r, mapping, "Description", "Subject")
    subject = r.text("Subject")
    if key is None:
        return _ACTIVITY(
            *_common(r, record_id),
            activity_kind(mapping, (r.text("Type"), r.text("TaskSubtype")), subject, "other"),
            "Task",
            r.id("WhoId"),
            r.id("WhatId"),
            _account_of(r),
            r.first_timestamp("CompletedDateTime", "ActivityDate", "CreatedDate"),
            subject,
        )
    status = r.text("Status")
    decoded, _ = writeback_values(r, mapping, task=True)
    due = r.calendar_date("ActivityDate")
    return _TASK(
        *_common(r, record_id),
        r.id("WhoId"),
        r.id("OwnerId"),
        subject,
        status,
        r.boolean("IsClosed") or (status or "").casefold() == "completed",
        r.timestamp("CompletedDateTime"),
        datetime(due.year, due.month, due.day, tzinfo=UTC) if due else None,
        decision_of(decoded.get("task_decision")),
        key,
        r.timestamp("CreatedDate"),
    )


def event(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Activity:
    """Event -> `Activity` (a meeting unless its Type says otherwise)."""
    subject = r.text("Subject")
    return _ACTIVITY(
        *_common(r, record_id),
        activity_kind(mapping, (r.text("Type"),), subject, "meeting"),
        "Event",
        r.id("WhoId"),
        r.id("WhatId"),
        _account_of(r),
        r.first_timestamp("StartDateTime", "ActivityDateTime", "ActivityDate", "CreatedDate"),
        subject,
    )


def campaign_member(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Activity:
    """CampaignMember -> a `campaign` `Activity` of the lead or contact, related to the campaign."""
    return _ACTIVITY_2(
        *_common(r, record_id),
        "campaign",
        "CampaignMember",
        r.id("LeadId") or r.id("ContactId"),
        r.id("CampaignId"),
        r.first_timestamp("FirstRespondedDate", "CreatedDate"),
        r.text("Campaign.Name") or r.text("Status"),
    )


BUILDERS: dict[str, Builder] = {
    "Lead": lead,
    "Contact": contact,
    "Account": account,
    "Opportunity": opportunity,
    "Task": task,
    "Event": event,
    "CampaignMember": campaign_member,
}
