"""Lead-to-account matching: domains, names, fuzzy names, tie-breakers, hostile input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import Account, Lead
from scoring.domains import email_domain, is_free_mail, registrable_domain
from scoring.matching import (
    NO_MATCH,
    AccountMatcher,
    account_match_keys,
    lead_match_keys,
    normalise_company,
)


def account(id_: str, name: str | None = None, website: str | None = None, **kw: object) -> Account:
    return Account(crm="salesforce", id=id_, name=name, website=website, **kw)  # type: ignore[arg-type]


def lead(id_: str = "00Q1", email: str | None = None, company: str | None = None, **kw: object) -> Lead:
    return Lead(crm="salesforce", id=id_, email=email, company=company, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACME Corporation", "acme"),
        ("Acme Corp.", "acme"),
        ("The Acme Group, Inc.", "acme"),
        ("Acme Holdings Ltd", "acme"),
        ("Globex GmbH", "globex"),
        ("Initech S.A.", "initech"),
        ("Société Générale SA", "societe generale"),
        ("McDonald's", "mcdonalds"),
        ("Amazon.com, Inc.", "amazon"),
        ("Johnson & Johnson", "johnson johnson"),
        ("Group", "group"),
        ("Acme International Technologies", "acme intl tech"),
        ("ACME Intl Tech Grp", "acme intl tech"),
        ("BlueRiver Analytics", "blue river analytics"),
        ("PrairielakeTechnologies", "prairielake tech"),
        ("eBay GmbH", "ebay"),
        ("🙂🙂", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_company(raw: str | None, expected: str | None) -> None:
    assert normalise_company(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.acme.co.uk/about", "acme.co.uk"),
        ("www.Acme.com", "acme.com"),
        ("mail.eu.acme.com.", "acme.com"),
        ("acme.com:8443/path?q=1", "acme.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("shop.myshopify.com", "shop.myshopify.com"),
        ("localhost", None),
        ("192.168.0.1", None),
        ("http://[::1]:80/", None),
        ("acme.internal", None),
        ("a..b.com", None),
        ("", None),
        (None, None),
    ],
)
def test_registrable_domain(value: str | None, expected: str | None) -> None:
    assert registrable_domain(value) == expected


def test_email_domain_and_free_mail() -> None:
    assert email_domain("jane@mail.acme.co.uk") == "acme.co.uk"
    assert email_domain("Jane Doe <jane@Mail.Acme.com>") == "acme.com"
    assert email_domain("foo@") is None
    assert email_domain("@acme.com") is None
    assert email_domain("x@192.168.1.1") is None
    assert is_free_mail("gmail.com") and is_free_mail("yahoo.co.uk") and is_free_mail("hotmail.fr")
    assert not is_free_mail("acme.com") and not is_free_mail(None)


def test_free_mail_never_matches() -> None:
    matcher = AccountMatcher(
        [account("001G", "Google", "https://gmail.com"), account("001Y", "Yahoo", "yahoo.co.uk")]
    )
    assert matcher.match(lead(email="jane@gmail.com")) is NO_MATCH
    assert matcher.match(lead(email="jane@mail.yahoo.co.uk")) is NO_MATCH
    assert matcher.match(lead(email="jane@gmail.com", domain="gmail.com")) is NO_MATCH


def test_subdomain_email_matches_registrable_website() -> None:
    matcher = AccountMatcher([account("001A", "Acme UK", "https://www.acme.co.uk/about")])
    match = matcher.match(lead(email="jane@mail.acme.co.uk"))
    assert (match.account_id, match.method, match.score) == ("001A", "domain", 100.0)
    assert match.reason == "email domain acme.co.uk matches Acme UK's website"


def test_subsidiary_domain_matches_the_subsidiary() -> None:
    matcher = AccountMatcher(
        [
            account("001P", "Acme Corp", "acme.com", is_customer=True),
            account("001S", "Acme Logistics", "acme-logistics.com", parent_id="001P"),
        ]
    )
    assert matcher.match(lead(email="bo@acme-logistics.com", company="Acme Corp")).account_id == "001S"
    assert matcher.match(lead(email="bo@acme.com", company="Acme Logistics")).account_id == "001P"


def test_company_website_domain_used_after_email() -> None:
    matcher = AccountMatcher([account("001A", "Acme", "acme.com")])
    match = matcher.match(lead(email="jane@gmail.com", domain="www.acme.com"))
    assert match.account_id == "001A" and match.reason.startswith("company domain acme.com")


def test_names_match_after_normalising() -> None:
    matcher = AccountMatcher([account("001A", "Acme Corp.", "acme.com")])
    match = matcher.match(lead(email="j@gmail.com", company="ACME Corporation"))
    assert (match.account_id, match.method) == ("001A", "name")
    assert match.reason == "company name 'ACME Corporation' matches 'Acme Corp.'"


@pytest.mark.parametrize(
    ("typed", "account_name"),
    [
        ("Blueriver Analytics", "Blue River Analytics Inc."),
        ("BlueRiver Analytics", "Blue River Analytics"),
        ("EvergreenLabs", "Evergreen Laboratories"),
        ("Acme Intl Tech", "ACME International Technologies Corp"),
        ("abcdef", "ab cdef"),
    ],
)
def test_names_equal_but_for_spacing_or_abbreviations_match_by_name(typed: str, account_name: str) -> None:
    matcher = AccountMatcher([account("001A", account_name), account("001B", "Other Name")])
    match = matcher.match(lead(company=typed))
    assert (match.account_id, match.method, match.score) == ("001A", "name", 100.0)
    assert match.reason == f"company name {typed!r} matches {account_name!r}"
    # The reverse index finds the lead from the account: they share a key.
    lead_keys = set(lead_match_keys(lead(company=typed))[1])
    assert lead_keys & set(account_match_keys(account("001A", account_name))[1])


def test_fuzzy_compares_with_the_block_of_the_rarest_word() -> None:
    common = [account(f"001S{i:03d}", f"Company{i:03d} Solutions") for i in range(50)]
    matcher = AccountMatcher([*common, account("001A", "Acme Solutions")])
    typo = matcher.match(lead(company="Acme Solutons"))
    assert (typo.account_id, typo.method) == ("001A", "fuzzy")
    assert matcher._rarest_block("acme solutons") == "acme"
    # No account shares the first word's block: the next rarest block is searched.
    swapped = matcher.match(lead(company="Amce Solutions"))
    assert (swapped.account_id, swapped.method) == ("001A", "fuzzy")


def test_fuzzy_names() -> None:
    matcher = AccountMatcher([account("001A", "Acme Corp"), account("001I", "Initech Software")])
    typo = matcher.match(lead(company="Initech Sofware"))
    assert (typo.account_id, typo.method) == ("001I", "fuzzy")
    assert typo.score >= 90 and typo.reason == "company name 'Initech Sofware' ~ 'Initech Software' (97)"
    assert matcher.match(lead(company="Acme Logistics")) is NO_MATCH
    loose = AccountMatcher([account("001A", "Acme Corp")], threshold=40)
    assert loose.match(lead(company="Acme Logistics")).account_id == "001A"


def test_linked_account_is_used_directly() -> None:
    matcher = AccountMatcher([account("001A", "Acme", "acme.com")])
    match = matcher.match(lead(email="j@acme.com", account_id="001Z"))
    assert (match.account_id, match.method) == ("001Z", "linked")


def test_tie_breakers_in_order() -> None:
    recent = {"001B": 200.0, "001C": 100.0}
    both = [
        account("001A", "Acme", "acme.com"),
        account("001B", "Acme", "acme.com"),
        account("001C", "Acme", "acme.com"),
    ]
    matcher = AccountMatcher(both, recent_activity=recent.get)
    assert matcher.match(lead(email="j@acme.com")).account_id == "001B"  # most recent activity
    matcher.upsert(account("001C", "Acme", "acme.com", is_customer=True))
    assert matcher.match(lead(email="j@acme.com")).account_id == "001C"  # customer beats recency
    family = AccountMatcher(
        [account("001X", "Acme", "acme.com", parent_id="001Y"), account("001Y", "Acme", "acme.com")]
    )
    assert family.match(lead(email="j@acme.com")).account_id == "001Y"  # parent over child
    twins = AccountMatcher([account("001K", "Acme"), account("001J", "Acme")])
    assert twins.match(lead(company="Acme")).account_id == "001J"  # lowest id


def test_remove_and_upsert_keep_indexes_consistent() -> None:
    matcher = AccountMatcher([account("001A", "Acme", "acme.com")])
    matcher.upsert(account("001A", "Globex", "globex.com"))
    assert matcher.match(lead(email="j@acme.com", company="Acme")) is NO_MATCH
    assert matcher.match(lead(email="j@globex.com")).account_id == "001A"
    matcher.remove("001A")
    assert len(matcher) == 0 and matcher.match(lead(company="Globex")) is NO_MATCH
    matcher.upsert(account("001B", "Initech", deleted=True))
    assert "001B" not in matcher


def test_matching_many_leads_finds_every_typo() -> None:
    words = ["alpha", "bravo", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "indigo", "juniper"]
    names = [f"{a} {b} {c}" for a in words for b in words for c in words]  # 1,000 names
    accounts = [
        account(f"001{i:05d}", f"{n.title()} Inc", f"{n.replace(' ', '')}.com") for i, n in enumerate(names)
    ]
    matcher = AccountMatcher(accounts)
    leads = [lead(f"00Q{i}", f"p{i}@gmail.com", names[i % 1000][:-1] + "x Corp") for i in range(5000)]
    matches = matcher.match_many(leads)
    assert sum(m.method == "fuzzy" for m in matches.values()) > 4000


_HOSTILE = st.one_of(
    st.none(),
    st.text(max_size=50),
    st.sampled_from(
        [
            "localhost",
            "127.0.0.1",
            "foo@",
            "@",
            "a@b@c",
            "[::1]",
            "xn--",
            "ﬁ.com",
            "🙂.com",
            ".",
            "..",
            "a" * 5000,
            "http://",
            "https://www.Acme.com/x",
            "bücher.de",
            "user@ⓐⓒⓜⓔ.com",
            "\x00",
            "a@b.c",
        ]
    ),
    st.text(alphabet=st.characters(), min_size=1000, max_size=3000),
)


@settings(max_examples=150, deadline=None)
@given(email=_HOSTILE, company=_HOSTILE, domain=_HOSTILE, website=_HOSTILE, name=_HOSTILE)
def test_hostile_input_never_crashes(
    email: str | None, company: str | None, domain: str | None, website: str | None, name: str | None
) -> None:
    matcher = AccountMatcher(
        [account("001A", name, website, domain=domain), account("001B", "Acme", "acme.com")]
    )
    match = matcher.match(lead(email=email, company=company, domain=domain))
    assert match.method in ("domain", "name", "fuzzy", "none")
    registrable_domain(website)
    email_domain(email)
    normalise_company(company)


@given(st.sampled_from(["Acme Widgets", "Globex Corporation", "Initech", "ab"]))
def test_block_keys_are_shared_between_leads_of_one_company(company: str) -> None:
    # Two separate but equal company strings, as two records decoded from JSON carry them.
    first = Lead(crm="salesforce", id="1", company="".join(list(company)))
    second = Lead(crm="salesforce", id="2", company="".join(list(company)))
    a, b = lead_match_keys(first)[1], lead_match_keys(second)[1]
    assert a == b
    assert all(x is y for x, y in zip(a, b, strict=True))


_WORDS = st.sampled_from(
    ["acme", "ac", "blue", "bleu", "river", "rivers", "solutions", "tech", "labs", "umber"]
)
_NAMES = st.lists(_WORDS, min_size=1, max_size=3).flatmap(
    lambda words: st.sampled_from([" ".join(words), "".join(words), " ".join(words).title()])
)


@settings(max_examples=60, deadline=None)
@given(
    existing=st.lists(_NAMES, max_size=8),
    added=_NAMES,
    companies=st.lists(_NAMES, min_size=1, max_size=8),
    seed=st.randoms(use_true_random=False),
)
def test_a_new_account_changes_only_the_matches_of_leads_sharing_a_key_with_it(
    existing: list[str], added: str, companies: list[str], seed: random.Random
) -> None:
    # The graph re-matches only the leads its reverse index files under the new account's keys; any other
    # lead's match must be unaffected, or incremental updates would drift from a rebuild.
    accounts = [account(f"001{i:03d}", name) for i, name in enumerate(existing)]
    leads = [lead(f"00Q{i:03d}", company=name) for i, name in enumerate(companies)]
    before = AccountMatcher(accounts).match_many(leads)
    new = account("001ZZZ", added)
    shuffled = [*accounts, new]
    seed.shuffle(shuffled)
    after = AccountMatcher(shuffled).match_many(leads)
    assert after == AccountMatcher([*accounts, new]).match_many(leads)  # the order of accounts is moot
    new_keys = set(account_match_keys(new)[1])
    for one in leads:
        if before[one.id] != after[one.id]:
            assert new_keys & set(lead_match_keys(one)[1]), (one.company, before[one.id], after[one.id])


def test_leads_matched_alike_share_one_match_that_follows_the_account_name() -> None:
    matcher = AccountMatcher([account("001A", "Acme Corp", "acme.com")])
    found = matcher.match_many(
        [lead("00Q1", "ann@acme.com"), lead("00Q2", "bo@acme.com"), lead("00Q3", company="Acme Corp"),
         lead("00Q4", company="Acme Corp")]
    )  # fmt: skip
    assert (
        found["00Q1"] is found["00Q2"] and found["00Q3"] is found["00Q4"]
    )  # one object each, not one a lead
    assert found["00Q1"].reason == "email domain acme.com matches Acme Corp's website"
    assert found["00Q3"].reason == "company name 'Acme Corp' matches 'Acme Corp'"
    matcher.upsert(account("001A", "Acme Corporation", "acme.com"))
    renamed = matcher.match_many([lead("00Q1", "ann@acme.com")])["00Q1"]
    assert renamed.reason == "email domain acme.com matches Acme Corporation's website"


_POOL_NAMES = st.sampled_from((None, "Acme", "Acme Corp", "Globex", "Initech", "Initek"))
_POOL_SITES = st.sampled_from((None, "acme.com", "globex.com", "initech.com"))
_CHANGES = st.lists(
    st.tuples(st.sampled_from(("001A", "001B", "001C")), _POOL_NAMES, _POOL_SITES, st.booleans()), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(_CHANGES)
def test_a_matcher_changed_account_by_account_matches_as_one_built_afresh(
    changes: list[tuple[str, str | None, str | None, bool]],
) -> None:
    changed, final = AccountMatcher(), dict[str, Account]()
    for account_id, name, site, deleted in changes:
        record = account(account_id, name, site, deleted=deleted)
        changed.upsert(record)
        final.pop(account_id, None) if deleted else final.update({account_id: record})
    afresh = AccountMatcher(final.values())
    people = [lead(f"00Q{i}", email, company) for i, (email, company) in enumerate(
        (e, c) for e in (None, "a@acme.com", "b@globex.com", "c@initech.com") for c in (None, "Acme", "Initech")
    )]  # fmt: skip
    assert changed.match_many(people) == afresh.match_many(people)
    assert all(changed._by_domain.values()) and all(changed._by_name.values())  # no empty entries left
    for index, built in ((changed._by_domain, afresh._by_domain), (changed._by_name, afresh._by_name)):
        assert {key: set(ids) for key, ids in index.items()} == {key: set(ids) for key, ids in built.items()}
