"""Salesforce leads, their activity, and what converting them created (account, contact, opportunity).

A converted lead keeps its activity (WhoId stays the lead; real Salesforce would re-parent it to the new
contact, the sandbox keeps it on the lead so lead-level features need no join). Records created by a conversion
carry the conversion date as CreatedDate, and existing accounts keep their Type: a feature that looks at the
account must use what existed when the lead came in (CreatedDate before the lead's) to stay honest.
"""

from __future__ import annotations

from sandbox.seed.activity import ActivityRows, Row, follow_up_row, last_activity_date, touch_rows
from sandbox.seed.common import DAY, HOUR, Timeline
from sandbox.seed.org import OPEN_STAGES, STAGE_PROBABILITY, SfOrg, stamps
from sandbox.seed.outcomes import CHANNELS
from sandbox.seed.people import NO_COMPANY, Prospect

_PRODUCTS = ("Platform", "Platform + Analytics", "Starter", "Enterprise")


def write_leads(org: SfOrg, batch: list[Prospect]) -> None:
    """Insert one batch of prospects as Leads with their activity, and the records their conversions made."""
    tl, rng, world = org.tl, org.rng, org.world
    leads: list[Row] = []
    accounts: list[Row] = []
    contacts: list[Row] = []
    opps: list[Row] = []
    sdrs = org.users["sdr"]
    for p in batch:
        owner = sdrs[p.owner % len(sdrs)]
        touches = p.touches
        worked = any(kind in ("email", "call", "meeting") for _, kind, _ in touches)
        last = touches[-1][0] if touches else p.created
        row: Row = {
            "FirstName": p.first, "LastName": p.last, "Company": p.company, "Title": p.title or None,
            "Email": p.email, "Phone": p.phone, "Website": p.website, "LeadSource": CHANNELS[p.channel][0],
            "Industry": p.lead_industry, "NumberOfEmployees": p.lead_employees, "AnnualRevenue": p.revenue,
            "City": p.city, "State": p.state, "Country": p.country, "HasOptedOutOfEmail": p.opted_out,
            "IsUnreadByOwner": not worked, "LastActivityDate": last_activity_date(tl, touches), "OwnerId": owner,
        }  # fmt: skip
        if p.converted:
            comp = world.companies[p.account] if p.account is not None else None
            row |= _convert(org, p, org.ae(comp), accounts, contacts, opps)
        elif p.closed:
            row |= {"Status": "Closed - Not Converted", **stamps(tl, p.created, p.decision)}
        else:
            row |= {"Status": "Working - Contacted" if worked else "Open - Not Contacted",
                    **stamps(tl, p.created, max(last, p.created))}  # fmt: skip
        leads.append(row)
    with org.store.transaction():
        org.insert("Account", accounts)
        org.insert("Contact", contacts)
        org.insert("Opportunity", opps)
        lead_ids = org.insert("Lead", leads)  # ids allocated by the store, then used by the activity
        acts = ActivityRows()
        for p, lead_id, row in zip(batch, lead_ids, leads, strict=True):
            comp = world.companies[p.account] if p.account is not None else None
            touch_rows(
                rng, tl, world, acts, p.touches, who=lead_id, what=None, owner=str(row["OwnerId"]),
                meeting_owner=org.ae(comp), automation_user=org.users["automation"][0],
                campaign_ids=org.campaign_ids, first=p.first, company=p.company, is_lead=True, floor=p.created,
            )  # fmt: skip
            if not p.resolved and not row["IsUnreadByOwner"] and rng.random() < 0.5:
                created = min(p.last_activity, -HOUR)
                acts.tasks.append(follow_up_row(rng, tl, who=lead_id, owner=str(row["OwnerId"]), first=p.first,
                                                created=created))  # fmt: skip
        org.flush(acts)


def _convert(
    org: SfOrg, p: Prospect, ae: str, accounts: list[Row], contacts: list[Row], opps: list[Row]
) -> Row:
    """The account (existing or new), contact and opportunity a conversion creates; the lead's new fields."""
    tl, rng = org.tl, org.rng
    d = p.decision
    comp = org.world.companies[p.account] if p.account is not None else None
    if comp is not None:
        account_id = org.account_ids[comp.idx]
        account_name = comp.cname.name
    else:
        account_id = org.store.new_sf_id("Account")
        account_name = f"{p.first} {p.last}" if p.company in NO_COMPANY else p.company
        domain = p.new_company.domain if p.new_company else None
        accounts.append(
            {
                "Id": account_id, "Name": account_name, "Type": "Prospect",
                "Website": f"www.{domain}" if domain else None, "Industry": p.industry,
                "NumberOfEmployees": p.employees, "AnnualRevenue": p.revenue,
                "BillingCity": p.city, "BillingState": p.state, "BillingCountry": p.country,
                "AccountSource": CHANNELS[p.channel][0], "OwnerId": ae, **stamps(tl, d),
            }
        )  # fmt: skip
    contact_id = org.store.new_sf_id("Contact")
    contacts.append(
        {
            "Id": contact_id, "AccountId": account_id, "FirstName": p.first, "LastName": p.last, "Email": p.email,
            "Phone": p.phone, "Title": p.title or None, "LeadSource": CHANNELS[p.channel][0],
            "MailingCity": p.city, "MailingState": p.state, "MailingCountry": p.country, "OwnerId": ae,
            "HasOptedOutOfEmail": p.opted_out, **stamps(tl, d),
        }
    )  # fmt: skip
    opp_id = org.store.new_sf_id("Opportunity")
    opps.append(
        _opportunity(
            tl, (rng.random(), rng.random()), rng.randrange(20, 70), rng.choice(OPEN_STAGES), p, opp_id, account_id,
            account_name, ae, existing=bool(comp and comp.customer), product=rng.choice(_PRODUCTS),
        )
    )  # fmt: skip
    return {
        "Status": "Closed - Converted", "IsConverted": True, "ConvertedDate": tl.date(d),
        "ConvertedAccountId": account_id, "ConvertedContactId": contact_id, "ConvertedOpportunityId": opp_id,
        **stamps(tl, p.created, d),
    }  # fmt: skip


def _opportunity(
    tl: Timeline, draws: tuple[float, float], days_to_close: int, open_stage: str, p: Prospect, opp_id: str, account_id: str,
    account_name: str, owner: str, *, existing: bool, product: str,
) -> Row:  # fmt: skip
    """The opportunity of a conversion: closed (won about half the time) if the conversion is old enough."""
    d = p.decision
    age_days = -d // DAY
    if age_days > 75:
        stage = "Closed Won" if draws[0] < 0.5 else "Closed Lost"
        close = d + min(days_to_close, age_days - 1) * DAY
        modified = close
    else:
        stage, close, modified = open_stage, d + days_to_close * DAY, d
    employees = p.employees or 20
    amount = float(round(min(6_000 + employees * 30 * (0.5 + draws[1]), 900_000), -2))
    return {
        "Id": opp_id, "AccountId": account_id, "Name": f"{account_name} - {product}", "StageName": stage,
        "Amount": amount, "Probability": STAGE_PROBABILITY[stage], "CloseDate": tl.date(close),
        "Type": "Existing Business" if existing else "New Business", "LeadSource": CHANNELS[p.channel][0],
        "OwnerId": owner, **stamps(tl, d, modified),
    }  # fmt: skip
