"""The keys leads and accounts are matched and filed under: normalised company names, their blocks, domains.

`AccountMatcher` (scoring/matching.py) compares leads with accounts by these; the graph's candidate index
files unlinked leads under them, so that a changed account re-matches only the leads that share one.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

from mappings import Account, Lead
from mappings.wire import remember
from scoring.domains import email_domain, is_free_mail, registrable_domain

__all__ = [
    "BLOCK_PREFIX", "account_match_keys", "block_keys", "company_domains", "lead_domains", "lead_match_keys",
    "normalise_company", "squash",
]  # fmt: skip

_LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "llc", "llp", "lp", "ltd", "limited", "gmbh", "mbh",
        "ag", "kg", "kgaa", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "oyj", "ab", "as", "asa",
        "aps", "plc", "co", "company", "holdings", "holding", "group", "pty", "pte", "pvt", "private",
        "ulc", "lda", "sl", "kk", "se", "cv", "grp",
    }
)  # fmt: skip
# Removed without a space so that "S.A." reads "sa" and "McDonald's" reads "mcdonalds".
_JOINERS = re.compile("['\u2019`.]")
# "BlueRiver Analytics" and "PrairielakeTechnologies" as typed into a form: words run together. A short
# lower-case run stays whole ("McDonald", "eBay", "GmbH").
_CAMEL = re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[\W_]+")
_WEB_SUFFIX = re.compile(r"\.(?:com|net|org|io|co|ai|biz)\b")
_MAX_NAME = 200
# Read as one word, in its short form: a form's "Acme Intl" is the CRM's "Acme International", and the
# short form keeps "EvergreenLabs" one spacing away from "Evergreen Laboratories".
_ABBREVIATIONS = {
    "technologies": "tech", "technology": "tech", "systems": "sys", "system": "sys", "manufacturing": "mfg",
    "industries": "ind", "industrial": "ind", "international": "intl", "associates": "assoc",
    "financial": "finl", "communications": "comms", "communication": "comms", "services": "svcs",
    "management": "mgmt", "brothers": "bros", "laboratories": "labs", "laboratory": "labs", "lab": "labs",
    "national": "natl", "university": "univ", "center": "ctr", "centre": "ctr", "department": "dept",
}  # fmt: skip
BLOCK_PREFIX = 4
# A lead's company domains by (email, website): the graph files an unlinked lead under them and matching
# reads them again in the same update, and each costs a few string operations and lookups per value.
_LEAD_DOMAINS: dict[tuple[str | None, str | None], tuple[tuple[str, str], ...]] = {}
_LEAD_DOMAINS_LIMIT = 100_000


def normalise_company(name: str | None) -> str | None:
    """A company name reduced for comparison: `"ACME Corporation, Inc."` -> `"acme"`.

    Camel case split ("BlueRiver" -> "blue river"), lower-case, accents folded, punctuation dropped,
    business words in their short form ("Technologies" -> "tech", "International" -> "intl"),
    `&`/`and`/`the` and trailing legal suffixes (Inc, Corp, LLC, GmbH, S.A., PLC, Holdings, Group...)
    stripped, unless nothing else would be left. None when nothing comparable remains.
    """
    if not isinstance(name, str):
        return None
    return _normalise(name[:_MAX_NAME])


@lru_cache(maxsize=100_000)
def _normalise(name: str) -> str | None:
    text = _CAMEL.sub(" ", name).casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NON_WORD.sub(" ", _JOINERS.sub("", _WEB_SUFFIX.sub("", text)))
    tokens = [_ABBREVIATIONS.get(token, token) for token in text.split()]
    kept = [token for token in tokens if token not in ("and", "the")] or tokens
    while len(kept) > 1 and kept[-1] in _LEGAL_SUFFIXES:
        kept.pop()
    return " ".join(kept) or None


def squash(norm: str) -> str:
    """The name without its spaces: "blue river analytics" and "blueriver analytics" are one name."""
    return norm.replace(" ", "")


def block_keys(norm: str) -> tuple[str, ...]:
    # Interned: the candidate index files every unlinked lead under its keys, and a few thousand prefixes
    # would otherwise be held as a new 4-letter string per lead (~53 bytes each). The squashed name's
    # prefix is a key too, so names equal but for spacing ("ab cdef", "abcdef") always share a block.
    keys = {sys.intern(token[:BLOCK_PREFIX]) for token in norm.split() if len(token) >= 3}
    keys.add(sys.intern(squash(norm)[:BLOCK_PREFIX]))
    return tuple(sorted(keys))


def company_domains(*values: str | None) -> tuple[str, ...]:
    domains: list[str] = []
    for value in values:
        domain = registrable_domain(value)
        if domain and not is_free_mail(domain) and domain not in domains:
            domains.append(domain)
    return tuple(domains)


def lead_match_keys(lead: Lead) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The domains and name blocks under which `lead` could match an account (for reverse indexes)."""
    domains = lead_domains(lead)
    norm = normalise_company(lead.company)
    return tuple(domain for _, domain in domains), block_keys(norm) if norm else ()


def account_match_keys(account: Account) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The domains and name blocks under which leads could match `account`."""
    norm = normalise_company(account.name)
    return company_domains(account.website, account.domain), block_keys(norm) if norm else ()


def lead_domains(lead: Lead) -> tuple[tuple[str, str], ...]:
    key = (lead.email, lead.domain)
    found = _LEAD_DOMAINS.get(key)
    if found is None:
        found = remember(_LEAD_DOMAINS, key, _read_lead_domains(*key), limit=_LEAD_DOMAINS_LIMIT)
    return found


def _read_lead_domains(email: str | None, website_value: str | None) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    from_email = email_domain(email)
    if from_email and not is_free_mail(from_email):
        found.append(("email domain", from_email))
    website = registrable_domain(website_value)
    if website and not is_free_mail(website) and website != from_email:
        found.append(("company domain", website))
    return tuple(found)
