"""Which objects a cycle pulls from each CRM, in which order, and which fields of each.

The order matters for the graph: accounts before the people matched to them, opportunities before the
people whose outcome they decide, activity last. Fields are what the translators in `mappings` read,
plus the features, writeback and label fields of the config.
"""

from __future__ import annotations

from mappings import RECORD_SLOTS, Crm, CrmMapping

SCORED_OBJECTS: dict[str, tuple[str, ...]] = {"salesforce": ("Lead", "Contact"), "hubspot": ("contacts",)}

_PULL_ORDER: dict[str, tuple[str, ...]] = {
    "salesforce": ("Account", "Opportunity", "Contact", "Lead", "Task", "Event", "CampaignMember"),
    "hubspot": ("companies", "deals", "contacts", "tasks", "notes", "calls", "meetings", "emails"),
}
_COMMON = {"salesforce": ("IsDeleted", "SystemModstamp", "CreatedDate", "OwnerId"), "hubspot": ()}
_BASE: dict[str, dict[str, tuple[str, ...]]] = {
    "salesforce": {
        "Lead": ("FirstName", "LastName", "Name", "Email", "Company", "Website", "Title", "Status", "IsConverted",
                 "ConvertedDate", "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId"),
        "Contact": ("FirstName", "LastName", "Name", "Email", "Title", "AccountId", "Account.Name",
                    "Account.Website"),
        "Account": ("Name", "Website", "ParentId", "Industry", "NumberOfEmployees", "AnnualRevenue", "Type"),
        "Opportunity": ("Name", "AccountId", "StageName", "IsWon", "IsClosed", "Amount", "CloseDate"),
        "Task": ("Subject", "Description", "Status", "IsClosed", "Type", "TaskSubtype", "WhoId", "WhatId",
                 "AccountId", "ActivityDate", "CompletedDateTime"),
        "Event": ("Subject", "Type", "WhoId", "WhatId", "AccountId", "StartDateTime", "ActivityDateTime",
                  "ActivityDate"),
        "CampaignMember": ("LeadId", "ContactId", "CampaignId", "Status", "FirstRespondedDate"),
    },
    "hubspot": {
        "contacts": ("email", "firstname", "lastname", "company", "website", "jobtitle", "hubspot_owner_id",
                     "associatedcompanyid", "createdate", "lifecyclestage", "hs_lead_status",
                     "hs_analytics_num_visits", "hs_analytics_last_visit_timestamp", "num_conversion_events",
                     "recent_conversion_date", "hs_email_open", "hs_email_last_open_date",
                     "num_contacted_notes", "notes_last_contacted"),
        "companies": ("name", "website", "domain", "hs_parent_company_id", "industry", "numberofemployees",
                      "annualrevenue", "lifecyclestage", "hubspot_owner_id", "createdate"),
        "deals": ("dealname", "dealstage", "hs_is_closed_won", "hs_is_closed", "amount", "closedate",
                  "createdate", "hubspot_owner_id"),
        "tasks": ("hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_type", "hs_timestamp",
                  "hs_task_completion_date", "hs_createdate", "hubspot_owner_id"),
        "notes": ("hs_note_body", "hs_timestamp", "hs_createdate"),
        "calls": ("hs_call_title", "hs_timestamp", "hs_createdate"),
        "meetings": ("hs_meeting_title", "hs_timestamp", "hs_createdate"),
        "emails": ("hs_email_subject", "hs_timestamp", "hs_createdate"),
    },
}  # fmt: skip
# HubSpot search results carry no associations: these are read with the v4 batch API and folded in.
HUBSPOT_ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "contacts": ("companies",),
    "deals": ("companies", "contacts"),
    "tasks": ("contacts", "companies"),
    "notes": ("contacts", "companies"),
    "calls": ("contacts", "companies"),
    "meetings": ("contacts", "companies"),
    "emails": ("contacts", "companies"),
}
# Values that change on every write and say nothing about the record: left out of the content hash.
VOLATILE = frozenset(
    {"SystemModstamp", "LastModifiedDate", "lastmodifieddate", "hs_lastmodifieddate", "updatedAt"}
)


def pull_objects(crm: Crm, mapping: CrmMapping) -> list[str]:
    """The objects of `crm` the config reads, in pull order."""
    wanted = set(mapping.objects)
    return [obj for obj in _PULL_ORDER[crm] if obj in wanted]


def pull_fields(crm: Crm, obj: str, mapping: CrmMapping) -> list[str]:
    """The fields to request for `obj`: the translators', the features', our writeback fields."""
    fields = [*_COMMON[crm], *_BASE[crm].get(obj, ())]
    if obj in SCORED_OBJECTS[crm]:
        fields += [path for spec in mapping.features if (path := spec.field_for(obj))]
        fields += [mapping.writeback.field_for(slot).field for slot in RECORD_SLOTS]
    if obj in ("Task", "tasks"):
        fields += [mapping.writeback.field_for(slot).field for slot in ("task_key", "task_decision")]
    return list(dict.fromkeys(fields))


OUTPUT_SLOTS = ("score", "tier", "reasons", "recommended_action", "model_version", "scored_at")


def writeback_fields(mapping: CrmMapping) -> frozenset[str]:
    """The fields leadq itself writes on people (a change to them alone is our echo, or a person's edit)."""
    return frozenset(mapping.writeback.field_for(slot).field for slot in OUTPUT_SLOTS)
