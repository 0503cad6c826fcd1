"""Hostile CRM field values, each drawn with what leadq must make of it: reported, or read quietly.

The oracle is written from the spec, not from the readers: a value that cannot be read as its field's type,
a single-line text over 1,000 characters, a date that is not a date (or lies in the future), or a picklist
value the config does not list must be reported naming the record and the field; anything else (quotes,
SOQL metacharacters, emoji, control characters, line breaks, nulls) must be read without a word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Drawn = tuple[Any, bool]  # (value, must be reported)
HUGE = 100_000

SOQL = [
    "O'Brien", "' OR Id != null --", "\\' OR ''='", "%_\\%", "a\\b\\\\c", '"quoted" `tick`',
    "x' AND Name LIKE '%", "Robert'); DROP TABLE leads;--", "{!Lead.Id}", "${jndi:ldap://x}",
]  # fmt: skip
DISPLAY = [
    "😀", "👩‍👩‍👧‍👦 family", "\u202eevil", "\x00\x07\x1b[31mred\x7f", "tab\there", "line1\nline2\r\nline3",
    "<script>alert(1)</script>", "%s%n%x", "Zürich Straße", "東京", "\u200b", "  ", "null", "None",
]  # fmt: skip
# Lone surrogates are left out: no CRM can store them (UTF-8 and JSON refuse them).
_chars = st.characters(blacklist_categories=["Cs"])
short_text = st.one_of(
    st.text(_chars, max_size=60),
    st.sampled_from(SOQL + DISPLAY),
    st.lists(st.sampled_from(SOQL + DISPLAY), min_size=2, max_size=6).map("\n".join),
)
huge_text = st.sampled_from(["x", "é", "😀", "'", "line\n", "a b"]).map(lambda unit: (unit * HUGE)[:HUGE])
# Types a HubSpot property (JSON) can hold but the API never sends; a Salesforce column cannot hold them.
wrong_types = st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(["value", "label"]), st.integers(0, 9), min_size=1, max_size=2),
)


@dataclass(frozen=True)
class Kind:
    """How one kind of field reads: values that must read quietly, and values that must be reported."""

    good: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any]

    def draw(self, hostile: bool) -> st.SearchStrategy[Drawn]:
        good = self.good.map(lambda v: (v, False))
        return st.one_of(good, self.bad.map(lambda v: (v, True))) if hostile else good


def _kinds(crm: str) -> dict[str, Kind]:
    hs = crm == "hubspot"

    def extra(*more: st.SearchStrategy[Any]) -> list[st.SearchStrategy[Any]]:
        return list(more) if hs else []

    none = st.none()
    numbers = st.sampled_from([12, 250.5, "12", " 42 ", "1.5e3", "-0", 0])
    dates = st.sampled_from(
        ["2024-01-15T10:00:00.000+0000", "2023-06-01", "1712345678901", "2024-01-15T10:00:00Z"]
    )
    return {
        "text": Kind(st.one_of(none, short_text, st.integers(-(10**6), 10**6)), st.one_of(huge_text, *extra(wrong_types, st.booleans()))),
        "short_text": Kind(st.one_of(none, short_text), st.one_of(*extra(wrong_types), huge_text) if hs else st.nothing()),
        "email": Kind(
            st.one_of(none, st.sampled_from(["ann@acme.com", "O'Brien@Acme.CO.uk", "x+tag@sub.example.org", "😀@acme.io"])),
            st.one_of(st.sampled_from(["not an email", "a@b", "@", "x@y.", "user@exam ple.com", "' OR Id != null --",
                                       "ann@acme.com\nbob@acme.com"]), *extra(wrong_types, st.integers(1, 99))),
        ),
        "website": Kind(
            st.one_of(none, st.sampled_from(["https://www.Acme.com/x?q='1'", "acme.io", "ftp://acme.com/x"])),
            st.one_of(st.sampled_from(["http://[::1", "https://", "not a site", "javascript:alert(1)"]), *extra(wrong_types)),
        ),
        "number": Kind(
            st.one_of(none, numbers),
            st.one_of(st.sampled_from(["lots", "1,000", "0x10", "12 employees", "NaN", "inf", "∞", "' OR 1=1"]),
                      *extra(st.sampled_from(["1e999", "-1e400"]), st.booleans(), wrong_types)),
        ),
        "boolean": Kind(
            # Salesforce stores a checkbox as 0/1: junk in it reads back as null, which is not a problem.
            st.one_of(none, st.booleans(), st.sampled_from(["true", "FALSE", "", "yes"] if hs else ["maybe"])),
            st.one_of(st.sampled_from(["maybe", "2"]), st.just(5), wrong_types) if hs else st.nothing(),
        ),
        "date": Kind(
            st.one_of(none, dates, *extra(st.just(1712345678901))),
            st.one_of(st.sampled_from(["0000-00-00", "9999-12-31T99:99", "2024-02-30T00:00:00Z", "99999999999999999999",
                                       "yesterday", "9999-12-31T23:59:59Z", "-62135596800001"]),
                      *extra(st.booleans(), wrong_types)),
        ),
        "category_known": Kind(
            st.one_of(none, st.sampled_from(KNOWN[crm]).flatmap(_respelled)),
            st.one_of(short_text.map(lambda t: "Moon" + t), huge_text, *extra(wrong_types, st.integers(1, 99))),
        ),
        "category_open": Kind(st.one_of(none, short_text, st.integers(0, 10**6)), st.one_of(huge_text, *extra(wrong_types))),
    }  # fmt: skip


def _respelled(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from([value, value.lower(), value.upper(), f"  {value}  "])


# Picklist values the test configs list as a feature's `categories`.
KNOWN = {"salesforce": ["Hot", "Warm", "Cold"], "hubspot": ["ORGANIC_SEARCH", "REFERRALS", "PAID_SOCIAL"]}
RATING_CATEGORIES = {"      points: {Hot: 10, Warm: 5, Cold: -5}": (
    "      points: {Hot: 10, Warm: 5, Cold: -5}\n      categories: [Hot, Warm, Cold]"
)}  # fmt: skip
# The fields leadq reads from a Lead / contact directly, by kind. (Salesforce derives Name from FirstName and
# LastName, so those two are never huge here: the report would name Name.)
FIELDS = {
    "salesforce": {
        "Title": "text", "Company": "text", "FirstName": "short_text", "LastName": "short_text",
        "Email": "email", "Website": "website", "NumberOfEmployees": "number", "AnnualRevenue": "number",
        "HasOptedOutOfEmail": "boolean", "CreatedDate": "date", "Rating": "category_known",
        "Industry": "category_open", "LeadSource": "category_open", "Country": "category_open",
    },
    "hubspot": {
        "firstname": "text", "lastname": "text", "company": "text", "jobtitle": "text", "email": "email",
        "website": "website", "annualrevenue": "number", "hs_analytics_num_page_views": "number",
        "hs_analytics_num_visits": "number", "hs_email_optout": "boolean", "createdate": "date",
        "hs_analytics_source": "category_known", "industry": "category_open", "numemployees": "category_open",
        "country": "category_open",
    },
}  # fmt: skip
KINDS = {crm: _kinds(crm) for crm in FIELDS}


@dataclass(frozen=True)
class HostileRecord:
    """Field values for one Lead / contact, and the fields whose value must be reported."""

    values: dict[str, Any]
    bad: frozenset[str]


def records(crm: str, *, hostile: bool) -> st.SearchStrategy[HostileRecord]:
    """A Lead (Salesforce) or contact (HubSpot): some fields hostile when `hostile`, all readable otherwise."""
    fields = FIELDS[crm]

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> HostileRecord:
        chosen = draw(st.sets(st.sampled_from(sorted(fields)), min_size=1, max_size=5)) if hostile else set()
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for name, kind in fields.items():
            value, reported = draw(KINDS[crm][kind].draw(name in chosen))
            values[name] = value
            if reported:
                bad.add(name)
        return HostileRecord(values, frozenset(bad))

    return build()
