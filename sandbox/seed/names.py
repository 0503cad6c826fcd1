"""Names of companies, people and places; domains and emails; job titles with their seniority.

Company names come in a canonical legal form ("Blue River Analytics, Inc.") and in the spellings people type
into forms ("BLUE RIVER ANALYTICS", "Blue River Analytics Incorporated", "BlueRiver Analytics"), so that
matching leads to accounts by name is a real problem, as it is in a real org.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from faker.providers.person.en_US import Provider as _Person

from sandbox.seed.common import Weighted, pick_weighted

FREE_MAIL: tuple[str, ...] = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com", "protonmail.com",
    "live.com", "gmx.com", "yahoo.co.uk", "mail.com", "msn.com",
)  # fmt: skip
_FREE_MAIL_PICK = Weighted(FREE_MAIL, (40, 14, 12, 10, 3, 6, 2, 3, 2, 2, 1, 1))

# Industry (Salesforce picklist value) -> (weight, fit tier, words that appear in company names)
INDUSTRY_TABLE: dict[str, tuple[float, int, tuple[str, ...]]] = {
    "Technology": (12, 1, ("Software", "Systems", "Technologies", "Labs", "Digital", "Data", "Cloud", "Networks")),
    "Finance": (6, 1, ("Capital", "Financial", "Investments", "Partners")),
    "Banking": (4, 1, ("Bank", "Bancorp", "Savings")),
    "Insurance": (4, 1, ("Insurance", "Assurance", "Mutual")),
    "Healthcare": (7, 1, ("Health", "Medical", "Care", "Clinics")),
    "Telecommunications": (3, 1, ("Telecom", "Wireless", "Fiber")),
    "Retail": (6, 1, ("Retail", "Stores", "Outfitters", "Market")),
    "Manufacturing": (8, 0, ("Manufacturing", "Industries", "Components", "Fabrication")),
    "Energy": (3, 0, ("Energy", "Power", "Solar")),
    "Utilities": (2, 0, ("Utilities", "Water", "Electric")),
    "Transportation": (3, 0, ("Logistics", "Freight", "Transport")),
    "Shipping": (2, 0, ("Shipping", "Maritime", "Lines")),
    "Media": (3, 0, ("Media", "Publishing", "Studios")),
    "Consulting": (5, 0, ("Consulting", "Advisors", "Associates")),
    "Electronics": (3, 0, ("Electronics", "Devices", "Semiconductor")),
    "Biotechnology": (2, 0, ("Bio", "Therapeutics", "Genomics")),
    "Chemicals": (2, 0, ("Chemicals", "Materials", "Polymers")),
    "Engineering": (3, 0, ("Engineering", "Design", "Structures")),
    "Communications": (2, 0, ("Communications", "Signal", "Broadcast")),
    "Entertainment": (2, 0, ("Entertainment", "Games", "Pictures")),
    "Food & Beverage": (3, 0, ("Foods", "Brewing", "Beverages", "Kitchens")),
    "Apparel": (2, 0, ("Apparel", "Clothing", "Threads")),
    "Machinery": (2, 0, ("Machinery", "Equipment", "Tools")),
    "Construction": (3, 0, ("Construction", "Builders", "Contractors")),
    "Government": (3, -1, ("Authority", "Agency", "Commission")),
    "Not For Profit": (3, -1, ("Foundation", "Trust", "Alliance")),
    "Education": (4, -1, ("Academy", "College", "Learning", "Institute")),
    "Agriculture": (1, -1, ("Farms", "Agri", "Harvest")),
    "Hospitality": (2, -1, ("Hotels", "Resorts", "Hospitality")),
    "Recreation": (1, -1, ("Sports", "Outdoors", "Fitness")),
    "Environmental": (1, -1, ("Environmental", "Recycling", "Renewables")),
    "Other": (2, -1, ("Holdings", "Enterprises", "Services")),
}  # fmt: skip
INDUSTRY_PICK = Weighted(list(INDUSTRY_TABLE), [v[0] for v in INDUSTRY_TABLE.values()])
_NO_LEGAL_SUFFIX = frozenset({"Government", "Not For Profit", "Education"})

_CORE_A_TEXT = """Acme Globex Initech Umbra Vandelay Hooli Soylent Stark Wayne Wonka Cyberdyne Tyrell Oscorp Massive Dynamo
Blue North Summit Pioneer Apex Bright Silver Golden Red Green Iron Atlas Vertex Nova Quantum Crescent Evergreen
Harbor Keystone Liberty Meridian Orion Pinnacle Redwood Sterling Titan Unity Vista Zenith Alpine Beacon Cedar
Coastal Crystal Eagle Falcon Frontier Granite Horizon Lakeside Maple Northern Oak Pacific Prairie Riverside
Sapphire Sierra Southern Sunrise Trident Western Willow Aurora Boreal Cobalt Delta Ember Fusion Halcyon Indigo
Juniper Kestrel Lumen Magnolia Nimbus Onyx Polaris Quartz Radiant Solstice Tandem Ultra Velvet Wildflower Yellow
Azure Bluebird Canyon Driftwood Everest Fairview Glacier Highland Ivory Jasper Kingfisher Larkspur Mosaic Nexus
Oakridge Pebble Quill Rainier Saffron Timber Upland Valor Westwind Arbor Brookside Catalyst Dawn Elm Fern Grove
Heron Inlet Jade Kite Lantern Mesa Noble Osprey Pine Quest Raven Sable Thistle Umber Vector Wren Zephyr"""
_CORE_A = tuple(_CORE_A_TEXT.split())
_CORE_B_TEXT = """River Peak Stone Bridge Field Wave Point Gate Light Ridge Wood Lake Star Path Works Line Rock Tree Forge
Cloud Bay Brook Crest Dale Fall Glen Haven Hill Mark Mill Port Shore Spring Vale View Way Wind Yard Bell Crown"""
_CORE_B = tuple(_CORE_B_TEXT.split())

# equivalent spellings of legal suffixes; the first is the canonical one
_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("Inc.", "Inc", "Incorporated", ", Inc."),
    ("Corp.", "Corp", "Corporation"),
    ("LLC", "L.L.C.", "llc"),
    ("Ltd", "Ltd.", "Limited"),
    ("Co.", "Company"),
    ("Group", "Grp"),
    ("GmbH",),
    ("PLC", "plc"),
)
_SUFFIX_WEIGHTS = (30, 18, 16, 8, 6, 8, 3, 3)
_ABBREV = {"Technologies": "Tech", "Systems": "Sys", "Manufacturing": "Mfg", "Industries": "Ind.",
           "International": "Intl", "Associates": "Assoc.", "Financial": "Finl", "Communications": "Comms"}  # fmt: skip
_TLDS = (("com", 70), ("io", 8), ("co", 6), ("net", 6), ("ai", 3), ("us", 2))
_CCTLDS = ("co.uk", "de", "fr", "ca", "com.au", "nl", "eu")
_DIVISIONS = ("Europe", "Asia Pacific", "Health", "Labs", "Financial Services", "Federal", "Canada", "UK", "Digital",
              "Solutions", "Retail", "Logistics", "Energy", "Ventures")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompanyName:
    """A company's canonical name, the core people recognise it by, its legal suffix and its domain."""

    name: str
    core: str
    suffix: str
    domain: str


class CompanyNamer:
    """Unique company names and domains, drawn from word lists (deterministic under the caller's rng)."""

    def __init__(self) -> None:
        self._cores: set[str] = set()
        self._domains: set[str] = set(FREE_MAIL)

    def company(self, rng: random.Random, industry: str) -> CompanyName:
        """A new company in `industry`, with a core name and a domain no other company has."""
        words = INDUSTRY_TABLE[industry][2]
        for attempt in range(200):
            a = rng.choice(_CORE_A)
            shape = rng.random()
            if shape < 0.35:
                core = f"{a} {rng.choice(_CORE_B)} {rng.choice(words)}"
            elif shape < 0.6:
                core = f"{a}{rng.choice(_CORE_B).lower()} {rng.choice(words)}"
            elif shape < 0.85:
                core = f"{a} {rng.choice(words)}"
            else:
                core = f"{a} {rng.choice(_CORE_B)}"
            if attempt > 50:  # the word lists are exhausted for this shape: add a distinguishing initial
                core = f"{core} {chr(65 + rng.randrange(26))}"
            if core in self._cores:
                continue
            domain = self._domain_for(rng, core)
            if domain is None:
                continue
            self._cores.add(core)
            self._domains.add(domain)
            suffix = "" if industry in _NO_LEGAL_SUFFIX or rng.random() < 0.25 else _pick_suffix(rng)
            return CompanyName(_join(core, suffix), core, suffix, domain)
        raise RuntimeError("company name space exhausted")

    def _domain_for(self, rng: random.Random, core: str) -> str | None:
        parts = [re.sub(r"[^a-z0-9]", "", w.lower()) for w in core.split()]
        if len(parts) > 2 and rng.random() < 0.5:
            parts = parts[:-1]  # "blueriver.com" rather than "blueriveranalytics.com"
        sep = "-" if rng.random() < 0.15 else ""
        tld = pick_weighted(rng, _TLDS)
        for candidate in (sep.join(parts), "".join(parts), "-".join(parts), "".join(parts) + "hq"):
            domain = f"{candidate}.{tld}"
            if domain not in self._domains:
                return domain
        return None

    def subsidiary(self, rng: random.Random, parent: CompanyName, division: str | None = None) -> CompanyName:
        """A subsidiary named after its parent ("Globex Europe GmbH"), on its own or the parent's domain."""
        for _ in range(50):
            div = division or rng.choice(_DIVISIONS)
            base = parent.core.split()[0] if rng.random() < 0.5 else parent.core
            core = f"{base} {div}"
            if core in self._cores or set(div.split()) & set(base.split()):  # no "Acme Health Health"
                division = None
                continue
            stem = parent.domain.split(".", 1)[0]
            if div in ("Europe", "UK", "Canada"):
                cc = {"Europe": "eu", "UK": "co.uk", "Canada": "ca"}[div]
                domain = f"{stem}.{cc}"
            else:
                domain = f"{stem}-{re.sub(r'[^a-z]', '', div.lower())}.com"
            if domain in self._domains:
                division = None
                continue
            self._cores.add(core)
            self._domains.add(domain)
            suffix = (
                rng.choice(("GmbH", "Ltd", "Inc.", "LLC", "")) if div in ("Europe", "UK") else parent.suffix
            )
            return CompanyName(_join(core, suffix), core, suffix, domain)
        return self.company(rng, "Other")

    def alternate_domain(self, rng: random.Random, company: CompanyName) -> str:
        """Another domain the same company uses (a country site or an old brand), not any company's main one."""
        stem = company.domain.split(".", 1)[0]
        for _ in range(10):
            cand = (
                f"{stem}.{rng.choice(_CCTLDS)}"
                if rng.random() < 0.6
                else f"{stem}{rng.choice(('corp', 'group', 'inc'))}.com"
            )
            if cand not in self._domains:
                return cand
        return f"{stem}-mail.com"


def _pick_suffix(rng: random.Random) -> str:
    return pick_weighted(rng, list(zip((s[0] for s in _SUFFIXES), _SUFFIX_WEIGHTS, strict=True)))


def _join(core: str, suffix: str) -> str:
    if not suffix:
        return core
    return core + suffix if suffix.startswith(",") else f"{core} {suffix}"


def name_variant(rng: random.Random, company: CompanyName) -> str:
    """How someone might type the company into a form: other suffix, other case, abbreviations, no spaces."""
    core, suffix = company.core, company.suffix
    for _ in range(10):
        c, s = core, suffix
        moves = rng.sample(("suffix", "case", "abbrev", "space", "drop", "the"), k=rng.choice((1, 1, 2)))
        for move in moves:
            if move == "suffix":
                group = next((g for g in _SUFFIXES if s in g), None)
                s = rng.choice([x for x in (group or ("Inc.", "Corp", "LLC")) if x != s] or ["Inc"])
            elif move == "case":
                c = c.upper() if rng.random() < 0.7 else c.lower()
                s = s.upper() if c.isupper() else s.lower()
            elif move == "abbrev":
                c = " ".join(_ABBREV.get(w, w) for w in c.split())
            elif move == "space":
                c = c.replace(" ", "", 1)  # "BlueRiver Analytics"
            elif move == "drop":
                s = ""
            elif move == "the":
                c = "The " + c
        variant = _join(c, s)
        if variant != company.name:
            return variant
    return company.core.upper()


def normalize_company(name: str) -> str:
    """The comparison key a matcher would use: lower case, no punctuation, no legal suffix, no "the"."""
    words = re.sub(r"[^a-z0-9 ]", " ", name.lower()).split()
    legal = {"inc", "incorporated", "corp", "corporation", "llc", "l", "c", "ltd", "limited", "co", "company",
             "group", "grp", "gmbh", "plc", "the"}  # fmt: skip
    return "".join(w for w in words if w not in legal)


# ---------------------------------------------------------------------------------------------- people
_FIRST = Weighted(
    [*_Person.first_names_female, *_Person.first_names_male],
    [*_Person.first_names_female.values(), *_Person.first_names_male.values()],
)
_LAST = Weighted(list(_Person.last_names), list(_Person.last_names.values()))


def person_name(rng: random.Random) -> tuple[str, str]:
    """(first, last), weighted by how common the names are in the US."""
    return _FIRST.pick(rng), _LAST.pick(rng)


@functools.lru_cache(maxsize=8192)
def _ascii(s: str) -> str:
    return re.sub(r"[^a-z]", "", s.lower())


EMAIL_PATTERNS = ("first.last", "flast", "first", "firstl", "first_last")


def business_email(first: str, last: str, domain: str, pattern: str) -> str:
    """An address on a company domain in that company's pattern."""
    f, la = _ascii(first), _ascii(last)
    local = {"first.last": f"{f}.{la}", "flast": f"{f[:1]}{la}", "first": f, "firstl": f"{f}{la[:1]}",
             "first_last": f"{f}_{la}"}[pattern]  # fmt: skip
    return f"{local}@{domain}"


def personal_email(rng: random.Random, first: str, last: str) -> str:
    """An address on a free-mail domain, in one of the shapes people pick."""
    f, la = _ascii(first), _ascii(last)
    shape = rng.random()
    if shape < 0.35:
        local = f"{f}.{la}{rng.randrange(1, 99) if rng.random() < 0.5 else ''}"
    elif shape < 0.65:
        local = f"{f[:1]}{la}{rng.randrange(10, 999)}"
    elif shape < 0.85:
        local = f"{f}{la}{rng.randrange(60, 100) if rng.random() < 0.6 else rng.randrange(1, 9999)}"
    else:
        local = f"{la}.{f}{rng.randrange(1, 99)}"
    return f"{local}@{_FREE_MAIL_PICK.pick(rng)}"


def phone(rng: random.Random) -> str:
    """A North American number in the fictional 555-01xx range."""
    n = int(rng.random() * 78_900)
    return f"({201 + n // 100}) 555-01{n % 100:02d}"


PLACES: tuple[tuple[str, str, str], ...] = (
    ("New York", "NY", "United States"), ("San Francisco", "CA", "United States"), ("Chicago", "IL", "United States"),
    ("Austin", "TX", "United States"), ("Boston", "MA", "United States"), ("Seattle", "WA", "United States"),
    ("Atlanta", "GA", "United States"), ("Denver", "CO", "United States"), ("Dallas", "TX", "United States"),
    ("Los Angeles", "CA", "United States"), ("Miami", "FL", "United States"), ("Minneapolis", "MN", "United States"),
    ("Phoenix", "AZ", "United States"), ("Raleigh", "NC", "United States"), ("Columbus", "OH", "United States"),
    ("Pittsburgh", "PA", "United States"), ("Salt Lake City", "UT", "United States"), ("Nashville", "TN", "United States"),
    ("Toronto", "ON", "Canada"), ("Vancouver", "BC", "Canada"), ("London", "England", "United Kingdom"),
    ("Manchester", "England", "United Kingdom"), ("Berlin", "Berlin", "Germany"), ("Munich", "Bavaria", "Germany"),
    ("Paris", "Ile-de-France", "France"), ("Amsterdam", "North Holland", "Netherlands"), ("Dublin", "Leinster", "Ireland"),
    ("Sydney", "NSW", "Australia"), ("Melbourne", "VIC", "Australia"), ("Singapore", "Singapore", "Singapore"),
)  # fmt: skip
_PLACE_PICK = Weighted(
    PLACES, [6, 5, 4, 4, 4, 4, 3, 3, 3, 4, 2, 2, 2, 2, 2, 1, 1, 1, 3, 2, 4, 1, 2, 1, 2, 1, 1, 2, 1, 1]
)


def place(rng: random.Random) -> tuple[str, str, str]:
    """(city, state, country), weighted towards the US."""
    return _PLACE_PICK.pick(rng)


# ---------------------------------------------------------------------------------------------- titles
DEPARTMENTS = (
    "IT",
    "Engineering",
    "Operations",
    "Finance",
    "Marketing",
    "Sales",
    "People",
    "Data & Analytics",
)
_DEPT_PICK = Weighted(DEPARTMENTS, (20, 16, 16, 12, 12, 10, 5, 9))
_CHIEF = {"IT": ("CIO", "Chief Information Officer"), "Engineering": ("CTO", "Chief Technology Officer"),
          "Operations": ("COO", "Chief Operating Officer"), "Finance": ("CFO", "Chief Financial Officer"),
          "Marketing": ("CMO", "Chief Marketing Officer"), "Sales": ("CRO", "Chief Revenue Officer"),
          "People": ("CHRO", "Chief People Officer"), "Data & Analytics": ("CDO", "Chief Data Officer")}  # fmt: skip
_IC = {"IT": ("Systems Administrator", "IT Specialist", "Network Engineer"),
       "Engineering": ("Software Engineer", "Senior Software Engineer", "Developer", "DevOps Engineer"),
       "Operations": ("Operations Analyst", "Operations Specialist", "Project Coordinator"),
       "Finance": ("Financial Analyst", "Accountant", "Controller"),
       "Marketing": ("Marketing Specialist", "Content Strategist", "Marketing Coordinator"),
       "Sales": ("Account Executive", "Sales Representative", "Business Development Rep"),
       "People": ("HR Generalist", "Recruiter", "People Partner"),
       "Data & Analytics": ("Data Analyst", "Data Scientist", "BI Analyst", "Analytics Engineer")}  # fmt: skip
_JUNIOR = ("Intern", "Student", "Marketing Intern", "Graduate Student", "Assistant", "Trainee", "Research Assistant",
           "Office Assistant", "Engineering Intern")  # fmt: skip
LEVELS = {
    5: "C-level",
    4: "VP",
    3: "Director",
    2: "Manager",
    1: "Individual contributor",
    -1: "Junior",
    0: "Unknown",
}


def title_for(rng: random.Random, level: int, dept: str | None = None) -> str:
    """A job title at a seniority level (see `LEVELS`), spelled the many ways titles are."""
    d = dept or _DEPT_PICK.pick(rng)
    if level == 5:
        if rng.random() < 0.3:
            return rng.choice(
                ("CEO", "Chief Executive Officer", "Founder & CEO", "Co-Founder", "President", "Owner")
            )
        return rng.choice(_CHIEF[d])
    if level == 4:
        return rng.choice((f"VP of {d}", f"VP, {d}", f"Vice President of {d}", f"SVP {d}", f"Head of {d}"))
    if level == 3:
        return rng.choice((f"Director of {d}", f"{d} Director", f"Sr. Director, {d}", f"Director, {d}"))
    if level == 2:
        return rng.choice((f"{d} Manager", f"Manager, {d}", f"Senior {d} Manager", f"Team Lead, {d}"))
    if level == 1:
        return rng.choice(_IC[d])
    if level == -1:
        return rng.choice(_JUNIOR)
    return ""


def seniority_of(title: str | None) -> int:
    """The seniority level a title states (5 C-level ... 1 individual contributor, -1 junior, 0 unknown).

    This is the keyword rule a lead-scoring feature would use on the stored Title; the seed's own titles all
    parse back to the level they were generated at.
    """
    t = (title or "").lower().strip()
    if not t:
        return 0
    words = set(re.sub(r"[^a-z ]", " ", t).split())
    if "vice" in words or "vp" in words or "svp" in words or "head" in words:
        return 4
    if words & {"chief", "ceo", "cto", "cfo", "coo", "cio", "cmo", "cro", "cdo", "chro", "founder", "co", "owner",
                "president"}:  # fmt: skip
        return 5
    if "director" in words:
        return 3
    if words & {"manager", "lead"}:
        return 2
    if words & {"intern", "student", "trainee", "assistant", "graduate"}:
        return -1
    return 1
