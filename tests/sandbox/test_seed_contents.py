"""The seeded org: determinism, counts, referential integrity, no activity after an outcome, realistic leads
and accounts, and a HubSpot portal that hangs together. Its conversion signal is tests/sandbox/test_seed.py."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import timedelta

import pytest

from sandbox.seed.names import FREE_MAIL, normalize_company, seniority_of
from sandbox.store import Store
from tests.sandbox.seed_support import NOW, SIGNAL_LEADS, domain_of, hs_ids, seed_store, signal_org


def _digest(store: Store) -> str:
    h = hashlib.sha256()
    tables = [r[0] for r in store.sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        if table == "meta":
            continue
        for row in sorted(repr(tuple(r)) for r in store.sql(f'SELECT * FROM "{table}"')):
            h.update(row.encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def org() -> tuple[Store, dict[str, int]]:
    """The 4,000-lead org (`seed_support.signal_org`, shared with test_seed.py)."""
    return signal_org()


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, sa = seed_store(300, 5)
    b, sb = seed_store(300, 5)
    c, _ = seed_store(300, 6)
    assert sa == sb
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_counts_and_summary(org: tuple[Store, dict[str, int]]) -> None:
    store, summary = org
    for key, n in summary.items():
        crm, obj = key.split(".", 1)
        if crm == "sf":
            expected = store.sf_count(obj) - (
                1 if obj == "User" else 0
            )  # the integration user predates the seed
            assert n == expected, key
        elif obj == "owners":
            assert n == len(store.hs_owners())
        elif obj != "associations":
            assert n == store.hs_count(obj), key
    assert summary["sf.Lead"] == SIGNAL_LEADS
    assert 10 <= summary["sf.User"] <= 20
    assert abs(summary["hs.contacts"] - SIGNAL_LEADS) <= SIGNAL_LEADS * 0.05
    for key in ("sf.Account", "sf.Contact", "sf.Task", "sf.Event", "sf.Campaign", "sf.CampaignMember",
                "sf.Opportunity", "hs.companies", "hs.deals", "hs.tasks", "hs.notes"):  # fmt: skip
        assert summary[key] > 0, key


def test_referential_integrity(org: tuple[Store, dict[str, int]]) -> None:
    store, _ = org
    ids = {obj: {r[0] for r in store.sql(f'SELECT Id FROM "sf_{obj}"')} for obj in store.sf_objects()}
    for obj, spec in store.sf_objects().items():
        for f in spec.fields:
            if f.type != "reference":
                continue
            targets: set[str] = set().union(*(ids[t] for t in f.reference_to))
            sql = f'SELECT DISTINCT "{f.name}" FROM "sf_{obj}" WHERE "{f.name}" IS NOT NULL'
            values = {r[0] for r in store.sql(sql)}
            assert values <= targets, f"{obj}.{f.name} -> {sorted(values - targets)[:3]} dangling"
    # leads' activity has no WhatId; contacts' activity is related to their own account
    bad = store.sql(
        "SELECT COUNT(*) FROM sf_Task t JOIN sf_Contact c ON c.Id = t.WhoId WHERE t.WhatId != c.AccountId"
    )[0][0]
    assert bad == 0
    assert store.sql("SELECT COUNT(*) FROM sf_Task WHERE WhoId LIKE '00Q%' AND WhatId IS NOT NULL")[0][0] == 0
    # user hierarchy: every manager is a user, and reps have managers
    assert (
        store.sql("SELECT COUNT(*) FROM sf_User WHERE Title LIKE '%Development Rep%' AND ManagerId IS NULL")[
            0
        ][0]
        == 0
    )
    # converted leads point at their account, contact and opportunity, and the contact is at that account
    rows = store.sql(
        "SELECT l.ConvertedAccountId, c.AccountId, o.AccountId FROM sf_Lead l "
        "JOIN sf_Contact c ON c.Id = l.ConvertedContactId JOIN sf_Opportunity o ON o.Id = l.ConvertedOpportunityId "
        "WHERE l.IsConverted = 1"
    )
    assert rows and all(r[0] == r[1] == r[2] for r in rows)


def test_no_activity_after_the_outcome(org: tuple[Store, dict[str, int]]) -> None:
    store, _ = org
    late_tasks = store.sql(
        "SELECT COUNT(*) FROM sf_Task t JOIN sf_Lead l ON l.Id = t.WhoId "
        "WHERE l.IsConverted = 1 AND substr(t.CreatedDate, 1, 10) > l.ConvertedDate"
    )[0][0]
    late_events = store.sql(
        "SELECT COUNT(*) FROM sf_Event e JOIN sf_Lead l ON l.Id = e.WhoId "
        "WHERE l.IsConverted = 1 AND substr(e.StartDateTime, 1, 10) > l.ConvertedDate"
    )[0][0]
    assert late_tasks == 0 and late_events == 0
    stamp = NOW.strftime("%Y-%m-%dT%H:%M")
    for obj in ("Lead", "Task", "Event", "Account", "Contact", "Opportunity"):
        assert store.sql(f'SELECT COUNT(*) FROM "sf_{obj}" WHERE CreatedDate > ?', (stamp,))[0][0] == 0, obj


def test_realistic_leads(org: tuple[Store, dict[str, int]]) -> None:
    store, _ = org
    leads = store.sql("SELECT Email, Company, Title, LeadSource, Status FROM sf_Lead")
    domains = Counter(r["Email"].rsplit("@", 1)[1] for r in leads)
    free = sum(n for d, n in domains.items() if d in FREE_MAIL)
    assert 0.12 < free / len(leads) < 0.35
    assert len({d for d in domains if d in FREE_MAIL}) >= 4
    accounts = store.sql("SELECT Name, Website FROM sf_Account")
    account_domains = {domain_of(r["Website"]) for r in accounts if r["Website"]}
    by_domain = sum(n for d, n in domains.items() if d in account_domains)
    assert by_domain / len(leads) > 0.25
    # leads naming a known account differently: same normalised name, different spelling
    names = {r["Name"] for r in accounts}
    normal = {normalize_company(n) for n in names}
    variants = [
        r["Company"] for r in leads if r["Company"] not in names and normalize_company(r["Company"]) in normal
    ]
    assert len(variants) > 0.05 * len(leads)
    assert any(v.isupper() for v in variants) and any(
        re.search(r"Incorporated|Corporation|Limited", v) for v in variants
    )
    assert {r["LeadSource"] for r in leads} >= {"Web", "Partner Referral", "Purchased List", "Phone Inquiry"}
    assert {r["Status"] for r in leads} == {"Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                                           "Closed - Not Converted"}  # fmt: skip
    assert len({seniority_of(r["Title"]) for r in leads}) == 7
    # hierarchies: subsidiaries exist and some have customer parents
    assert store.sql("SELECT COUNT(*) FROM sf_Account WHERE ParentId IS NOT NULL")[0][0] > 0
    subjects = {r[0] for r in store.sql("SELECT DISTINCT Subject FROM sf_Task WHERE Type = 'Web Visit'")}
    assert "Visited pricing page" in subjects
    assert store.sql("SELECT COUNT(*) FROM sf_Task WHERE Type = 'Form Fill'")[0][0] > 0
    # buying centres: several contacts at an account, and several leads from one account's domain
    assert store.sql("SELECT MAX(n) FROM (SELECT COUNT(*) n FROM sf_Contact GROUP BY AccountId)")[0][0] >= 3
    assert max(domains[d] for d in account_domains if d in domains) >= 3
    won = store.sql("SELECT COUNT(*) FROM sf_Opportunity WHERE IsWon = 1 AND IsClosed = 1")[0][0]
    lost = store.sql("SELECT COUNT(*) FROM sf_Opportunity WHERE StageName = 'Closed Lost' AND IsWon = 0")[0][
        0
    ]
    assert won > 0 and lost > 0


def test_hubspot_portal(org: tuple[Store, dict[str, int]]) -> None:
    store, _ = org
    owners = store.hs_owners()
    assert owners and {"id", "email", "type", "firstName", "lastName", "userId", "userIdIncludingInactive",
                        "createdAt", "updatedAt", "archived", "teams"} <= set(owners[0])  # fmt: skip
    pairs = Counter((r[0], r[1], r[2]) for r in store.sql("SELECT from_type, to_type, type_id FROM hs_assoc"))
    for pair in (("contacts", "companies", 1), ("deals", "contacts", 3), ("deals", "companies", 5),
                 ("companies", "companies", 14), ("tasks", "contacts", 204), ("notes", "contacts", 202),
                 ("tasks", "companies", 192)):  # fmt: skip
        assert pairs[pair] > 0, pair
    dangling = store.sql(
        "SELECT COUNT(*) FROM hs_assoc a WHERE NOT EXISTS (SELECT 1 FROM hs_object o WHERE o.type = a.from_type "
        "AND o.id = a.from_id) OR NOT EXISTS (SELECT 1 FROM hs_object o WHERE o.type = a.to_type AND o.id = a.to_id)"
    )[0][0]
    assert dangling == 0
    owner_ids = {o["id"] for o in owners}
    assert {
        r[0] for r in store.sql("SELECT DISTINCT json_extract(props, '$.hubspot_owner_id') FROM hs_object")
    } <= {
        None,
        *owner_ids,
    }
    # the parent association agrees with hs_parent_company_id
    for child, parent in store.sql("SELECT from_id, to_id FROM hs_assoc WHERE type_id = 14 LIMIT 50"):
        rec = store.hs_get("companies", child)
        assert rec is not None and rec.props["hs_parent_company_id"] == str(parent)
    contacts = [r.props for r in store.hs_get_many("contacts", hs_ids(store, "contacts")).values()]
    stages = Counter(p.get("lifecyclestage") for p in contacts)
    assert {"subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer"} <= set(stages)
    assert all(p.get("hs_analytics_num_visits") is not None for p in contacts)
    deals = Counter(r.props["dealstage"] for r in store.hs_get_many("deals", hs_ids(store, "deals")).values())
    assert deals["closedwon"] > 0 and deals["closedlost"] > 0
    # every customer contact among the new ones has a won deal
    since = (NOW - timedelta(days=181)).strftime("%Y-%m-%d")
    new = [p for p in contacts if str(p["createdate"]) >= since]
    customers = [p for p in new if p.get("lifecyclestage") == "customer"]
    assert 0.05 < len(customers) / len(new) < 0.3
    # tasks have hs_timestamp (HubSpot requires it)
    tasks = store.hs_get_many("tasks", hs_ids(store, "tasks")[:200]).values()
    assert all(t.props.get("hs_timestamp") for t in tasks)
