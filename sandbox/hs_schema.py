"""HubSpot object types and their default property definitions, in the shape of `/crm/v3/properties`."""

from __future__ import annotations

from typing import Any

HS_OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", "tasks", "notes")

# objectTypeId as HubSpot numbers its standard objects
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tasks": "0-27", "notes": "0-46"}

_CREATED_AT = "2019-08-06T02:43:01.155Z"


def modified_property(type_: str) -> str:
    """The property incremental sync filters on: `lastmodifieddate` for contacts, else `hs_lastmodifieddate`."""
    return "lastmodifieddate" if type_ == "contacts" else "hs_lastmodifieddate"


def prop(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    group: str = "",
    options: tuple[tuple[str, str], ...] = (),
    *,
    read_only: bool = False,
    hidden: bool = False,
) -> dict[str, Any]:
    """One HubSpot-defined property definition."""
    return {
        "updatedAt": _CREATED_AT,
        "createdAt": _CREATED_AT,
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [
            {"label": lbl, "value": val, "displayOrder": i, "hidden": False}
            for i, (val, lbl) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": hidden,
        "hubspotDefined": True,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "dataSensitivity": "non_sensitive",
    }


def _dt(name: str, label: str, group: str, *, read_only: bool = True) -> dict[str, Any]:
    return prop(name, label, "datetime", "date", group, read_only=read_only)


LIFECYCLE = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
LEAD_STATUS = (
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)
ANALYTICS_SOURCE = (
    ("ORGANIC_SEARCH", "Organic Search"),
    ("PAID_SEARCH", "Paid Search"),
    ("EMAIL_MARKETING", "Email Marketing"),
    ("SOCIAL_MEDIA", "Organic Social"),
    ("REFERRALS", "Referrals"),
    ("OTHER_CAMPAIGNS", "Other Campaigns"),
    ("DIRECT_TRAFFIC", "Direct Traffic"),
    ("OFFLINE", "Offline Sources"),
    ("PAID_SOCIAL", "Paid Social"),
)
DEAL_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
)
TASK_STATUS = (
    ("NOT_STARTED", "Not started"),
    ("IN_PROGRESS", "In progress"),
    ("WAITING", "Waiting"),
    ("COMPLETED", "Completed"),
    ("DEFERRED", "Deferred"),
)
TASK_TYPE = (("CALL", "Call"), ("EMAIL", "Email"), ("TODO", "To-do"), ("LINKED_IN", "LinkedIn"))
PRIORITY = (("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"))

_C, _CO, _D = "contactinformation", "companyinformation", "dealinformation"

DEFAULT_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        prop("email", "Email", group=_C),
        prop("firstname", "First Name", group=_C),
        prop("lastname", "Last Name", group=_C),
        prop("company", "Company Name", group=_C),
        prop("website", "Website URL", group=_C),
        prop("jobtitle", "Job Title", group=_C),
        prop("phone", "Phone Number", field_type="phonenumber", group=_C),
        prop("city", "City", group=_C),
        prop("state", "State/Region", group=_C),
        prop("country", "Country/Region", group=_C),
        prop("industry", "Industry", group=_C),
        prop("numemployees", "Number of Employees", "enumeration", "select", _C,
             (("1-5", "1-5"), ("5-25", "5-25"), ("25-50", "25-50"), ("50-100", "50-100"), ("100-500", "100-500"),
              ("500-1000", "500-1000"), ("1000+", "1000+"))),
        prop("annualrevenue", "Annual Revenue", "number", "number", _C),
        prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _C, LIFECYCLE),
        prop("hs_lead_status", "Lead Status", "enumeration", "radio", _C, LEAD_STATUS),
        prop("hs_analytics_source", "Original Traffic Source", "enumeration", "select", "analyticsinformation",
             ANALYTICS_SOURCE, read_only=True),
        prop("hs_analytics_num_page_views", "Number of Pageviews", "number", "number", "analyticsinformation",
             read_only=True),
        prop("hs_analytics_num_visits", "Number of Sessions", "number", "number", "analyticsinformation",
             read_only=True),
        prop("num_associated_deals", "Number of Associated Deals", "number", "number", "deal_information",
             read_only=True),
        prop("hubspot_owner_id", "Contact owner", "enumeration", "select", "sales_properties"),
        prop("associatedcompanyid", "Primary Associated Company ID", "number", "number", _C),
        _dt("hs_lifecyclestage_customer_date", "Became a Customer Date", _C),
        _dt("notes_last_updated", "Last Activity Date", "contact_activity"),
        prop("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox", _C,
             (("true", "Yes"), ("false", "No"))),
        _dt("createdate", "Create Date", _C),
        _dt("lastmodifieddate", "Last Modified Date", _C),
        _dt("hs_lastmodifieddate", "Object last modified date/time", _C),
        prop("hs_object_id", "Record ID", "number", "number", _C, read_only=True),
    ],
    "companies": [
        prop("name", "Company name", group=_CO),
        prop("domain", "Company Domain Name", group=_CO),
        prop("website", "Website URL", group=_CO),
        prop("industry", "Industry", "enumeration", "select", _CO),
        prop("numberofemployees", "Number of Employees", "number", "number", _CO),
        prop("annualrevenue", "Annual Revenue", "number", "number", _CO),
        prop("phone", "Phone Number", field_type="phonenumber", group=_CO),
        prop("city", "City", group=_CO),
        prop("state", "State/Region", group=_CO),
        prop("country", "Country/Region", group=_CO),
        prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _CO, LIFECYCLE),
        prop("type", "Type", "enumeration", "select", _CO,
             (("PROSPECT", "Prospect"), ("PARTNER", "Partner"), ("RESELLER", "Reseller"), ("VENDOR", "Vendor"),
              ("OTHER", "Other"))),
        prop("hs_parent_company_id", "Parent Company", "number", "number", _CO, read_only=True),
        prop("hubspot_owner_id", "Company owner", "enumeration", "select", _CO),
        prop("num_associated_contacts", "Number of Associated Contacts", "number", "number", _CO, read_only=True),
        _dt("notes_last_updated", "Last Activity Date", "company_activity"),
        _dt("createdate", "Create Date", _CO),
        _dt("hs_lastmodifieddate", "Last Modified Date", _CO),
        prop("hs_object_id", "Record ID", "number", "number", _CO, read_only=True),
    ],
    "deals": [
        prop("dealname", "Deal Name", group=_D),
        prop("amount", "Amount", "number", "number", _D),
        prop("dealstage", "Deal Stage", "enumeration", "radio", _D, DEAL_STAGES),
        prop("pipeline", "Pipeline", "enumeration", "select", _D, (("default", "Sales Pipeline"),)),
        _dt("closedate", "Close Date", _D, read_only=False),
        prop("hubspot_owner_id", "Deal owner", "enumeration", "select", _D),
        prop("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", _D, (("true", "True"), ("false", "False")),
             read_only=True),
        prop("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", _D, (("true", "True"), ("false", "False")),
             read_only=True),
        prop("dealtype", "Deal Type", "enumeration", "radio", _D,
             (("newbusiness", "New Business"), ("existingbusiness", "Existing Business"))),
        _dt("createdate", "Create Date", _D),
        _dt("hs_lastmodifieddate", "Last Modified Date", _D),
        prop("hs_object_id", "Record ID", "number", "number", _D, read_only=True),
    ],
    "tasks": [
        prop("hs_task_subject", "Task Title", group="task"),
        prop("hs_task_body", "Notes", field_type="html", group="task"),
        prop("hs_task_status", "Task Status", "enumeration", "select", "task", TASK_STATUS),
        prop("hs_task_priority", "Priority", "enumeration", "select", "task", PRIORITY),
        prop("hs_task_type", "Task Type", "enumeration", "select", "task", TASK_TYPE),
        _dt("hs_timestamp", "Due date", "task", read_only=False),
        _dt("hs_task_completion_date", "Completed at", "task"),
        prop("hubspot_owner_id", "Assigned to", "enumeration", "select", "task"),
        _dt("hs_createdate", "Create date", "task"),
        _dt("hs_lastmodifieddate", "Last modified date", "task"),
        prop("hs_object_id", "Record ID", "number", "number", "task", read_only=True),
    ],
    "notes": [
        prop("hs_note_body", "Note body", field_type="html", group="note"),
        _dt("hs_timestamp", "Activity date", "note", read_only=False),
        prop("hubspot_owner_id", "Activity assigned to", "enumeration", "select", "note"),
        _dt("hs_createdate", "Create date", "note"),
        _dt("hs_lastmodifieddate", "Last modified date", "note"),
        prop("hs_object_id", "Record ID", "number", "number", "note", read_only=True),
    ],
}  # fmt: skip

DEFAULT_GROUPS: dict[str, list[dict[str, Any]]] = {
    t: [
        {"name": g, "label": g.replace("_", " ").title(), "displayOrder": i, "archived": False}
        for i, g in enumerate(dict.fromkeys(p["groupName"] for p in DEFAULT_PROPERTIES[t]))
    ]
    for t in HS_OBJECT_TYPES
}
