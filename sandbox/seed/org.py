"""The Salesforce org around the leads: users with a management chain, campaigns, accounts with parent and
subsidiary hierarchies and deal history, and contacts with their recent activity (the buying centres)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from sandbox.seed.activity import ActivityRows, Row, last_activity_date, touch_rows
from sandbox.seed.common import DAY, HISTORY_DAYS, NO_PROGRESS, ProgressFn, Timeline, chunks
from sandbox.seed.names import person_name
from sandbox.seed.world import Colleague, Company, HistOpp, Touch, World
from sandbox.store import Store

SELLER_DOMAIN = "brightwave.example"
# (role, title, department, manager role)
TEAM: tuple[tuple[str, str, str, str | None], ...] = (
    ("vp", "VP of Sales", "Sales", None),
    ("mgr_east", "Sales Manager, East", "Sales", "vp"),
    ("mgr_west", "Sales Manager, West", "Sales", "vp"),
    ("sdr_mgr", "SDR Manager", "Sales Development", "vp"),
    ("ae", "Account Executive", "Sales", "mgr_east"),
    ("ae", "Account Executive", "Sales", "mgr_east"),
    ("ae", "Senior Account Executive", "Sales", "mgr_east"),
    ("ae", "Account Executive", "Sales", "mgr_west"),
    ("ae", "Account Executive", "Sales", "mgr_west"),
    ("ae", "Senior Account Executive", "Sales", "mgr_west"),
    ("sdr", "Sales Development Rep", "Sales Development", "sdr_mgr"),
    ("sdr", "Sales Development Rep", "Sales Development", "sdr_mgr"),
    ("sdr", "Sales Development Rep", "Sales Development", "sdr_mgr"),
    ("sdr", "Senior Sales Development Rep", "Sales Development", "sdr_mgr"),
    ("sdr", "Sales Development Rep", "Sales Development", "sdr_mgr"),
    ("reviewer", "Marketing Operations Manager", "Marketing", "vp"),
    ("reviewer", "Revenue Operations Analyst", "Operations", "vp"),
    ("automation", "Marketing automation (Pardot)", "Marketing", None),
)
STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50,
                     "Id. Decision Makers": 60, "Perception Analysis": 70, "Proposal/Price Quote": 75,
                     "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0}  # fmt: skip
OPEN_STAGES = ("Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Proposal/Price Quote",
               "Negotiation/Review")  # fmt: skip
CHUNK = 2000


@dataclass
class SfOrg:
    """Ids and state the Salesforce writers share."""

    store: Store
    rng: random.Random
    tl: Timeline
    world: World
    progress: ProgressFn = NO_PROGRESS
    users: dict[str, list[str]] = field(default_factory=dict)
    account_ids: list[str] = field(default_factory=list)
    campaign_ids: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def insert(self, obj: str, rows: list[Row]) -> list[str]:
        if not rows:
            return []
        self.counts[f"sf.{obj}"] += len(rows)
        return self.store.sf_insert_many(obj, rows)

    def flush(self, acts: ActivityRows) -> None:
        self.insert("Task", acts.tasks)
        self.insert("Event", acts.events)
        self.insert("CampaignMember", acts.members)

    def ae(self, company: Company | None) -> str:
        aes = self.users["ae"]
        return aes[company.owner % len(aes)] if company else aes[self.rng.randrange(len(aes))]


def stamps(tl: Timeline, created: int, modified: int | None = None) -> Row:
    """CreatedDate / LastModifiedDate / SystemModstamp for a record created and last changed at given minutes."""
    c = tl.sf(created)
    mo = tl.sf(modified) if modified is not None else c
    return {"CreatedDate": c, "LastModifiedDate": mo, "SystemModstamp": mo}


def write_users(org: SfOrg) -> None:
    """The sales team: a VP, two sales managers, an SDR manager, AEs, SDRs, two reviewers, an automation user."""
    rng, tl = org.rng, org.tl
    ids_by_role: dict[str, str] = {}
    rows: list[Row] = []
    taken: set[str] = set()
    for role, title, dept, manager in TEAM:
        uid = org.store.new_sf_id("User")
        if role == "automation":
            first, last, local = "Marketing", "Automation", "marketing.automation"
        else:
            first, last = person_name(rng)
            local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
            while local in taken:
                local += str(rng.randrange(10))
        taken.add(local)
        ids_by_role.setdefault(role, uid)
        org.users.setdefault(role, []).append(uid)
        rows.append(
            {
                "Id": uid, "Username": f"{local}@{SELLER_DOMAIN}", "FirstName": first, "LastName": last,
                "Email": f"{local}@{SELLER_DOMAIN}", "Title": title, "Department": dept, "IsActive": True,
                "ManagerId": ids_by_role.get(manager) if manager else None, "UserRoleName__c": title,
                **stamps(tl, -rng.randrange(400, 1500) * DAY),
            }
        )  # fmt: skip
    org.insert("User", rows)


def write_campaigns(org: SfOrg) -> None:
    rows: list[Row] = []
    owner = org.users["reviewer"][0]
    for c in org.world.campaigns:
        status = "Completed" if c.end < 0 else ("In Progress" if c.start <= 0 else "Planned")
        rows.append(
            {
                "Name": c.name, "Type": c.type, "Status": status, "StartDate": org.tl.date(c.start),
                "EndDate": org.tl.date(c.end), "IsActive": status != "Completed", "OwnerId": owner,
                **stamps(org.tl, min(c.start - 30 * DAY, -DAY)),
            }
        )  # fmt: skip
    org.campaign_ids = org.insert("Campaign", rows)


def write_accounts(org: SfOrg) -> None:
    """Every company of the world as an Account (parents linked by pre-allocated ids) with its deal history,
    its known people as Contacts, and their activity of the last 180 days."""
    world, tl, rng = org.world, org.tl, org.rng
    org.account_ids = [org.store.new_sf_id("Account") for _ in world.companies]
    total, done = len(world.companies), 0
    for batch in chunks(world.companies, CHUNK // 4):
        accounts: list[Row] = []
        contacts: list[Row] = []
        people: list[tuple[Company, Colleague, list[Touch]]] = []
        for c in batch:
            latest: list[int] = []
            for person in world.colleagues(c):
                touches = person.touches
                if rng.random() < 0.2:
                    camp = world.campaign_in(rng, -HISTORY_DAYS * DAY, -DAY)
                    if camp is not None:
                        responded = int(rng.random() < 0.4)
                        touches = [*touches, (world.campaigns[camp].start, "campaign", f"{camp}:{responded}")]
                latest += [m for m, kind, _ in touches if kind != "campaign"]
                people.append((c, person, touches))
                contacts.append(
                    {
                        "AccountId": org.account_ids[c.idx], "FirstName": person.first,
                        "LastName": person.last, "Email": person.email, "Phone": person.phone, "Title": person.title,
                        "LeadSource": rng.choice(("Web", "Partner Referral", "Phone Inquiry", "Other")),
                        "MailingCity": c.city, "MailingState": c.state, "MailingCountry": c.country,
                        "OwnerId": org.ae(c), "LastActivityDate": last_activity_date(tl, touches),
                        **stamps(tl, person.created, max([person.created, *(m for m, _, _ in touches)])),
                    }
                )  # fmt: skip
            accounts.append(_account_row(org, c, tl.date(max(latest)) if latest else None))
        with org.store.transaction():
            org.insert("Account", accounts)
            org.insert("Opportunity", [_history_row(org, c, o) for c in batch for o in c.opps])
            acts = ActivityRows()
            for (c, person, touches), cid in zip(people, org.insert("Contact", contacts), strict=True):
                touch_rows(
                    rng, tl, world, acts, touches, who=cid, what=org.account_ids[c.idx], owner=org.ae(c),
                    meeting_owner=org.ae(c), automation_user=org.users["automation"][0],
                    campaign_ids=org.campaign_ids, first=person.first, company=c.cname.core, is_lead=False,
                    floor=person.created,
                )  # fmt: skip
            org.flush(acts)
        done += len(batch)
        org.progress("Salesforce accounts and contacts", done, total)


def _account_row(org: SfOrg, c: Company, last_activity: str | None) -> Row:
    rng = org.rng
    kind = {"customer_direct": "Customer - Direct", "customer_channel": "Customer - Channel",
            "partner": "Partner"}.get(c.kind, "Prospect")  # fmt: skip
    site = rng.choice((f"https://www.{c.cname.domain}", f"www.{c.cname.domain}", c.cname.domain))
    return {
        "Id": org.account_ids[c.idx], "Name": c.cname.name, "Type": kind,
        "ParentId": org.account_ids[c.parent] if c.parent is not None else None,
        "Website": site, "Phone": f"({rng.randrange(201, 990)}) 555-01{rng.randrange(100):02d}",
        "Industry": c.industry, "NumberOfEmployees": c.employees, "AnnualRevenue": c.revenue,
        "BillingCity": c.city, "BillingState": c.state, "BillingCountry": c.country,
        "AccountSource": rng.choice(("Web", "Partner Referral", "Purchased List", "Other")),
        "OwnerId": org.ae(c), "LastActivityDate": last_activity, **stamps(org.tl, c.created),
    }  # fmt: skip


def _history_row(org: SfOrg, c: Company, o: HistOpp) -> Row:
    rng = org.rng
    stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(o.stage) or rng.choice(OPEN_STAGES)
    closed = o.stage != "open"
    return {
        "AccountId": org.account_ids[c.idx], "Name": f"{c.cname.core} - {o.name}", "StageName": stage,
        "Amount": o.amount, "Probability": STAGE_PROBABILITY[stage], "CloseDate": org.tl.date(o.close),
        "Type": "New Business" if o.name == "New Business" else "Existing Business",
        "LeadSource": rng.choice(("Web", "Partner Referral", "Phone Inquiry", "Other")), "OwnerId": org.ae(c),
        **stamps(org.tl, o.created, o.close if closed else min(o.created + 20 * DAY, -DAY)),
    }  # fmt: skip
