"""New people (Salesforce leads, HubSpot contacts of the last 180 days): who they are, what they did, outcome.

Each prospect's timeline: created at `created`; touches (inbound interest and reps' outreach) until
`window_end`; a decision `gap` days later, at `decision`. If the decision lies in the past the prospect is
resolved (converted, or closed / left open without converting); otherwise it is still being worked and its
touches stop at the anchor. No touch on a prospect is dated after its decision, so nothing on the record
after conversion gives the outcome away; the converted records (account, contact, opportunity) are created at
the decision and so post-date every touch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.seed import outcomes
from sandbox.seed.common import DAY, HISTORY_DAYS, HOUR, Weighted, business_hours, chunks, poisson, sigmoid
from sandbox.seed.names import (
    FREE_MAIL,
    INDUSTRY_PICK,
    INDUSTRY_TABLE,
    CompanyName,
    business_email,
    name_variant,
    person_name,
    personal_email,
    phone,
    place,
    title_for,
)
from sandbox.seed.outcomes import CHANNELS, Signals
from sandbox.seed.world import INBOUND, Company, Touch, World, employees_draw, revenue_for

CHANNEL_PICK = Weighted(list(CHANNELS), [v[2] for v in CHANNELS.values()])
_MATCH = (("domain", 0.38), ("variant", 0.10), ("freemail", 0.17), ("new", 0.35))
_LEVELS = (5, 4, 3, 2, 1, -1, 0)
_LEVEL_BUSINESS = Weighted(_LEVELS, (5, 8, 14, 22, 37, 7, 7))
_LEVEL_FREEMAIL = Weighted(_LEVELS, (8, 4, 6, 14, 32, 22, 14))
NO_COMPANY = ("Self-employed", "Freelance", "N/A", "Student", "Independent Consultant", "none", "Personal")
PAGES = ("homepage", "blog: Pipeline hygiene in 5 steps", "blog: What is lead scoring?", "product tour",
         "integrations page", "case study: logistics", "security page", "documentation", "about us")  # fmt: skip
MEETINGS = ("Discovery call", "Product demo", "Technical deep dive", "Pricing discussion")
ASSETS = ("Whitepaper: The State of Revenue Data", "eBook: Lead Scoring 101", "Report: RevOps Benchmarks",
          "Webinar recording: Forecasting with AI", "Checklist: CRM Data Hygiene")  # fmt: skip


@dataclass(slots=True)
class Prospect:
    first: str
    last: str
    email: str
    phone: str
    title: str
    level: int
    company: str  # as the person typed it
    website: str | None
    account: int | None  # the company they really work for, if it is a known account
    match: str  # how they relate to it: "domain", "variant", "freemail" (no account), "new" (no account)
    new_company: CompanyName | None  # for "new": the company (not an account yet)
    industry: str | None  # the truth (of the account, or of the new company)
    employees: int | None
    lead_industry: str | None  # what the record says (enrichment is patchy)
    lead_employees: int | None
    revenue: float | None
    channel: str
    city: str
    state: str
    country: str
    created: int
    window_end: int
    decision: int
    touches: list[Touch]
    signals: Signals
    z: float  # log-odds of converting, up to the intercept
    resolved: bool  # the decision lies in the past
    opted_out: bool
    owner: int  # index into the SDRs
    p: float = 0.0  # probability of converting
    converted: bool = False  # converted, and the decision is in the past
    closed: bool = False  # resolved and marked as not converting

    @property
    def freemail(self) -> bool:
        return self.email.rsplit("@", 1)[1] in FREE_MAIL

    @property
    def last_activity(self) -> int:
        return max((t[0] for t in self.touches if t[1] != "campaign"), default=self.created)


def generate(
    rng: random.Random,
    world: World,
    count: int,
    n_sdrs: int,
    *,
    outcome_rng: random.Random,
    target: float,
    chunk: int,
) -> Iterator[list[Prospect]]:
    """`count` prospects in lists of `chunk`, outcomes decided. The intercept of the conversion model is
    calibrated on the first list so that the mean conversion probability is `target`."""
    intercept: float | None = None
    for batch in chunks((_prospect(rng, world, n_sdrs) for _ in range(count)), chunk):
        if intercept is None:
            intercept = outcomes.calibrate([p.z for p in batch[:2000]], target)
        for p in batch:
            p.p = sigmoid(p.z + intercept)
            will_convert = outcome_rng.random() < p.p
            p.converted = will_convert and p.resolved
            p.closed = p.resolved and not will_convert and outcome_rng.random() < 0.8
        yield batch


def _pick_match(rng: random.Random, has_accounts: bool) -> str:
    x = rng.random()
    for name, w in _MATCH:
        x -= w
        if x < 0:
            return name if has_accounts or name in ("freemail", "new") else "new"
    return "new"


def _prospect(rng: random.Random, w: World, n_sdrs: int) -> Prospect:
    first, last = person_name(rng)
    channel = CHANNEL_PICK.pick(rng)
    match = _pick_match(rng, bool(w.companies))
    comp: Company | None = None
    new: CompanyName | None = None
    website: str | None = None
    if match in ("domain", "variant"):
        comp = w.companies[w.lead_pick.pick(rng)]
        industry: str | None = comp.industry
        employees: int | None = comp.employees
        if match == "domain":
            email = business_email(first, last, comp.cname.domain, comp.pattern)
            company = comp.cname.name if rng.random() < 0.6 else name_variant(rng, comp.cname)
            website = f"www.{comp.cname.domain}" if rng.random() < 0.5 else None
        else:
            company = name_variant(rng, comp.cname)
            if rng.random() < 0.6:
                email = personal_email(rng, first, last)
            else:
                email = business_email(first, last, w.namer.alternate_domain(rng, comp.cname), comp.pattern)
        level = _LEVEL_BUSINESS.pick(rng)
    elif match == "new":
        industry = INDUSTRY_PICK.pick(rng)
        employees = employees_draw(rng, small=True)
        new = w.namer.company(rng, industry)
        email = business_email(first, last, new.domain, "first.last")
        company = new.name
        website = f"www.{new.domain}" if rng.random() < 0.5 else None
        level = _LEVEL_BUSINESS.pick(rng)
    else:
        email = personal_email(rng, first, last)
        level = _LEVEL_FREEMAIL.pick(rng)
        if rng.random() < 0.55:
            industry = INDUSTRY_PICK.pick(rng)
            employees = employees_draw(rng, small=True) // 4 + 1
            company = w.namer.company(rng, industry).name
        else:
            industry, employees, company = None, rng.choice((1, 1, 2, 3)), rng.choice(NO_COMPANY)
    email = w.unique_email(email)
    tier = INDUSTRY_TABLE[industry][1] if industry else 0
    s = Signals(
        level=level, employees=employees, industry_tier=tier, source_effect=CHANNELS[channel][3],
        freemail=email.rsplit("@", 1)[1] in FREE_MAIL,
    )  # fmt: skip
    created = -(HOUR + int(rng.random() * (HISTORY_DAYS * DAY - HOUR)))
    window_end = created + int(min(45.0, 1.0 + rng.expovariate(1 / 12)) * DAY)
    decision = window_end + DAY + int(rng.random() * 9 * DAY)
    intent = 0.8 * rng.gauss(0.0, 1.0) + 0.25 * outcomes.fit_only(s) + (0.3 * comp.intent if comp else 0.0)
    touches = _behaviour(rng, w, s, intent, created, window_end, channel, level)
    # campaign membership is not an activity (Salesforce's LastActivityDate ignores it)
    last_activity = max((t[0] for t in touches if t[1] != "campaign"), default=created)
    last_inbound = max((t[0] for t in touches if t[1] in INBOUND and t[1] != "campaign"), default=created)
    s.days_quiet = (last_activity - last_inbound) / DAY
    if comp is not None:
        parent = w.companies[comp.parent] if comp.parent is not None else None
        s.customer = comp.customer
        s.parent_customer = bool(parent and parent.customer)
        s.open_opp = any(o.created < created and (o.stage == "open" or o.close > created) for o in comp.opps)
        s.recent_loss = any(
            o.stage == "lost" and created - 180 * DAY <= o.close <= created for o in comp.opps
        )
        s.colleagues = w.colleagues_active(comp, last_activity - 30 * DAY, last_activity)
    z = outcomes.latent(s) + 0.6 * rng.gauss(0.0, 1.0)  # plus what no CRM field shows (budget, timing)
    resolved = decision <= 0
    if not resolved:
        touches = [t for t in touches if t[0] < 0]
    city, state, country = place(rng) if comp is None else (comp.city, comp.state, comp.country)
    return Prospect(
        first=first, last=last, email=email, phone=phone(rng), title=title_for(rng, level), level=level,
        company=company, website=website, account=comp.idx if comp else None, match=match, new_company=new,
        industry=industry, employees=employees,
        lead_industry=industry if industry and rng.random() < 0.6 else None,
        lead_employees=employees if employees and rng.random() < 0.5 else None,
        revenue=revenue_for(rng, employees) if employees and rng.random() < 0.3 else None,
        channel=channel, city=city, state=state, country=country, created=created, window_end=window_end,
        decision=decision, touches=touches, signals=s, z=z, resolved=resolved,
        opted_out=rng.random() < 0.03, owner=int(rng.random() * n_sdrs),
    )  # fmt: skip


def _behaviour(
    rng: random.Random, w: World, s: Signals, u: float, start: int, end: int, channel: str, level: int
) -> list[Touch]:
    """Touches between `start` and `end` driven by the hidden intent `u`; fills the behavioural signals."""
    span = max(end - start, HOUR)
    rnd = rng.random  # the hot path: plain floats are several times cheaper than randrange / choice
    touches: list[Touch] = []
    web_form = CHANNELS[channel][0] == "Web"
    s.demo_request = rnd() < sigmoid(-2.3 + 1.1 * u)
    s.content_downloads = poisson(rng, math.exp(-1.0 + 0.4 * u))
    if s.demo_request:
        form = "Contact sales" if rnd() < 0.3 else "Request a demo"
        touches.append((start if web_form else start + int(rnd() * span), "form", form))
    for _ in range(s.content_downloads):
        touches.append((start + int(rnd() * span), "form", "content:" + ASSETS[int(rnd() * len(ASSETS))]))
    if rnd() < 0.15:
        touches.append((start + int(rnd() * span), "form", "Newsletter signup"))
    if web_form and not touches:  # web leads come from a form
        touches.append((start, "form", "content:" + ASSETS[int(rnd() * len(ASSETS))]))
        s.content_downloads += 1
    web = poisson(rng, math.exp(0.15 + 0.5 * u))
    s.pricing_visits = poisson(rng, math.exp(-1.4 + 0.9 * u))
    s.careers_visits = poisson(rng, 0.12 + (0.35 if level == -1 else 0.0))
    touches += [(start + int(rnd() * span), "web", PAGES[int(rnd() * len(PAGES))]) for _ in range(web)]
    touches += [(start + int(rnd() * span), "pricing", "pricing page") for _ in range(s.pricing_visits)]
    touches += [(start + int(rnd() * span), "careers", "careers page") for _ in range(s.careers_visits)]
    s.web_visits = web + s.pricing_visits + s.careers_visits
    campaign = w.campaign_in(rng, start, end) if rnd() < 0.35 else None
    if campaign is not None:
        s.campaign_response = rnd() < sigmoid(-0.6 + 0.8 * u)
        touches.append((w.campaigns[campaign].start, "campaign", f"{campaign}:{int(s.campaign_response)}"))
    s.worked = rnd() < sigmoid(1.0 + 0.7 * outcomes.fit_only(s) + (0.8 if s.demo_request else 0.0))
    s.meetings = min(4, poisson(rng, math.exp(-1.9 + 0.9 * u + (0.9 if s.demo_request else 0.0))))
    for _ in range(s.meetings):
        m = business_hours(start + DAY + int(rnd() * max(span - DAY, HOUR)))
        touches.append((min(m, end), "meeting", MEETINGS[int(rnd() * len(MEETINGS))]))
    if s.worked:
        connected = sigmoid(-0.5 + 0.6 * u)
        out = [(start + int(rnd() * span), "email", "") for _ in range(1 + poisson(rng, 0.7))]
        for _ in range(poisson(rng, 0.6)):
            r = rnd()
            result = "connected" if r < connected else "voicemail" if r < 0.5 + connected / 2 else "no answer"
            out.append((start + int(rnd() * span), "call", result))
        out.sort()
        out[-1] = (end, out[-1][1], out[-1][2])  # reps keep following up to the end of the window
        touches += out
        s.email_replies = poisson(rng, math.exp(-1.3 + 0.7 * u))
        touches += [(start + int(rnd() * span), "reply", "") for _ in range(s.email_replies)]
    s.worked = s.worked or s.meetings > 0
    touches.sort()
    return touches
