"""The HubSpot portal: owners, companies with parent/child links and deal history, established contacts at
them with engagements, then new contacts (the leads of HubSpot) from `hubspot_contacts`.

HubSpot's own conventions apply: properties are strings, the outcome is the lifecycle stage (`customer`) and
won deals, engagements are tasks and notes associated to contacts (and tasks to companies), and the parent of
a company is both `hs_parent_company_id` and a child-to-parent association (type 14; 13 read from the parent).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from sandbox.hs_standard import DEAL_STAGE_META
from sandbox.seed.common import DAY, HOUR, NO_PROGRESS, ProgressFn, Timeline, chunks
from sandbox.seed.names import person_name
from sandbox.seed.world import Colleague, Company, HistOpp, Touch, World
from sandbox.store import Store
from sandbox.store_hubspot import HsRecord

Props = dict[str, str | None]
# association type ids (HUBSPOT_DEFINED): primary company (1, 5) and child-to-parent company (14) are labelled
CONTACT_TO_COMPANY, DEAL_TO_CONTACT, DEAL_TO_COMPANY, CHILD_TO_PARENT = 1, 3, 5, 14
# a labelled association also carries the pair's unlabelled type, as HubSpot reports it (and the API serves it)
UNLABELLED = {CONTACT_TO_COMPANY: 279, DEAL_TO_COMPANY: 341, CHILD_TO_PARENT: 450}
TASK_TO_CONTACT, NOTE_TO_CONTACT, TASK_TO_COMPANY = 204, 202, 192
OPEN_DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
                    "contractsent")  # fmt: skip
# Salesforce industry picklist value -> HubSpot company industry option
HS_INDUSTRY = {
    "Technology": "COMPUTER_SOFTWARE", "Finance": "FINANCIAL_SERVICES", "Banking": "BANKING", "Insurance": "INSURANCE",
    "Healthcare": "HOSPITAL_HEALTH_CARE", "Telecommunications": "TELECOMMUNICATIONS", "Retail": "RETAIL",
    "Manufacturing": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING", "Energy": "OIL_ENERGY", "Utilities": "UTILITIES",
    "Transportation": "TRANSPORTATION_TRUCKING_RAILROAD", "Shipping": "PACKAGE_FREIGHT_DELIVERY",
    "Media": "ONLINE_MEDIA", "Consulting": "MANAGEMENT_CONSULTING", "Electronics": "CONSUMER_ELECTRONICS",
    "Biotechnology": "BIOTECHNOLOGY", "Chemicals": "CHEMICALS", "Engineering": "CIVIL_ENGINEERING",
    "Communications": "PUBLIC_RELATIONS_AND_COMMUNICATIONS", "Entertainment": "ENTERTAINMENT",
    "Food & Beverage": "FOOD_BEVERAGES", "Apparel": "APPAREL_FASHION", "Machinery": "MACHINERY",
    "Construction": "CONSTRUCTION", "Government": "GOVERNMENT_ADMINISTRATION",
    "Not For Profit": "NON_PROFIT_ORGANIZATION_MANAGEMENT", "Education": "HIGHER_EDUCATION", "Agriculture": "FARMING",
    "Hospitality": "HOSPITALITY", "Recreation": "RECREATIONAL_FACILITIES_AND_SERVICES",
    "Environmental": "ENVIRONMENTAL_SERVICES",
}  # fmt: skip
_TEAM = (("Sales", "Sales Director"), ("Sales", "Account Executive"), ("Sales", "Account Executive"),
         ("Sales", "Account Executive"), ("Sales", "Account Executive"), ("SDR", "SDR Manager"), ("SDR", "SDR"),
         ("SDR", "SDR"), ("SDR", "SDR"), ("SDR", "SDR"), ("Marketing", "Marketing Ops"), ("Operations", "RevOps"))  # fmt: skip
CHUNK = 10_000


@dataclass
class HsOrg:
    """Ids and state the HubSpot writers share."""

    store: Store
    rng: random.Random
    tl: Timeline
    world: World
    progress: ProgressFn = NO_PROGRESS
    owners: dict[str, list[str]] = field(default_factory=dict)  # "ae", "sdr", "other" -> owner ids
    company_ids: dict[int, int] = field(default_factory=dict)  # world company index -> HubSpot id
    counts: Counter[str] = field(default_factory=Counter)
    tasks: list[tuple[int, Props, int, int | None]] = field(
        default_factory=list
    )  # queued, with contact, company
    notes: list[tuple[int, Props, int]] = field(default_factory=list)

    def insert(self, type_: str, rows: list[tuple[int, Props]]) -> list[HsRecord]:
        """Insert (created minute, props) rows, batched by creation time; records come back in input order."""
        out: list[HsRecord | None] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: rows[i][0])
        i = 0
        while i < len(order):
            j = i
            minute = rows[order[i]][0]
            while j < len(order) and rows[order[j]][0] == minute:
                j += 1
            recs = self.store.hs_insert_many(type_, [rows[k][1] for k in order[i:j]], when=self.tl.dt(minute))
            for k, rec in zip(order[i:j], recs, strict=True):
                out[k] = rec
            i = j
        self.counts[f"hs.{type_}"] += len(rows)
        return [r for r in out if r is not None]

    def associate(self, pairs: list[tuple[str, int, str, int, int]]) -> None:
        for from_type, from_id, to_type, to_id, type_id in pairs:
            self.store.hs_associate(from_type, from_id, to_type, to_id, type_id)
            if type_id in UNLABELLED:
                self.store.hs_associate(from_type, from_id, to_type, to_id, UNLABELLED[type_id])
        self.counts["hs.associations"] += len(pairs)

    def ae(self, company: Company | None) -> str:
        aes = self.owners["ae"]
        return aes[company.owner % len(aes)] if company else aes[self.rng.randrange(len(aes))]


def hour(m: int) -> int:
    """Contacts and companies are created in two-hourly batches (the store stamps a whole batch at once)."""
    return m - m % (2 * HOUR)


def day_end(m: int) -> int:
    """Engagements and deals are logged by a nightly sync: created at 23:59 of their day (never after `now`,
    since everything seeded happens before the anchor, midnight)."""
    return m - m % DAY + DAY - 1


def seed_hubspot(
    store: Store, tl: Timeline, *, seed: int, contacts: int, progress: ProgressFn
) -> Counter[str]:
    """A HubSpot portal with about `contacts` contacts, from its own random stream of `seed`."""
    from sandbox.seed.hubspot_contacts import write_new_contacts

    rng = random.Random(f"leadq-seed:{seed}:hubspot")
    world = World(rng, max(15, contacts // 6), n_aes=4)
    hs = HsOrg(store, rng, tl, world, progress)
    write_owners(hs)
    established = write_companies(hs, budget=contacts // 4)
    if contacts - established > 0:
        write_new_contacts(hs, seed, contacts - established)
    return hs.counts


def write_owners(hs: HsOrg) -> None:
    """Owners in the shape of `GET /crm/v3/owners` (a sales team with an SDR team, marketing and revops)."""
    rng, tl = hs.rng, hs.tl
    teams = {
        name: str(rng.randrange(1_000_000, 9_999_999)) for name in ("Sales", "SDR", "Marketing", "Operations")
    }
    for team, title in _TEAM:
        first, last = person_name(rng)
        owner_id = str(rng.randrange(30_000_000, 90_000_000))
        user_id = rng.randrange(1_000_000, 9_999_999)
        created = tl.hs(-rng.randrange(400, 1500) * DAY)
        hs.store.hs_put_owner(
            {
                "id": owner_id, "email": f"{first}.{last}@brightwave.example".lower().replace(" ", ""),
                "type": "PERSON", "firstName": first, "lastName": last, "userId": user_id,
                "userIdIncludingInactive": user_id, "createdAt": created, "updatedAt": created, "archived": False,
                "teams": [{"id": teams[team], "name": team, "primary": True}],
            }
        )  # fmt: skip
        role = {"Account Executive": "ae", "SDR": "sdr"}.get(title, "other")
        hs.owners.setdefault(role, []).append(owner_id)
        hs.counts["hs.owners"] += 1


def company_props(hs: HsOrg, c: Company, children: int, last_activity: int | None) -> Props:
    won = [o for o in c.opps if o.stage == "won"]
    lifecycle = (
        "customer" if c.customer else ("opportunity" if any(o.stage == "open" for o in c.opps) else "lead")
    )
    return {
        "name": c.cname.name, "domain": c.cname.domain,
        "website": f"www.{c.cname.domain}" if hs.rng.random() < 0.7 else f"https://{c.cname.domain}",
        "industry": HS_INDUSTRY.get(c.industry), "numberofemployees": str(c.employees),
        "annualrevenue": f"{c.revenue:.0f}", "city": c.city, "state": c.state, "country": c.country,
        "phone": f"({hs.rng.randrange(201, 990)}) 555-01{hs.rng.randrange(100):02d}", "lifecyclestage": lifecycle,
        "type": {"partner": "PARTNER", "prospect": "PROSPECT"}.get(c.kind),
        "hs_parent_company_id": str(hs.company_ids[c.parent]) if c.parent is not None else None,
        "hs_num_child_companies": str(children) if children else None, "hubspot_owner_id": hs.ae(c),
        "hs_num_open_deals": str(sum(1 for o in c.opps if o.stage == "open")),
        "total_revenue": f"{sum(o.amount for o in won):.0f}" if won else None,
        "notes_last_updated": hs.tl.hs(last_activity) if last_activity is not None else None,
        "hs_object_source": "CRM_UI",
    }  # fmt: skip


def write_companies(hs: HsOrg, budget: int) -> int:
    """Parents first (children need their ids), each with deal history and established contacts; returns
    how many contacts were created (at most about `budget`)."""
    world = hs.world
    children = Counter(c.parent for c in world.companies if c.parent is not None)
    roots = [c for c in world.companies if c.parent is None]
    subsidiaries = [c for c in world.companies if c.parent is not None]
    batches = [
        *chunks(roots, CHUNK // 4),
        *chunks(subsidiaries, CHUNK // 4),
    ]  # a parent is always written first
    made, done = 0, 0
    for batch in batches:
        people: list[list[Colleague]] = []
        for c in batch:
            people.append(world.colleagues(c, limit=None if made < budget else 0))
            made += len(people[-1])
        with hs.store.transaction():
            rows = []
            for c, ps in zip(batch, people, strict=True):
                latest = max((t[0] for p in ps for t in p.touches), default=None)
                rows.append((hour(c.created), company_props(hs, c, children[c.idx], latest)))
            for c, rec in zip(batch, hs.insert("companies", rows), strict=True):
                hs.company_ids[c.idx] = rec.id
            hs.associate([("companies", hs.company_ids[c.idx], "companies", hs.company_ids[c.parent], CHILD_TO_PARENT)
                          for c in batch if c.parent is not None])  # fmt: skip
            contact_ids = _write_established(hs, batch, people)
            _write_history_deals(hs, batch, contact_ids)
            flush_engagements(hs)
        done += len(batch)
        hs.progress("HubSpot companies", done, len(world.companies))
    return made


def _write_established(
    hs: HsOrg, batch: list[Company], people: list[list[Colleague]]
) -> dict[int, list[int]]:
    """Contacts known before the last 180 days, with their recent engagements."""
    tl, rng = hs.tl, hs.rng
    rows: list[tuple[int, Props]] = []
    for c, ps in zip(batch, people, strict=True):
        for p in ps:
            lifecycle = ("customer" if c.customer else "other" if c.kind == "partner"
                         else rng.choice(("lead", "lead", "salesqualifiedlead", "opportunity")))  # fmt: skip
            web = [t for t in p.touches if t[1] in ("web", "pricing")]
            rows.append(
                (hour(p.created), {
                    "email": p.email, "firstname": p.first, "lastname": p.last, "company": c.cname.name,
                    "jobtitle": p.title, "phone": p.phone, "city": c.city, "state": c.state, "country": c.country,
                    "website": f"www.{c.cname.domain}", "lifecyclestage": lifecycle,
                    "hs_lifecyclestage_customer_date": tl.hs(min(o.close for o in c.opps if o.stage == "won"))
                    if lifecycle == "customer" and any(o.stage == "won" for o in c.opps) else None,
                    "hubspot_owner_id": hs.ae(c), "associatedcompanyid": str(hs.company_ids[c.idx]),
                    "hs_analytics_source": rng.choice(("OFFLINE", "DIRECT_TRAFFIC", "ORGANIC_SEARCH", "REFERRALS")),
                    "hs_analytics_num_visits": str(len(web)),
                    "hs_analytics_num_page_views": str(sum(rng.randint(1, 4) for _ in web)),
                    "notes_last_updated": tl.hs(p.touches[-1][0]) if p.touches else None,
                    "hs_object_source": "CRM_UI",
                })
            )  # fmt: skip
    flat = [(c, p) for c, ps in zip(batch, people, strict=True) for p in ps]
    recs = hs.insert("contacts", rows)
    out: dict[int, list[int]] = {}
    for (c, p), rec in zip(flat, recs, strict=True):
        out.setdefault(c.idx, []).append(rec.id)
        hs.associate([("contacts", rec.id, "companies", hs.company_ids[c.idx], CONTACT_TO_COMPANY)])
        write_engagements(hs, rec.id, hs.company_ids[c.idx], p.touches, hs.ae(c), p.first, floor=p.created)
    return out


def _write_history_deals(hs: HsOrg, batch: list[Company], contact_ids: dict[int, list[int]]) -> None:
    rows: list[tuple[int, Props]] = []
    links: list[tuple[int, HistOpp]] = []
    for c in batch:
        for o in c.opps:
            stage = {"won": "closedwon", "lost": "closedlost"}.get(o.stage) or hs.rng.choice(OPEN_DEAL_STAGES)
            rows.append((day_end(o.created), deal_props(hs.tl, f"{c.cname.core} - {o.name}", o.amount, stage, o.close,
                                                     hs.ae(c), new=o.name == "New Business")))  # fmt: skip
            links.append((c.idx, o))
    for (idx, _), rec in zip(links, hs.insert("deals", rows), strict=True):
        pairs = [("deals", rec.id, "companies", hs.company_ids[idx], DEAL_TO_COMPANY)]
        pairs += [("deals", rec.id, "contacts", cid, DEAL_TO_CONTACT) for cid in contact_ids.get(idx, [])[:2]]
        hs.associate(pairs)


def deal_props(
    tl: Timeline, name: str, amount: float, stage: str, close: int, owner: str, *, new: bool
) -> Props:
    """A deal in the default pipeline, with the closed/won flags HubSpot derives from the stage."""
    _, probability, closed = DEAL_STAGE_META[stage]
    return {
        "dealname": name, "amount": f"{amount:.0f}", "dealstage": stage, "pipeline": "default",
        "closedate": tl.hs(close), "hubspot_owner_id": owner, "dealtype": "newbusiness" if new else "existingbusiness",
        "hs_is_closed": "true" if closed else "false", "hs_is_closed_won": "true" if stage == "closedwon" else "false",
        "hs_is_closed_lost": "true" if stage == "closedlost" else "false",
        "hs_deal_stage_probability": str(probability),
    }  # fmt: skip


def write_engagements(
    hs: HsOrg,
    contact_id: int,
    company_id: int | None,
    touches: list[Touch],
    owner: str,
    first: str,
    *,
    floor: int,
) -> None:
    """Queue the tasks (emails, calls) and notes (replies, meetings, demo requests, events attended) of one contact;
    `flush_engagements` writes them. Page views and most form submissions live in the contact's analytics
    and conversion properties, as in HubSpot."""
    tl, rng = hs.tl, hs.rng
    for m, kind, detail in touches:
        if kind == "email" or kind == "call":
            subject = f"Follow up with {first}" if kind == "email" else f"Call: {detail or 'connected'}"
            hs.tasks.append((day_end(max(m, floor)), {
                "hs_task_subject": subject, "hs_task_body": f"<p>{subject}</p>", "hs_task_status": "COMPLETED",
                "hs_task_type": "EMAIL" if kind == "email" else "CALL", "hs_task_priority": "MEDIUM",
                "hs_timestamp": tl.hs(m), "hs_task_completion_date": tl.hs(m), "hubspot_owner_id": owner,
            }, contact_id, company_id))  # fmt: skip
            continue
        if kind == "reply":
            body = "Email reply: Re: " + rng.choice(("Quick question", "Following up", "Next steps"))
        elif kind == "meeting":
            body = f"Meeting: {detail or 'Check-in'}"
        elif kind == "form" and detail in ("Request a demo", "Contact sales"):
            body = f"Form submission: {detail}"  # reps log the sales-ready requests; the rest is analytics
        elif kind == "campaign" and detail.endswith(":1"):
            body = f"Attended: {hs.world.campaigns[int(detail.split(':')[0])].name}"
        else:
            continue
        hs.notes.append((day_end(max(m, floor)), {"hs_note_body": f"<p>{body}</p>", "hs_timestamp": tl.hs(m),
                                               "hubspot_owner_id": owner}, contact_id))  # fmt: skip


def flush_engagements(hs: HsOrg) -> None:
    """Write the queued tasks and notes with their associations."""
    pairs: list[tuple[str, int, str, int, int]] = []
    tasks = hs.insert("tasks", [(m, props) for m, props, _, _ in hs.tasks])
    for (_, _, contact_id, company_id), rec in zip(hs.tasks, tasks, strict=True):
        pairs.append(("tasks", rec.id, "contacts", contact_id, TASK_TO_CONTACT))
        if company_id is not None:
            pairs.append(("tasks", rec.id, "companies", company_id, TASK_TO_COMPANY))
    notes = hs.insert("notes", [(m, props) for m, props, _ in hs.notes])
    pairs += [
        ("notes", rec.id, "contacts", cid, NOTE_TO_CONTACT)
        for (_, _, cid), rec in zip(hs.notes, notes, strict=True)
    ]
    hs.associate(pairs)
    hs.tasks.clear()
    hs.notes.clear()


def follow_up_task(
    hs: HsOrg, contact_id: int, company_id: int | None, owner: str, first: str, created: int
) -> None:
    """Queue an open task due in the next week."""
    due = hs.rng.randrange(1, 8) * DAY
    props: Props = {"hs_task_subject": f"Follow up with {first}", "hs_task_status": "NOT_STARTED",
                    "hs_task_type": hs.rng.choice(("CALL", "EMAIL")), "hs_task_priority": "MEDIUM",
                    "hs_timestamp": hs.tl.hs(due), "hubspot_owner_id": owner}  # fmt: skip
    hs.tasks.append((day_end(created), props, contact_id, company_id))
