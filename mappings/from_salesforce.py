"""Salesforce sObject records (REST/SOQL JSON) -> canonical records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from mappings.config.crm import CrmMapping
from mappings.mapped import Common, activity_kind, decision_of, feature_values, task_key, writeback_values
from mappings.records import Account, Activity, CanonicalRecord, Contact, Lead, Opportunity, Task
from mappings.wire import FieldReader, email_domain, is_free_mail

Builder = Callable[[FieldReader, CrmMapping, str, datetime], CanonicalRecord]


def _common(r: FieldReader, record_id: str) -> Common:
    return {
        "crm": "salesforce",
        "id": record_id,
        "deleted": r.boolean("IsDeleted"),
        "modified_at": r.first_timestamp("SystemModstamp", "LastModifiedDate"),
    }


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
    return Lead(
        **_common(r, record_id),
        kind="lead",
        email=email,
        name=_name(r),
        company=r.text("Company"),
        domain=_company_domain(r, "Website", email),
        title=r.text("Title"),
        owner_id=r.id("OwnerId"),
        # Not ConvertedAccountId: only converted leads have one, so the account link itself would tell
        # the model the outcome. Leads reach their account through matching, like any other.
        account_id=None,
        created_at=r.timestamp("CreatedDate"),
        is_converted=r.boolean("IsConverted"),
        converted_at=r.timestamp("ConvertedDate"),
        converted_contact_id=r.id("ConvertedContactId"),
        converted_opportunity_id=r.id("ConvertedOpportunityId"),
        fields=feature_values(r, mapping, now),
        writeback=decoded,
        writeback_raw=raw,
    )


def contact(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Contact:
    """Contact -> `Contact` (company and domain from the parent Account when the query includes it)."""
    email = r.email("Email")
    decoded, raw = writeback_values(r, mapping)
    return Contact(
        **_common(r, record_id),
        email=email,
        name=_name(r),
        company=r.text("Account.Name"),
        domain=_company_domain(r, "Account.Website", email),
        title=r.text("Title"),
        owner_id=r.id("OwnerId"),
        account_id=r.id("AccountId"),
        created_at=r.timestamp("CreatedDate"),
        fields=feature_values(r, mapping, now),
        writeback=decoded,
        writeback_raw=raw,
    )


def account(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Account:
    """Account -> `Account`; customers are accounts whose Type says so (Customer - Direct, ...)."""
    account_type = r.text("Type") or ""
    return Account(
        **_common(r, record_id),
        name=r.text("Name"),
        website=r.text("Website"),
        domain=r.domain("Website"),
        parent_id=r.id("ParentId"),
        industry=r.text("Industry"),
        employees=r.number("NumberOfEmployees"),
        revenue=r.number("AnnualRevenue"),
        is_customer="customer" in account_type.casefold(),
        owner_id=r.id("OwnerId"),
        created_at=r.timestamp("CreatedDate"),
    )


def opportunity(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Opportunity:
    """Opportunity -> `Opportunity`; without IsWon/IsClosed in the query, the standard stage names decide."""
    stage = r.text("StageName")
    return Opportunity(
        **_common(r, record_id),
        name=r.text("Name"),
        account_id=r.id("AccountId"),
        stage=stage,
        is_won=r.boolean("IsWon", default=stage == "Closed Won"),
        is_closed=r.boolean("IsClosed", default=stage in ("Closed Won", "Closed Lost")),
        amount=r.number("Amount"),
        close_date=r.calendar_date("CloseDate"),
        created_at=r.timestamp("CreatedDate"),
        owner_id=r.id("OwnerId"),
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
        return Activity(
            **_common(r, record_id),
            kind=activity_kind(mapping, (r.text("Type"), r.text("TaskSubtype")), subject, "other"),
            source_object="Task",
            who_id=r.id("WhoId"),
            what_id=r.id("WhatId"),
            account_id=_account_of(r),
            at=r.first_timestamp("CompletedDateTime", "ActivityDate", "CreatedDate"),
            subject=subject,
        )
    status = r.text("Status")
    decoded, _ = writeback_values(r, mapping, task=True)
    due = r.calendar_date("ActivityDate")
    return Task(
        **_common(r, record_id),
        who_id=r.id("WhoId"),
        owner_id=r.id("OwnerId"),
        subject=subject,
        status=status,
        is_completed=r.boolean("IsClosed") or (status or "").casefold() == "completed",
        completed_at=r.timestamp("CompletedDateTime"),
        due_at=datetime(due.year, due.month, due.day, tzinfo=UTC) if due else None,
        decision=decision_of(decoded.get("task_decision")),
        idempotency_key=key,
        created_at=r.timestamp("CreatedDate"),
    )


def event(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Activity:
    """Event -> `Activity` (a meeting unless its Type says otherwise)."""
    subject = r.text("Subject")
    return Activity(
        **_common(r, record_id),
        kind=activity_kind(mapping, (r.text("Type"),), subject, "meeting"),
        source_object="Event",
        who_id=r.id("WhoId"),
        what_id=r.id("WhatId"),
        account_id=_account_of(r),
        at=r.first_timestamp("StartDateTime", "ActivityDateTime", "ActivityDate", "CreatedDate"),
        subject=subject,
    )


def campaign_member(r: FieldReader, mapping: CrmMapping, record_id: str, now: datetime) -> Activity:
    """CampaignMember -> a `campaign` `Activity` of the lead or contact, related to the campaign."""
    return Activity(
        **_common(r, record_id),
        kind="campaign",
        source_object="CampaignMember",
        who_id=r.id("LeadId") or r.id("ContactId"),
        what_id=r.id("CampaignId"),
        at=r.first_timestamp("FirstRespondedDate", "CreatedDate"),
        subject=r.text("Campaign.Name") or r.text("Status"),
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
