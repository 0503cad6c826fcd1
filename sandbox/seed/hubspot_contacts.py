"""HubSpot contacts of the last 180 days: the portal's leads, with web analytics, engagements and outcomes.

They follow the same latent model as the Salesforce leads (`people`, `outcomes`), drawn from the portal's own
random stream. The outcome is a won deal and the `customer` lifecycle stage, dated after every engagement of
the contact. Contacts from new business domains get a company record half the time (HubSpot's automatic
company creation); free-mail contacts and those typing a variant of a known company's name get none, so
matching them to companies is left to the reader, as in a real portal.
"""

from __future__ import annotations

import random

from sandbox.seed.common import DAY, HOUR
from sandbox.seed.hubspot import (
    CHUNK,
    CONTACT_TO_COMPANY,
    DEAL_TO_COMPANY,
    DEAL_TO_CONTACT,
    HS_INDUSTRY,
    OPEN_DEAL_STAGES,
    HsOrg,
    Props,
    day_end,
    deal_props,
    flush_engagements,
    follow_up_task,
    hour,
    write_engagements,
)
from sandbox.seed.outcomes import CHANNELS, TARGET_RATE
from sandbox.seed.people import Prospect, generate

_SOURCE_DETAIL = {"organic": "google", "paid_search": "google ads", "direct": None, "social": "linkedin",
                  "paid_social": "linkedin ads", "email": "newsletter", "referral": "partner site",
                  "phone": "phone inquiry", "list": "list import"}  # fmt: skip
_OBJECT_SOURCE = {"list": "IMPORT", "phone": "CRM_UI", "referral": "CRM_UI"}
_PRODUCTS = ("Platform", "Platform + Analytics", "Starter", "Enterprise")


def employee_band(n: int | None) -> str | None:
    """HubSpot's `numemployees` option for a head count."""
    if n is None:
        return None
    for limit, band in (
        (5, "1-5"),
        (25, "5-25"),
        (50, "25-50"),
        (100, "50-100"),
        (500, "100-500"),
        (1000, "500-1000"),
    ):
        if n <= limit:
            return band
    return "1000+"


def write_new_contacts(hs: HsOrg, seed: int, count: int) -> None:
    """`count` contacts created in the last 180 days, written in chunks."""
    done = 0
    outcome_rng = random.Random(f"leadq-seed:{seed}:hubspot-outcomes")
    n_sdrs = len(hs.owners["sdr"])
    for batch in generate(
        hs.rng, hs.world, count, n_sdrs, outcome_rng=outcome_rng, target=TARGET_RATE, chunk=CHUNK
    ):
        with hs.store.transaction():
            _write_batch(hs, batch)
        done += len(batch)
        hs.progress("HubSpot contacts", done, count)


def _write_batch(hs: HsOrg, batch: list[Prospect]) -> None:
    rng, world = hs.rng, hs.world
    # companies HubSpot created automatically from new business domains
    auto = [p for p in batch if p.new_company is not None and rng.random() < 0.5]
    rows = [(hour(p.created), _auto_company(hs, p)) for p in auto]
    auto_ids = {id(p): rec.id for p, rec in zip(auto, hs.insert("companies", rows), strict=True)}
    company_of: list[int | None] = []
    for p in batch:
        if p.match == "domain" and p.account is not None:
            company_of.append(hs.company_ids[p.account])
        else:
            company_of.append(auto_ids.get(id(p)))
    outcomes = [_outcome(hs, p) for p in batch]
    contact_rows = [(hour(p.created), _contact_props(hs, p, cid, out)) for p, cid, out in zip(batch, company_of, outcomes, strict=True)]  # fmt: skip
    contacts = hs.insert("contacts", contact_rows)
    deal_rows: list[tuple[int, Props]] = []
    deal_links: list[tuple[int, int | None]] = []
    for p, rec, cid, (stage, close) in zip(batch, contacts, company_of, outcomes, strict=True):
        if cid is not None:
            hs.associate([("contacts", rec.id, "companies", cid, CONTACT_TO_COMPANY)])
        comp = world.companies[p.account] if p.account is not None else None
        owner = hs.owners["sdr"][p.owner % len(hs.owners["sdr"])]
        engaged = [t for t in p.touches if t[1] not in ("web", "pricing", "careers")]
        write_engagements(hs, rec.id, cid, engaged, owner, p.first, floor=p.created)
        if not p.resolved and any(t[1] in ("email", "call") for t in p.touches) and rng.random() < 0.5:
            follow_up_task(hs, rec.id, cid, owner, p.first, min(p.last_activity, -HOUR))
        if stage is not None:
            amount = float(round(6_000 + (p.employees or 20) * 30 * (0.5 + rng.random()), -2))
            name = f"{comp.cname.core if comp else p.company} - {rng.choice(_PRODUCTS)}"
            deal_rows.append((day_end(p.decision), deal_props(hs.tl, name, min(amount, 900_000), stage, close,
                                                           hs.ae(comp), new=not (comp and comp.customer))))  # fmt: skip
            deal_links.append((rec.id, cid))
    for (contact_id, cid), deal in zip(deal_links, hs.insert("deals", deal_rows), strict=True):
        pairs = [("deals", deal.id, "contacts", contact_id, DEAL_TO_CONTACT)]
        if cid is not None:
            pairs.append(("deals", deal.id, "companies", cid, DEAL_TO_COMPANY))
        hs.associate(pairs)
    flush_engagements(hs)


def _outcome(hs: HsOrg, p: Prospect) -> tuple[str | None, int]:
    """(deal stage or None, close minute): converters win, once the deal has had time to close; some others
    get as far as a deal and lose it."""
    rng = hs.rng
    close = p.decision + rng.randrange(7, 45) * DAY
    if p.converted:
        return ("closedwon" if close < 0 else rng.choice(OPEN_DEAL_STAGES)), close
    if p.resolved and rng.random() < 0.5 * p.p:
        return ("closedlost" if close < 0 else rng.choice(OPEN_DEAL_STAGES)), close
    return None, close


def _auto_company(hs: HsOrg, p: Prospect) -> Props:
    assert p.new_company is not None
    return {
        "name": p.new_company.name, "domain": p.new_company.domain, "website": f"www.{p.new_company.domain}",
        "industry": HS_INDUSTRY.get(p.industry or ""), "numberofemployees": str(p.employees) if p.employees else None,
        "city": p.city, "state": p.state, "country": p.country, "lifecyclestage": "lead", "type": "PROSPECT",
        "hs_object_source": "INTEGRATION", "hubspot_owner_id": hs.ae(None),
    }  # fmt: skip


def _contact_props(hs: HsOrg, p: Prospect, company_id: int | None, outcome: tuple[str | None, int]) -> Props:
    tl, rng, s = hs.tl, hs.rng, p.signals
    stage, close = outcome
    t = p.touches
    web = [m for m, k, _ in t if k in ("web", "pricing", "careers")]
    forms = [(m, d) for m, k, d in t if k == "form"]
    outreach = [m for m, k, _ in t if k in ("email", "call")]
    replies = [m for m, k, _ in t if k == "reply"]
    engaged = [m for m, k, _ in t if k not in ("web", "pricing", "careers", "campaign")]
    worked = bool(outreach) or any(k == "meeting" for _, k, _ in t)
    mql = s.demo_request or len(web) >= 5 or s.content_downloads >= 2
    if stage == "closedwon":
        lifecycle, status = "customer", "CONNECTED"
    elif stage is not None:
        lifecycle, status = "opportunity", "OPEN_DEAL" if close >= 0 else "UNQUALIFIED"
    elif p.resolved and p.closed:
        lifecycle, status = (
            ("marketingqualifiedlead" if mql else "lead"),
            rng.choice(("UNQUALIFIED", "BAD_TIMING")),
        )
    else:
        only_newsletter = forms and all(d == "Newsletter signup" for _, d in forms) and not web
        lifecycle = ("salesqualifiedlead" if s.meetings and not p.resolved else "marketingqualifiedlead" if mql
                     else "subscriber" if only_newsletter else "lead")  # fmt: skip
        status = (
            rng.choice(("ATTEMPTED_TO_CONTACT", "CONNECTED", "IN_PROGRESS"))
            if worked
            else rng.choice(("NEW", "OPEN"))
        )
    conv = forms[-1][1] if forms else None
    return {
        "email": p.email, "firstname": p.first, "lastname": p.last, "company": p.company,
        "website": p.website, "jobtitle": p.title or None, "phone": p.phone, "city": p.city, "state": p.state,
        "country": p.country, "industry": p.lead_industry, "numemployees": employee_band(p.lead_employees),
        "annualrevenue": f"{p.revenue:.0f}" if p.revenue else None, "lifecyclestage": lifecycle,
        "hs_lead_status": status, "hubspot_owner_id": hs.owners["sdr"][p.owner % len(hs.owners["sdr"])],
        "associatedcompanyid": str(company_id) if company_id is not None else None,
        "hs_analytics_source": CHANNELS[p.channel][1], "hs_analytics_source_data_1": _SOURCE_DETAIL[p.channel],
        "hs_analytics_num_visits": str(len(web) + len(forms)),
        "hs_analytics_num_page_views": str(sum(rng.randint(1, 4) for _ in web) + len(forms)),
        "hs_analytics_first_timestamp": tl.hs(p.created),
        "hs_analytics_last_timestamp": tl.hs(max(web + [m for m, _ in forms])) if web or forms else None,
        "num_conversion_events": str(len(forms)),
        "first_conversion_date": tl.hs(forms[0][0]) if forms else None,
        "recent_conversion_date": tl.hs(forms[-1][0]) if forms else None,
        "recent_conversion_event_name": (conv[8:] if conv.startswith("content:") else conv) if conv else None,
        "notes_last_updated": tl.hs(max(engaged)) if engaged else None,
        "notes_last_contacted": tl.hs(max(outreach)) if outreach else None,
        "num_contacted_notes": str(len(outreach)), "num_notes": str(len(engaged)),
        "hs_sales_email_last_replied": tl.hs(max(replies)) if replies else None,
        "num_associated_deals": "1" if stage else "0",
        "hs_lifecyclestage_lead_date": tl.hs(p.created),
        "hs_lifecyclestage_opportunity_date": tl.hs(p.decision) if stage else None,
        "hs_lifecyclestage_customer_date": tl.hs(close) if stage == "closedwon" else None,
        "hs_email_optout": "true" if p.opted_out else "false",
        "hs_object_source": _OBJECT_SOURCE.get(p.channel, "FORM"),
    }  # fmt: skip
