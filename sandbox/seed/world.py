"""A CRM-neutral B2B world: companies with hierarchies and deal history, known people at them, campaigns.

Each CRM writer (Salesforce in `org`/`leads`/`activity`, HubSpot in `hubspot`) builds its own world from its own
random stream and renders it as that CRM's records. New people (leads) are generated in `people`.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from sandbox.seed.common import DAY, HISTORY_DAYS, HOUR, Weighted, business_hours, poisson, sigmoid
from sandbox.seed.names import (
    EMAIL_PATTERNS,
    INDUSTRY_PICK,
    INDUSTRY_TABLE,
    CompanyName,
    CompanyNamer,
    business_email,
    person_name,
    phone,
    place,
    title_for,
)

# A touch: (minute, kind, detail). Inbound kinds show the person's interest; outbound ones are reps' work.
Touch = tuple[int, str, str]
INBOUND = frozenset({"web", "pricing", "careers", "form", "reply", "meeting", "campaign"})
_SIZE_BANDS = ((1, 10, 8), (10, 50, 20), (50, 200, 25), (200, 1000, 25), (1000, 5000, 14), (5000, 60000, 8))
_SMALL_BANDS = ((1, 10, 30), (10, 50, 30), (50, 200, 20), (200, 1000, 12), (1000, 5000, 6), (5000, 60000, 2))
_CAMPAIGN_TOPICS = ("Forecasting with AI", "Pipeline Hygiene", "Revenue Operations Summit", "Data Quality Week",
                    "Scaling Inbound", "Customer Stories", "Product Launch", "Security & Compliance",
                    "Partner Day", "Analytics Roadshow")  # fmt: skip
_CAMPAIGN_TYPES = (
    ("Webinar", 40),
    ("Conference", 15),
    ("Trade Show", 15),
    ("Email", 20),
    ("Advertisement", 10),
)


@dataclass(slots=True)
class HistOpp:
    """A deal an account had before the leads of the last 180 days: won, lost or still open."""

    stage: str  # "won" | "lost" | "open"
    created: int
    close: int
    amount: float
    name: str


@dataclass(slots=True)
class Colleague:
    """A person already known at a company (a Salesforce Contact, an established HubSpot contact)."""

    company: int
    first: str
    last: str
    email: str
    title: str
    phone: str
    created: int
    touches: list[Touch]


@dataclass(slots=True)
class Company:
    idx: int
    cname: CompanyName
    industry: str
    employees: int
    revenue: float
    city: str
    state: str
    country: str
    parent: int | None
    kind: str  # "prospect", "customer_direct", "customer_channel", "partner"
    intent: float  # how actively the account is buying (hidden)
    created: int
    owner: int  # index into the account executives
    pattern: str  # email address pattern
    opps: list[HistOpp] = field(default_factory=list)
    engagement: list[tuple[int, int]] = field(default_factory=list)  # (minute, colleague no.), sorted

    @property
    def customer(self) -> bool:
        return self.kind.startswith("customer")


@dataclass(slots=True)
class Campaign:
    name: str
    type: str
    start: int
    end: int


def employees_draw(rng: random.Random, small: bool = False) -> int:
    """Company size, log-uniform within bands weighted like a B2B market (or like small businesses)."""
    bands = _SMALL_BANDS if small else _SIZE_BANDS
    lo, hi, _ = bands[_band_pick(rng, bands)]
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _band_pick(rng: random.Random, bands: tuple[tuple[int, int, int], ...]) -> int:
    x = rng.random() * sum(b[2] for b in bands)
    for i, b in enumerate(bands):
        x -= b[2]
        if x < 0:
            return i
    return len(bands) - 1


def revenue_for(rng: random.Random, employees: int) -> float:
    return float(round(employees * rng.uniform(80_000, 350_000), -3))


class World:
    """Companies (with parents, deal history and known people), campaigns, and the names already used."""

    def __init__(self, rng: random.Random, n_companies: int, n_aes: int) -> None:
        self.rng = rng
        self.namer = CompanyNamer()
        self.emails: set[str] = set()
        self.n_aes = n_aes
        self.companies: list[Company] = []
        while len(self.companies) < n_companies:
            self._family(n_companies)
        weights = [(1 + math.log10(c.employees)) * math.exp(0.5 * c.intent) for c in self.companies]
        self.lead_pick = Weighted(list(range(len(self.companies))), weights)
        self.campaigns = self._campaigns(max(12, min(60, 12 + n_companies // 4000)))
        self._campaign_starts = [c.start for c in self.campaigns]

    # ------------------------------------------------------------------ companies
    def _family(self, limit: int) -> None:
        rng = self.rng
        parent = self._company(None)
        if parent.employees >= 500 and rng.random() < 0.35:
            for _ in range(min(1 + poisson(rng, 1.2), limit - len(self.companies))):
                self._company(parent)

    def _company(self, parent: Company | None) -> Company:
        rng = self.rng
        if parent is None:
            industry = INDUSTRY_PICK.pick(rng)
            cname = self.namer.company(rng, industry)
            employees = employees_draw(rng)
        else:
            industry = parent.industry if rng.random() < 0.7 else INDUSTRY_PICK.pick(rng)
            cname = self.namer.subsidiary(rng, parent.cname)
            employees = max(5, int(parent.employees * rng.uniform(0.03, 0.4)))
        tier = INDUSTRY_TABLE[industry][1]
        p_customer = 0.10 + 0.08 * (employees >= 200) + 0.05 * (tier == 1)
        if parent is not None and parent.customer:
            p_customer = 0.45
        r = rng.random()
        kind = ("customer_direct" if rng.random() < 0.75 else "customer_channel") if r < p_customer else (
            "partner" if r < p_customer + 0.03 else "prospect")  # fmt: skip
        intent = rng.gauss(0.0, 1.0) + (0.3 if kind.startswith("customer") else 0.0)
        city, state, country = place(rng)
        c = Company(
            idx=len(self.companies), cname=cname, industry=industry, employees=employees,
            revenue=revenue_for(rng, employees), city=city, state=state, country=country,
            parent=parent.idx if parent else None, kind=kind, intent=intent,
            created=-rng.randrange(30 * DAY, 1100 * DAY) if kind == "prospect" else -rng.randrange(400 * DAY, 1500 * DAY),
            owner=rng.randrange(self.n_aes), pattern=rng.choice(EMAIL_PATTERNS),
        )  # fmt: skip
        c.opps = self._history(c)
        self.companies.append(c)
        return c

    def _history(self, c: Company) -> list[HistOpp]:
        rng = self.rng
        opps: list[HistOpp] = []
        base = 8_000 + c.employees * rng.uniform(15, 45)
        if c.customer or c.kind == "partner":
            for k in range(1 if c.kind == "partner" else 1 + poisson(rng, 0.7)):
                close = rng.randrange(max(c.created + 60 * DAY, -900 * DAY), -30 * DAY)
                name = "New Business" if k == 0 else rng.choice(("Expansion", "Renewal", "Add-on seats"))
                opps.append(
                    HistOpp("won", close - rng.randrange(30, 120) * DAY, close, _amount(rng, base), name)
                )
            if c.customer and rng.random() < 0.25:
                created = -rng.randrange(10, 200) * DAY
                opps.append(
                    HistOpp("open", created, rng.randrange(10, 120) * DAY, _amount(rng, base), "Expansion")
                )
        else:
            earliest = max(c.created + 40 * DAY, -720 * DAY)
            if rng.random() < 0.3 and earliest < -5 * DAY:
                close = rng.randrange(earliest, -5 * DAY)
                opps.append(
                    HistOpp(
                        "lost",
                        close - rng.randrange(20, 120) * DAY,
                        close,
                        _amount(rng, base),
                        "New Business",
                    )
                )
            if rng.random() < 0.06 + 0.12 * sigmoid(c.intent):
                created = -rng.randrange(5, 240) * DAY
                opps.append(
                    HistOpp("open", created, rng.randrange(5, 150) * DAY, _amount(rng, base), "New Business")
                )
        for o in opps:
            o.created = max(o.created, c.created + DAY)
        return sorted(opps, key=lambda o: o.created)

    # ------------------------------------------------------------------ people already at companies
    def colleagues(self, c: Company, limit: int | None = None) -> list[Colleague]:
        """The known people at one company and what they did in the last 180 days (fills `c.engagement`)."""
        rng = self.rng
        n = min(8, 1 + poisson(rng, 0.3 + 0.35 * math.log10(c.employees) + (0.8 if c.customer else 0.0)))
        if limit is not None:
            n = min(n, limit)
        out: list[Colleague] = []
        rate = math.exp(-0.3 + 0.8 * c.intent + (0.3 if c.customer else 0.0))
        for k in range(n):
            first, last = person_name(rng)
            email = self.unique_email(business_email(first, last, c.cname.domain, c.pattern))
            level = rng.choice((5, 4, 3, 3, 2, 2, 2, 1, 1, 1))
            created = (
                rng.randrange(c.created, -HISTORY_DAYS * DAY)
                if c.created < -HISTORY_DAYS * DAY
                else c.created
            )
            touches: list[Touch] = []
            for _ in range(poisson(rng, rate)):
                m = -rng.randrange(HOUR, HISTORY_DAYS * DAY)
                kind = rng.choice(("web", "web", "reply", "reply", "meeting", "email", "call", "pricing"))
                if kind == "meeting":
                    m = business_hours(m)
                touches.append((m, kind, ""))
                if kind in INBOUND:
                    c.engagement.append((m, k))
            out.append(
                Colleague(
                    c.idx, first, last, email, title_for(rng, level), phone(rng), created, sorted(touches)
                )
            )
        c.engagement.sort()
        return out

    def unique_email(self, email: str) -> str:
        """`email`, or the same with a digit added if someone in this world already has it."""
        local, _, domain = email.partition("@")
        candidate, k = email, 1
        while candidate in self.emails:
            k += 1
            candidate = f"{local}{k}@{domain}"
        self.emails.add(candidate)
        return candidate

    def colleagues_active(self, c: Company, start: int, end: int) -> int:
        """How many known people at the company engaged between two minutes."""
        lo = bisect.bisect_left(c.engagement, (start, -1))
        hi = bisect.bisect_right(c.engagement, (end, 1 << 30))
        return len({k for _, k in c.engagement[lo:hi]})

    # ------------------------------------------------------------------ campaigns
    def _campaigns(self, n: int) -> list[Campaign]:
        rng = self.rng
        out = []
        for i in range(n):
            start = business_hours(
                -HISTORY_DAYS * DAY - 20 * DAY + (i * (HISTORY_DAYS + 40) * DAY) // n + rng.randrange(DAY)
            )
            type_ = rng.choice([t for t, w in _CAMPAIGN_TYPES for _ in range(w // 5)])
            length = {"Webinar": HOUR, "Conference": 2 * DAY, "Trade Show": 3 * DAY}.get(type_, 14 * DAY)
            topic = _CAMPAIGN_TOPICS[i % len(_CAMPAIGN_TOPICS)]
            out.append(Campaign(f"{type_}: {topic} #{i + 1}", type_, start, start + length))
        return sorted(out, key=lambda c: c.start)

    def campaign_in(self, rng: random.Random, start: int, end: int) -> int | None:
        """A campaign that ran between two minutes, or None."""
        lo = bisect.bisect_left(self._campaign_starts, start)
        hi = bisect.bisect_right(self._campaign_starts, end)
        return rng.randrange(lo, hi) if hi > lo else None


def _amount(rng: random.Random, base: float) -> float:
    return float(round(min(base * rng.uniform(0.6, 1.6), 900_000), -2))
