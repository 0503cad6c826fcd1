"""The default property definitions and groups of each HubSpot object type, and the default sales pipeline.

Names, labels and option values are HubSpot's standard ones, descriptions are ours. A portal has hundreds of
properties per object; this is the subset a lead-scoring integration reads and writes, plus the system
properties HubSpot maintains (read-only here as in HubSpot).
"""

from __future__ import annotations

from typing import Any

from sandbox.hs_schema import HS_OBJECT_TYPES, Options, prop

LIFECYCLE: Options = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
LEAD_STATUS: Options = (
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)
ANALYTICS_SOURCE: Options = (
    ("ORGANIC_SEARCH", "Organic Search"),
    ("PAID_SEARCH", "Paid Search"),
    ("EMAIL_MARKETING", "Email Marketing"),
    ("SOCIAL_MEDIA", "Organic Social"),
    ("REFERRALS", "Referrals"),
    ("OTHER_CAMPAIGNS", "Other Campaigns"),
    ("DIRECT_TRAFFIC", "Direct Traffic"),
    ("OFFLINE", "Offline Sources"),
    ("PAID_SOCIAL", "Paid Social"),
    ("AI_REFERRALS", "AI Referrals"),
)
# the default sales pipeline: stage id -> (label, probability, closed)
DEAL_STAGE_META: dict[str, tuple[str, float, bool]] = {
    "appointmentscheduled": ("Appointment Scheduled", 0.2, False),
    "qualifiedtobuy": ("Qualified To Buy", 0.4, False),
    "presentationscheduled": ("Presentation Scheduled", 0.6, False),
    "decisionmakerboughtin": ("Decision Maker Bought-In", 0.8, False),
    "contractsent": ("Contract Sent", 0.9, False),
    "closedwon": ("Closed Won", 1.0, True),
    "closedlost": ("Closed Lost", 0.0, True),
}
DEAL_STAGES: Options = tuple((k, v[0]) for k, v in DEAL_STAGE_META.items())
TASK_STATUS: Options = (
    ("NOT_STARTED", "Not started"),
    ("IN_PROGRESS", "In progress"),
    ("WAITING", "Waiting"),
    ("COMPLETED", "Completed"),
    ("DEFERRED", "Deferred"),
)
TASK_TYPE: Options = (("CALL", "Call"), ("EMAIL", "Email"), ("TODO", "To-do"), ("LINKED_IN", "LinkedIn"))
PRIORITY: Options = (("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"))
EMPLOYEE_BANDS: Options = tuple(
    (b, b) for b in ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
)
COMPANY_TYPE: Options = (
    ("PROSPECT", "Prospect"),
    ("PARTNER", "Partner"),
    ("RESELLER", "Reseller"),
    ("VENDOR", "Vendor"),
    ("OTHER", "Other"),
)
OBJECT_SOURCE: Options = tuple(
    (s, s.replace("_", " ").title()) for s in ("INTEGRATION", "CRM_UI", "IMPORT", "FORM", "API", "WORKFLOWS")
)
# HubSpot's standard company industries (the option values every portal ships with)
_INDUSTRY_TEXT = """ACCOUNTING AIRLINES_AVIATION ALTERNATIVE_DISPUTE_RESOLUTION ALTERNATIVE_MEDICINE ANIMATION APPAREL_FASHION
    ARCHITECTURE_PLANNING ARTS_AND_CRAFTS AUTOMOTIVE AVIATION_AEROSPACE BANKING BIOTECHNOLOGY BROADCAST_MEDIA
    BUILDING_MATERIALS BUSINESS_SUPPLIES_AND_EQUIPMENT CAPITAL_MARKETS CHEMICALS CIVIC_SOCIAL_ORGANIZATION
    CIVIL_ENGINEERING COMMERCIAL_REAL_ESTATE COMPUTER_NETWORK_SECURITY COMPUTER_GAMES COMPUTER_HARDWARE
    COMPUTER_NETWORKING COMPUTER_SOFTWARE INTERNET CONSTRUCTION CONSUMER_ELECTRONICS CONSUMER_GOODS
    CONSUMER_SERVICES COSMETICS DAIRY DEFENSE_SPACE DESIGN EDUCATION_MANAGEMENT E_LEARNING
    ELECTRICAL_ELECTRONIC_MANUFACTURING ENTERTAINMENT ENVIRONMENTAL_SERVICES EVENTS_SERVICES EXECUTIVE_OFFICE
    FACILITIES_SERVICES FARMING FINANCIAL_SERVICES FINE_ART FISHERY FOOD_BEVERAGES FOOD_PRODUCTION FUND_RAISING
    FURNITURE GAMBLING_CASINOS GLASS_CERAMICS_CONCRETE GOVERNMENT_ADMINISTRATION GOVERNMENT_RELATIONS
    GRAPHIC_DESIGN HEALTH_WELLNESS_AND_FITNESS HIGHER_EDUCATION HOSPITAL_HEALTH_CARE HOSPITALITY HUMAN_RESOURCES
    IMPORT_AND_EXPORT INDIVIDUAL_FAMILY_SERVICES INDUSTRIAL_AUTOMATION INFORMATION_SERVICES
    INFORMATION_TECHNOLOGY_AND_SERVICES INSURANCE INTERNATIONAL_AFFAIRS INTERNATIONAL_TRADE_AND_DEVELOPMENT
    INVESTMENT_BANKING INVESTMENT_MANAGEMENT JUDICIARY LAW_ENFORCEMENT LAW_PRACTICE LEGAL_SERVICES
    LEGISLATIVE_OFFICE LEISURE_TRAVEL_TOURISM LIBRARIES LOGISTICS_AND_SUPPLY_CHAIN LUXURY_GOODS_JEWELRY MACHINERY
    MANAGEMENT_CONSULTING MARITIME MARKET_RESEARCH MARKETING_AND_ADVERTISING MECHANICAL_OR_INDUSTRIAL_ENGINEERING
    MEDIA_PRODUCTION MEDICAL_DEVICES MEDICAL_PRACTICE MENTAL_HEALTH_CARE MILITARY MINING_METALS
    MOTION_PICTURES_AND_FILM MUSEUMS_AND_INSTITUTIONS MUSIC NANOTECHNOLOGY NEWSPAPERS
    NON_PROFIT_ORGANIZATION_MANAGEMENT OIL_ENERGY ONLINE_MEDIA OUTSOURCING_OFFSHORING PACKAGE_FREIGHT_DELIVERY
    PACKAGING_AND_CONTAINERS PAPER_FOREST_PRODUCTS PERFORMING_ARTS PHARMACEUTICALS PHILANTHROPY PHOTOGRAPHY
    PLASTICS POLITICAL_ORGANIZATION PRIMARY_SECONDARY_EDUCATION PRINTING PROFESSIONAL_TRAINING_COACHING
    PROGRAM_DEVELOPMENT PUBLIC_POLICY PUBLIC_RELATIONS_AND_COMMUNICATIONS PUBLIC_SAFETY PUBLISHING
    RAILROAD_MANUFACTURE RANCHING REAL_ESTATE RECREATIONAL_FACILITIES_AND_SERVICES RELIGIOUS_INSTITUTIONS
    RENEWABLES_ENVIRONMENT RESEARCH RESTAURANTS RETAIL SECURITY_AND_INVESTIGATIONS SEMICONDUCTORS SHIPBUILDING
    SPORTING_GOODS SPORTS STAFFING_AND_RECRUITING SUPERMARKETS TELECOMMUNICATIONS TEXTILES THINK_TANKS TOBACCO
    TRANSLATION_AND_LOCALIZATION TRANSPORTATION_TRUCKING_RAILROAD UTILITIES VENTURE_CAPITAL_PRIVATE_EQUITY
    VETERINARY WAREHOUSING WHOLESALE WINE_AND_SPIRITS WIRELESS WRITING_AND_EDITING MOBILE_GAMES"""
INDUSTRY_VALUES: tuple[str, ...] = tuple(_INDUSTRY_TEXT.split())
INDUSTRY: Options = tuple(
    (v, " ".join(w.lower() if w == "AND" else w.capitalize() for w in v.split("_"))) for v in INDUSTRY_VALUES
)

GROUP_LABELS = {
    "contactinformation": "Contact information",
    "companyinformation": "Company information",
    "dealinformation": "Deal information",
    "analyticsinformation": "Web analytics history",
    "emailinformation": "Email information",
    "conversioninformation": "Conversion information",
    "sales_properties": "Sales properties",
    "contact_activity": "Contact activity",
    "company_activity": "Company activity",
    "deal_activity": "Deal activity",
    "deal_information": "Deal information",
    "contactlcs": "Contact lifecycle stage properties",
    "task": "Task information",
    "note": "Note information",
}

_C, _CO, _D, _A, _E, _S = (
    "contactinformation", "companyinformation", "dealinformation", "analyticsinformation", "emailinformation",
    "sales_properties",
)  # fmt: skip


def _system(group: str, created: str = "createdate", activity: str = "") -> list[dict[str, Any]]:
    """Properties HubSpot maintains on every object of a type."""
    return [
        prop(created, "Create Date", "dt", group, ro=True, desc="When the record was created."),
        prop("hs_lastmodifieddate", "Last Modified Date", "dt", activity or group, ro=True,
             desc="Most recent timestamp of any property update of the record."),
        prop("hs_object_id", "Record ID", "num", group, ro=True, stamped=False,
             desc="The unique ID of the record, set by HubSpot."),
        prop("hs_object_source", "Record creation source", "text", group, ro=True, stamped=False),
        prop("hs_object_source_label", "Record source", "select", group, OBJECT_SOURCE, ro=True, external=True,
             stamped=False),
        prop("hs_object_source_id", "Record creation source ID", "text", group, ro=True, stamped=False),
        prop("hs_all_owner_ids", "All owner IDs", "select", group, ro=True, external=True),
    ]  # fmt: skip


def _owner(label: str, group: str = _S) -> dict[str, Any]:
    """The owner property: an enumeration whose options are the portal's owners."""
    return prop("hubspot_owner_id", label, "select", group, ref="OWNER", desc="The owner of the record.")


_STAGE_DATES = [
    prop(f"hs_lifecyclestage_{v}_date", f"Became a {lbl} Date", "dt", "contactlcs", ro=True,
         desc=f"When the record first entered the {lbl} lifecycle stage.")
    for v, lbl in LIFECYCLE
]  # fmt: skip

DEFAULT_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        prop("email", "Email", "text", _C, desc="The contact's primary email address.", order=3),
        prop("firstname", "First Name", "text", _C, order=0),
        prop("lastname", "Last Name", "text", _C, order=1),
        prop("company", "Company Name", "text", _C, desc="Name of the contact's company, as entered."),
        prop("website", "Website URL", "text", _C),
        prop("jobtitle", "Job Title", "text", _C),
        prop("phone", "Phone Number", "phone", _C),
        prop("mobilephone", "Mobile Phone Number", "phone", _C),
        prop("address", "Street Address", "text", _C),
        prop("city", "City", "text", _C),
        prop("state", "State/Region", "text", _C),
        prop("zip", "Postal Code", "text", _C),
        prop("country", "Country/Region", "text", _C),
        prop("industry", "Industry", "text", _C, desc="The industry the contact works in, as free text."),
        prop("numemployees", "Number of Employees", "select", _C, EMPLOYEE_BANDS),
        prop("annualrevenue", "Annual Revenue", "num", _C, currency=True),
        prop("message", "Message", "textarea", _C),
        prop("lifecyclestage", "Lifecycle Stage", "radio", _C, LIFECYCLE, external=True,
             desc="The qualification of the contact to sales readiness."),
        prop("hs_lead_status", "Lead Status", "radio", _S, LEAD_STATUS,
             desc="The contact's sales, prospecting or outreach status."),
        _owner("Contact owner"),
        prop("hubspot_owner_assigneddate", "Owner assigned date", "dt", _S, ro=True),
        prop("associatedcompanyid", "Primary Associated Company ID", "num", _C, ref="COMPANY"),
        prop("hs_email_domain", "Email Domain", "text", _C, ro=True),
        prop("hubspotscore", "HubSpot Score", "num", _C, ro=True, desc="The contact's lead score in HubSpot."),
        prop("hs_email_optout", "Unsubscribed from all email", "bool", _E),
        prop("hs_analytics_source", "Original Traffic Source", "select", _A, ANALYTICS_SOURCE, ro=True),
        prop("hs_analytics_source_data_1", "Original Traffic Source Drill-Down 1", "text", _A, ro=True),
        prop("hs_latest_source", "Latest Traffic Source", "select", _A, ANALYTICS_SOURCE, ro=True),
        prop("hs_analytics_num_page_views", "Number of Pageviews", "num", _A, ro=True),
        prop("hs_analytics_num_visits", "Number of Sessions", "num", _A, ro=True),
        prop("hs_analytics_num_event_completions", "Number of event completions", "num", _A, ro=True),
        prop("hs_analytics_first_timestamp", "Time First Seen", "dt", _A, ro=True),
        prop("hs_analytics_last_timestamp", "Time Last Seen", "dt", _A, ro=True),
        prop("hs_analytics_last_visit_timestamp", "Time of Last Session", "dt", _A, ro=True),
        prop("hs_email_delivered", "Marketing emails delivered", "num", _E, ro=True),
        prop("hs_email_open", "Marketing emails opened", "num", _E, ro=True),
        prop("hs_email_click", "Marketing emails clicked", "num", _E, ro=True),
        prop("hs_email_bounce", "Marketing emails bounced", "num", _E, ro=True),
        prop("hs_email_last_open_date", "Last marketing email open date", "dt", _E, ro=True),
        prop("hs_email_last_click_date", "Last marketing email click date", "dt", _E, ro=True),
        prop("hs_sales_email_last_replied", "Recent Sales Email Replied Date", "dt", _E, ro=True),
        prop("num_conversion_events", "Number of Form Submissions", "num", "conversioninformation", ro=True),
        prop("first_conversion_date", "First Conversion Date", "dt", "conversioninformation", ro=True),
        prop("recent_conversion_date", "Recent Conversion Date", "dt", "conversioninformation", ro=True),
        prop("recent_conversion_event_name", "Recent Conversion", "text", "conversioninformation", ro=True),
        prop("notes_last_updated", "Last Activity Date", "dt", "contact_activity", ro=True),
        prop("notes_last_contacted", "Last Contacted", "dt", "contact_activity", ro=True),
        prop("num_contacted_notes", "Number of times contacted", "num", "contact_activity", ro=True),
        prop("num_notes", "Number of Sales Activities", "num", "contact_activity", ro=True),
        prop("hs_last_sales_activity_timestamp", "Last Engagement Date", "dt", "contact_activity", ro=True),
        prop("num_associated_deals", "Number of Associated Deals", "num", "deal_information", ro=True),
        prop("recent_deal_amount", "Recent Deal Amount", "num", "deal_information", ro=True, currency=True),
        prop("total_revenue", "Total Revenue", "num", "deal_information", ro=True, currency=True),
        *_STAGE_DATES,
        *_system(_C),
        prop("lastmodifieddate", "Last Modified Date", "dt", _C, ro=True,
             desc="Most recent timestamp of any property update of the contact."),
    ],
    "companies": [
        prop("name", "Company name", "text", _CO, desc="The name of the company or organization.", order=0),
        prop("domain", "Company Domain Name", "text", _CO, desc="The domain name of the company.", order=9),
        prop("website", "Website URL", "text", _CO, order=8),
        prop("industry", "Industry", "select", _CO, INDUSTRY, desc="The type of business the company performs.",
             order=12, ro_def=False, ro_options=False),
        prop("numberofemployees", "Number of Employees", "num", _CO, order=10),
        prop("annualrevenue", "Annual Revenue", "num", _CO, currency=True, order=13),
        prop("description", "Description", "textarea", _CO, order=17),
        prop("phone", "Phone Number", "phone", _CO, order=1),
        prop("address", "Street Address", "text", _CO, order=2),
        prop("city", "City", "text", _CO, order=3),
        prop("state", "State/Region", "text", _CO, order=4, ro_def=False),
        prop("zip", "Postal Code", "text", _CO, order=6),
        prop("country", "Country/Region", "text", _CO, order=7, ro_def=False),
        prop("founded_year", "Year Founded", "text", _CO),
        prop("is_public", "Is Public", "bool", _CO, form=False),
        prop("linkedin_company_page", "LinkedIn Company Page", "text", "socialmediainformation", order=3),
        prop("lifecyclestage", "Lifecycle Stage", "radio", _CO, LIFECYCLE, external=True, order=14),
        prop("hs_lead_status", "Lead Status", "radio", _S, LEAD_STATUS, ro_options=False, order=15),
        prop("type", "Type", "radio", _CO, COMPANY_TYPE, desc="The classification of the company record.",
             ro_options=False, order=16),
        prop("hs_parent_company_id", "Parent Company", "num", _CO, ref="COMPANY", ro=True, order=16),
        prop("hs_num_child_companies", "Number of child companies", "num", _CO, ro=True, order=17),
        _owner("Company owner") | {"displayOrder": 6},
        prop("hubspot_owner_assigneddate", "Owner assigned date", "dt", _S, ro=True),
        prop("hs_analytics_source", "Original Traffic Source", "select", _CO, ANALYTICS_SOURCE, ro_options=True,
             form=False),
        prop("hs_analytics_num_page_views", "Number of Pageviews", "num", _A, ro=True),
        prop("hs_analytics_num_visits", "Number of Sessions", "num", _A, ro=True),
        prop("num_associated_contacts", "Number of Associated Contacts", "rollup", _CO, ro=True),
        prop("num_associated_deals", "Number of Associated Deals", "rollup", "deal_information", ro=True),
        prop("hs_num_open_deals", "Number of open deals", "num", "deal_information", ro=True),
        prop("total_revenue", "Total Revenue", "rollup", _CO, ro=True, currency=True),
        prop("recent_deal_amount", "Recent Deal Amount", "num", "deal_information", ro=True, currency=True),
        prop("notes_last_updated", "Last Activity Date", "dt", "company_activity", ro=True, order=6),
        prop("notes_last_contacted", "Last Contacted", "dt", "company_activity", ro=True, order=6),
        prop("num_notes", "Number of Sales Activities", "num", _CO, ro=True, order=6),
        *_system(_CO, activity="company_activity"),
    ],
    "deals": [
        prop("dealname", "Deal Name", "text", _D, order=0),
        prop("amount", "Amount", "num", _D, currency=True),
        prop("dealstage", "Deal Stage", "radio", _D, DEAL_STAGES, desc="The stage of the deal in its pipeline."),
        prop("pipeline", "Pipeline", "select", _D, (("default", "Sales Pipeline"),)),
        prop("closedate", "Close Date", "dt", _D, desc="When the deal closed or is expected to close."),
        prop("dealtype", "Deal Type", "radio", _D,
             (("newbusiness", "New Business"), ("existingbusiness", "Existing Business"))),
        prop("description", "Deal Description", "textarea", _D),
        prop("hs_priority", "Priority", "select", _D, PRIORITY[1:]),
        _owner("Deal owner", _D),
        prop("hs_is_closed", "Is Deal Closed?", "bool", _D, ro=True),
        prop("hs_is_closed_won", "Is Closed Won", "bool", _D, ro=True),
        prop("hs_is_closed_lost", "Is Closed Lost", "bool", _D, ro=True),
        prop("hs_deal_stage_probability", "Deal probability", "num", _D, ro=True),
        prop("hs_closed_amount", "Closed Deal Amount", "num", _D, ro=True, currency=True),
        prop("days_to_close", "Days to close", "num", _D, ro=True),
        prop("num_associated_contacts", "Number of Contacts", "num", _D, ro=True),
        prop("notes_last_updated", "Last Activity Date", "dt", "deal_activity", ro=True),
        *_system(_D),
    ],
    "tasks": [
        prop("hs_task_subject", "Task Title", "text", "task"),
        prop("hs_task_body", "Notes", "html", "task"),
        prop("hs_task_status", "Task Status", "select", "task", TASK_STATUS),
        prop("hs_task_priority", "Priority", "select", "task", PRIORITY),
        prop("hs_task_type", "Task Type", "select", "task", TASK_TYPE),
        prop("hs_timestamp", "Due date", "dt", "task", desc="When the task is due; required on create."),
        prop("hs_task_completion_date", "Completed at", "dt", "task", ro=True),
        prop("hs_task_is_completed", "Completed", "num", "task", ro=True),
        prop("hs_task_reminders", "Reminder", "text", "task"),
        _owner("Assigned to", "task"),
        *_system("task", "hs_createdate"),
    ],
    "notes": [
        prop("hs_note_body", "Note body", "html", "note"),
        prop("hs_timestamp", "Activity date", "dt", "note", desc="When the note's activity happened."),
        _owner("Activity assigned to", "note"),
        *_system("note", "hs_createdate"),
    ],
}  # fmt: skip

DEFAULT_GROUPS: dict[str, list[dict[str, Any]]] = {
    t: [
        {"name": g, "label": GROUP_LABELS.get(g, g.replace("_", " ").capitalize()), "displayOrder": i,
         "archived": False}
        for i, g in enumerate(dict.fromkeys(p["groupName"] for p in DEFAULT_PROPERTIES[t]))
    ]
    for t in HS_OBJECT_TYPES
}  # fmt: skip
