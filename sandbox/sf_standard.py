"""The standard Salesforce objects of the sandbox's org (User, Account, Contact, Lead, Opportunity, Task,
Event, Campaign, CampaignMember) with their fields in describe order, and the polymorphic references.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sandbox.sf_schema import SfField, SfObject


def _s(name: str, label: str, length: int = 255, **kw: Any) -> SfField:
    return SfField(name, "string", label, length=length, **kw)


def _pick(name: str, label: str, values: tuple[str, ...], **kw: Any) -> SfField:
    return SfField(name, "picklist", label, length=255, picklist=values, **kw)


def _ref(name: str, label: str, to: str, rel: str, **kw: Any) -> SfField:
    return SfField(name, "reference", label, length=18, reference_to=(to,), relationship_name=rel, **kw)


def _system(owner: bool = True) -> tuple[SfField, ...]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    fields = [
        SfField("Id", "id", "Record ID", length=18, nillable=False, **ro),
        SfField("IsDeleted", "boolean", "Deleted", nillable=False, default=False, **ro),
    ]
    if owner:
        fields.append(_ref("OwnerId", "Owner ID", "User", "Owner", nillable=False))
    fields += [
        SfField("CreatedDate", "datetime", "Created Date", nillable=False, **ro),
        _ref("CreatedById", "Created By ID", "User", "CreatedBy", nillable=False, **ro),
        SfField("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **ro),
        _ref("LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy", nillable=False, **ro),
        SfField("SystemModstamp", "datetime", "System Modstamp", nillable=False, **ro),
    ]
    return tuple(fields)


INDUSTRIES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
    "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
    "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities", "Other",
)  # fmt: skip
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
RATINGS = ("Hot", "Warm", "Cold")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)  # fmt: skip
RO: dict[str, Any] = {"createable": False, "updateable": False}


def _address(prefix: str, label: str) -> tuple[SfField, ...]:
    return (
        _s(f"{prefix}Street", f"{label} Street", 255),
        _s(f"{prefix}City", f"{label} City", 40),
        _s(f"{prefix}State", f"{label} State/Province", 80),
        _s(f"{prefix}PostalCode", f"{label} Zip/Postal Code", 20),
        _s(f"{prefix}Country", f"{label} Country", 80),
    )


USER = SfObject(
    "User",
    "User",
    "Users",
    (
        *_system(owner=False),
        _s("Username", "Username", 80, nillable=False, unique=True),
        _s("FirstName", "First Name", 40),
        _s("LastName", "Last Name", 80, nillable=False),
        _s("Name", "Full Name", 121, name_field=True, **RO),
        SfField("Email", "email", "Email", length=128, nillable=False),
        _s("Title", "Title", 80),
        _s("Department", "Department", 80),
        SfField("IsActive", "boolean", "Active", nillable=False, default=True),
        _ref("ManagerId", "Manager ID", "User", "Manager"),
        _s("UserRoleName__c", "Role", 80, custom=True),
    ),
)

ACCOUNT = SfObject(
    "Account",
    "Account",
    "Accounts",
    (
        *_system(),
        _s("Name", "Account Name", 255, nillable=False, name_field=True),
        _pick(
            "Type",
            "Account Type",
            ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"),
        ),
        _ref("ParentId", "Parent Account ID", "Account", "Parent"),
        SfField("Website", "url", "Website", length=255),
        SfField("Phone", "phone", "Account Phone", length=40),
        _pick("Industry", "Industry", INDUSTRIES),
        SfField("NumberOfEmployees", "int", "Employees", precision=8),
        SfField("AnnualRevenue", "currency", "Annual Revenue", precision=18),
        _pick("Rating", "Account Rating", RATINGS),
        *_address("Billing", "Billing"),
        SfField("Description", "textarea", "Account Description", length=32000),
        _pick("AccountSource", "Account Source", LEAD_SOURCES),
        SfField("LastActivityDate", "date", "Last Activity", **RO),
    ),
)

CONTACT = SfObject(
    "Contact",
    "Contact",
    "Contacts",
    (
        *_system(),
        _ref("AccountId", "Account ID", "Account", "Account"),
        _s("FirstName", "First Name", 40),
        _s("LastName", "Last Name", 80, nillable=False),
        _s("Name", "Full Name", 121, name_field=True, **RO),
        SfField("Email", "email", "Email", length=80),
        SfField("Phone", "phone", "Business Phone", length=40),
        _s("Title", "Title", 128),
        _s("Department", "Department", 80),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        *_address("Mailing", "Mailing"),
        SfField("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, default=False),
        SfField("LastActivityDate", "date", "Last Activity", **RO),
    ),
)

LEAD = SfObject(
    "Lead",
    "Lead",
    "Leads",
    (
        *_system(),
        _s("FirstName", "First Name", 40),
        _s("LastName", "Last Name", 80, nillable=False),
        _s("Name", "Full Name", 121, name_field=True, **RO),
        _s("Company", "Company", 255, nillable=False),
        _s("Title", "Title", 128),
        SfField("Email", "email", "Email", length=80),
        SfField("Phone", "phone", "Phone", length=40),
        SfField("Website", "url", "Website", length=255),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        _pick("Status", "Status", LEAD_STATUSES, nillable=False, default="Open - Not Contacted"),
        _pick("Industry", "Industry", INDUSTRIES),
        _pick("Rating", "Rating", RATINGS),
        SfField("AnnualRevenue", "currency", "Annual Revenue", precision=18),
        SfField("NumberOfEmployees", "int", "Employees", precision=8),
        _s("Street", "Street", 255),
        _s("City", "City", 40),
        _s("State", "State/Province", 80),
        _s("PostalCode", "Zip/Postal Code", 20),
        _s("Country", "Country", 80),
        SfField("Description", "textarea", "Description", length=32000),
        SfField("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, default=False),
        SfField("IsConverted", "boolean", "Converted", nillable=False, default=False),
        SfField("ConvertedDate", "date", "Converted Date"),
        _ref("ConvertedAccountId", "Converted Account ID", "Account", "ConvertedAccount"),
        _ref("ConvertedContactId", "Converted Contact ID", "Contact", "ConvertedContact"),
        _ref("ConvertedOpportunityId", "Converted Opportunity ID", "Opportunity", "ConvertedOpportunity"),
        SfField("IsUnreadByOwner", "boolean", "Unread By Owner", nillable=False, default=True),
        SfField("LastActivityDate", "date", "Last Activity", **RO),
    ),
)

OPPORTUNITY = SfObject(
    "Opportunity",
    "Opportunity",
    "Opportunities",
    (
        *_system(),
        _ref("AccountId", "Account ID", "Account", "Account"),
        _s("Name", "Name", 120, nillable=False, name_field=True),
        _pick("StageName", "Stage", STAGES, nillable=False),
        SfField("Amount", "currency", "Amount", precision=18, scale=2),
        SfField("Probability", "percent", "Probability (%)", precision=3),
        SfField("CloseDate", "date", "Close Date", nillable=False),
        _pick("Type", "Opportunity Type", ("Existing Business", "New Business")),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        SfField("IsClosed", "boolean", "Closed", nillable=False, default=False, **RO),
        SfField("IsWon", "boolean", "Won", nillable=False, default=False, **RO),
        _ref("CampaignId", "Campaign ID", "Campaign", "Campaign"),
        SfField("Description", "textarea", "Description", length=32000),
    ),
)

_ACTIVITY_COMMON = (
    _ref("WhoId", "Name ID", "Lead", "Who"),
    _ref("WhatId", "Related To ID", "Account", "What"),
    _s("Subject", "Subject", 255),
    SfField("ActivityDate", "date", "Due Date Only"),
    SfField("Description", "textarea", "Description", length=32000),
)

TASK = SfObject(
    "Task",
    "Task",
    "Tasks",
    (
        *_system(),
        *_ACTIVITY_COMMON,
        _pick("Status", "Status", ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
              nillable=False, default="Not Started"),
        _pick("Priority", "Priority", ("High", "Normal", "Low"), nillable=False, default="Normal"),
        SfField("IsClosed", "boolean", "Closed", nillable=False, default=False, **RO),
        _pick("TaskSubtype", "Task Subtype", ("Task", "Email", "ListEmail", "Cadence", "Call")),
        _pick("Type", "Type", ("Call", "Email", "Meeting", "Other", "Web Visit", "Form Fill")),
        SfField("CompletedDateTime", "datetime", "Completed Date/Time", **RO),
        SfField("CallDurationInSeconds", "int", "Call Duration"),
    ),
)  # fmt: skip

EVENT = SfObject(
    "Event",
    "Event",
    "Events",
    (
        *_system(),
        *_ACTIVITY_COMMON,
        SfField("StartDateTime", "datetime", "Start Date Time"),
        SfField("EndDateTime", "datetime", "End Date Time"),
        SfField("DurationInMinutes", "int", "Duration"),
        _pick("Type", "Type", ("Call", "Email", "Meeting", "Other")),
    ),
)

CAMPAIGN = SfObject(
    "Campaign",
    "Campaign",
    "Campaigns",
    (
        *_system(),
        _s("Name", "Name", 80, nillable=False, name_field=True),
        _pick("Type", "Type", ("Conference", "Webinar", "Trade Show", "Email", "Advertisement", "Other")),
        _pick("Status", "Status", ("Planned", "In Progress", "Completed", "Aborted")),
        SfField("StartDate", "date", "Start Date"),
        SfField("EndDate", "date", "End Date"),
        SfField("IsActive", "boolean", "Active", nillable=False, default=False),
    ),
)

CAMPAIGN_MEMBER = SfObject(
    "CampaignMember",
    "Campaign Member",
    "Campaign Members",
    (
        *_system(owner=False),
        _ref("CampaignId", "Campaign ID", "Campaign", "Campaign", nillable=False),
        _ref("LeadId", "Lead ID", "Lead", "Lead"),
        _ref("ContactId", "Contact ID", "Contact", "Contact"),
        _pick("Status", "Status", ("Sent", "Responded")),
        SfField("HasResponded", "boolean", "Responded", nillable=False, default=False, **RO),
        SfField("FirstRespondedDate", "date", "First Responded Date", **RO),
    ),
)

STANDARD_OBJECTS: tuple[SfObject, ...] = (
    USER,
    ACCOUNT,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    TASK,
    EVENT,
    CAMPAIGN,
    CAMPAIGN_MEMBER,
)

# The polymorphic WhoId/WhatId references point at several objects, as in a real org.
POLYMORPHIC = {
    ("Task", "WhoId"): ("Contact", "Lead"),
    ("Event", "WhoId"): ("Contact", "Lead"),
    ("Task", "WhatId"): ("Account", "Opportunity", "Campaign"),
    ("Event", "WhatId"): ("Account", "Opportunity", "Campaign"),
}


def standard_objects() -> dict[str, SfObject]:
    """The standard objects with polymorphic references resolved, keyed by API name."""
    out: dict[str, SfObject] = {}
    for obj in STANDARD_OBJECTS:
        fields = tuple(
            replace(f, reference_to=POLYMORPHIC[(obj.name, f.name)])
            if (obj.name, f.name) in POLYMORPHIC
            else f
            for f in obj.fields
        )
        out[obj.name] = replace(obj, fields=fields)
    return out
