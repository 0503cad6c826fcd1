"""The seeded org's conversion signal is worth learning.

The signal tests rebuild lead features from the stored rows with plain SQL (no generator internals) and show
that (1) conversion differs strongly by each factor, (2) the latent score recomputed from stored fields ranks
leads far better than a few hand rules, and (3) gradient boosting on those features beats the rules too.
Determinism, counts, referential integrity and realism are tests/sandbox/test_seed_contents.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.seed.names import FREE_MAIL, INDUSTRY_TABLE, seniority_of
from sandbox.seed.outcomes import SF_SOURCE_EFFECT, Signals, auc, latent
from sandbox.store import Store
from tests.sandbox.seed_support import NOW, domain_of, hs_ids, signal_org


@pytest.fixture(scope="module")
def org() -> tuple[Store, dict[str, int]]:
    """The 4,000-lead org (`seed_support.signal_org`, shared with test_seed_contents.py)."""
    return signal_org()


# ---------------------------------------------------------------------------------------------- the signal
def _minutes(stamp: str) -> float:
    return datetime.fromisoformat(stamp[:19]).replace(tzinfo=UTC).timestamp() / 60


def lead_features(store: Store, *, resolved_before: datetime) -> list[dict[str, Any]]:
    """Features of leads created before `resolved_before`, from stored rows only, as a scorer would build them:
    lead fields, the lead's activity, and the account its email domain matches (if it existed already)."""
    tasks = {r["WhoId"]: r for r in store.sql(
        "SELECT WhoId, SUM(Type = 'Web Visit') web, SUM(Subject = 'Visited pricing page') pricing, "
        "SUM(Subject = 'Visited careers page') careers, "
        "MAX(Subject IN ('Form fill: Request a demo', 'Form fill: Contact sales')) demo, "
        "SUM(Subject LIKE 'Form fill: Downloaded%') content, SUM(Subject LIKE 'Email reply:%') replies, "
        "SUM(TaskSubtype IN ('Email', 'Call') AND Subject NOT LIKE 'Email reply:%') outreach, "
        "MAX(CASE WHEN Status = 'Completed' THEN CreatedDate END) last_task, "
        "MAX(CASE WHEN Type IN ('Web Visit', 'Form Fill') OR Subject LIKE 'Email reply:%' THEN CreatedDate END) "
        "last_inbound FROM sf_Task WHERE WhoId LIKE '00Q%' GROUP BY WhoId")}  # fmt: skip
    events = {r[0]: (r[1], r[2]) for r in store.sql(
        "SELECT WhoId, COUNT(*), MAX(StartDateTime) FROM sf_Event WHERE WhoId LIKE '00Q%' GROUP BY WhoId")}  # fmt: skip
    responded = {r[0] for r in store.sql("SELECT LeadId FROM sf_CampaignMember WHERE HasResponded = 1")}
    accounts = {r["Id"]: r for r in store.sql("SELECT Id, Type, ParentId, Website, CreatedDate, NumberOfEmployees, "
                                              "Industry FROM sf_Account")}  # fmt: skip
    by_domain = {domain_of(a["Website"]): a for a in accounts.values() if a["Website"]}
    converted_opps = {
        r[0] for r in store.sql("SELECT ConvertedOpportunityId FROM sf_Lead WHERE IsConverted = 1")
    }
    opps: dict[str, list[Any]] = {}
    for o in store.sql(
        "SELECT Id, AccountId, CreatedDate, CloseDate, IsClosed, StageName FROM sf_Opportunity"
    ):
        if o["Id"] not in converted_opps:
            opps.setdefault(o["AccountId"], []).append(o)
    engaged: dict[str, list[tuple[float, str]]] = {}
    for r in store.sql(
        "SELECT WhatId, WhoId, CreatedDate FROM sf_Task WHERE WhoId LIKE '003%' AND (Type = 'Web Visit' OR "
        "Subject LIKE 'Email reply:%') UNION ALL SELECT WhatId, WhoId, StartDateTime FROM sf_Event "
        "WHERE WhoId LIKE '003%'"
    ):
        engaged.setdefault(r[0], []).append((_minutes(r[2]), r[1]))
    cutoff = resolved_before.strftime("%Y-%m-%dT%H:%M")
    out = []
    for lead in store.sql("SELECT * FROM sf_Lead WHERE CreatedDate < ? ORDER BY Id", (cutoff,)):
        t = tasks.get(lead["Id"])
        n_meet, last_meet = events.get(lead["Id"], (0, None))
        created = lead["CreatedDate"]
        acts = [x for x in (t and t["last_task"], last_meet) if x]
        inbound = [x for x in (t and t["last_inbound"], last_meet) if x]
        last_act = _minutes(max(acts)) if acts else _minutes(created)
        last_in = _minutes(max(inbound)) if inbound else _minutes(created)
        domain = lead["Email"].rsplit("@", 1)[1]
        acc = by_domain.get(domain)
        if acc is not None and acc["CreatedDate"] >= created:
            acc = None  # created by this lead's own conversion: not known when the lead came in
        parent = accounts.get(acc["ParentId"]) if acc is not None and acc["ParentId"] else None
        day = created[:10]
        acc_opps = opps.get(acc["Id"], []) if acc is not None else []
        recent = engaged.get(acc["Id"], []) if acc is not None else []
        employees = lead["NumberOfEmployees"] or (acc["NumberOfEmployees"] if acc is not None else None)
        industry = lead["Industry"] or (acc["Industry"] if acc is not None else None)
        f: dict[str, Any] = {
            "converted": bool(lead["IsConverted"]),
            "level": seniority_of(lead["Title"]),
            "employees": employees,
            "industry_tier": INDUSTRY_TABLE[industry][1] if industry else 0,
            "source": lead["LeadSource"],
            "freemail": domain in FREE_MAIL,
            "worked": bool((t and t["outreach"]) or n_meet),
            "meetings": n_meet,
            "campaign": lead["Id"] in responded,
            "days_quiet": (last_act - last_in) / 1440,
            "has_account": acc is not None,
            "customer": acc is not None and str(acc["Type"]).startswith("Customer"),
            "parent_customer": parent is not None and str(parent["Type"]).startswith("Customer"),
            "open_opp": any(
                o["CreatedDate"] < created and (not o["IsClosed"] or o["CloseDate"] > day) for o in acc_opps
            ),
            "recent_loss": any(
                o["StageName"] == "Closed Lost" and 0 <= _days(o["CloseDate"], day) <= 180 for o in acc_opps
            ),
            "colleagues": len({k for m, k in recent if last_act - 30 * 1440 <= m <= last_act}),
        }
        for key in ("web", "pricing", "careers", "content", "replies"):
            f[key] = t[key] if t else 0
        f["demo"] = bool(t and t["demo"])
        out.append(f)
    return out


def _days(earlier: str, later: str) -> int:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).days


def stored_latent(f: dict[str, Any]) -> float:
    """The seed's latent score, recomputed from stored fields only (no hidden noise, no generator state)."""
    signals = Signals(
        level=f["level"], employees=f["employees"], industry_tier=f["industry_tier"],
        source_effect=SF_SOURCE_EFFECT.get(f["source"], 0.0), freemail=f["freemail"], worked=f["worked"],
        web_visits=f["web"], pricing_visits=f["pricing"], careers_visits=f["careers"], demo_request=f["demo"],
        content_downloads=f["content"], meetings=f["meetings"], email_replies=f["replies"],
        campaign_response=f["campaign"], days_quiet=f["days_quiet"], customer=f["customer"],
        parent_customer=f["parent_customer"], open_opp=f["open_opp"], recent_loss=f["recent_loss"],
        colleagues=f["colleagues"],
    )  # fmt: skip
    return latent(signals)


def rules_score(f: dict[str, Any]) -> float:
    """Points per field, as an admin would set them up in a CRM's lead scoring."""
    points = 20 * (f["level"] >= 3) + 15 * ((f["employees"] or 0) >= 200)
    points += 10 * (f["source"] in ("Web", "Partner Referral")) + 15 * (f["demo"] or f["content"] > 0)
    points += 10 * (f["web"] >= 3) - 15 * f["freemail"]
    return float(points)


@pytest.fixture(scope="module")
def features(org: tuple[Store, dict[str, int]]) -> list[dict[str, Any]]:
    store, _ = org
    return lead_features(store, resolved_before=NOW - timedelta(days=60))  # older leads all have an outcome


def _rate(fs: list[dict[str, Any]], key: str, test: Any = bool) -> float:
    sel = [bool(f["converted"]) for f in fs if test(f[key])]
    assert len(sel) >= 30, key
    return sum(sel) / len(sel)


def test_conversion_rate_and_each_factor(features: list[dict[str, Any]]) -> None:
    fs = features
    rate = sum(f["converted"] for f in fs) / len(fs)
    assert 0.12 < rate < 0.3
    # fit
    assert _rate(fs, "level", lambda v: v >= 4) > 3 * _rate(fs, "level", lambda v: v == -1)
    assert _rate(fs, "employees", lambda v: v is not None and 200 <= v < 5000) > 3 * _rate(
        fs, "employees", lambda v: v is not None and v < 10
    )
    assert _rate(fs, "source", lambda v: v == "Partner Referral") > 2 * _rate(
        fs, "source", lambda v: v == "Purchased List"
    )
    assert _rate(fs, "freemail") < 0.7 * _rate(fs, "freemail", lambda v: not v)
    # behaviour
    assert _rate(fs, "demo") > 2 * _rate(fs, "demo", lambda v: not v)
    assert _rate(fs, "pricing", lambda v: v > 0) > 1.8 * _rate(fs, "pricing", lambda v: v == 0)
    assert _rate(fs, "meetings", lambda v: v > 0) > 2 * _rate(fs, "meetings", lambda v: v == 0)
    assert _rate(fs, "days_quiet", lambda v: v > 14) < 0.7 * _rate(fs, "days_quiet", lambda v: v < 3)
    # account context
    assert _rate(fs, "customer") > 1.4 * _rate(fs, "customer", lambda v: not v)
    assert _rate(fs, "colleagues", lambda v: v > 0) > 1.4 * _rate(fs, "colleagues", lambda v: v == 0)
    assert _rate(fs, "open_opp") > 1.2 * _rate(fs, "open_opp", lambda v: not v)


def test_latent_from_stored_fields_beats_hand_rules(features: list[dict[str, Any]]) -> None:
    labels = [f["converted"] for f in features]
    latent_auc = auc([stored_latent(f) for f in features], labels)
    rules_auc = auc([rules_score(f) for f in features], labels)
    assert latent_auc > 0.82
    assert rules_auc < latent_auc - 0.08
    # no single field gives the outcome away (Status is the outcome, not a feature, and is not used here)
    for key in ("level", "web", "pricing", "meetings", "colleagues", "days_quiet", "employees"):
        assert auc([float(f[key] or 0) for f in features], labels) < 0.75, key


def test_gradient_boosting_learns_what_rules_miss(features: list[dict[str, Any]]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    np = pytest.importorskip("numpy")
    ensemble = pytest.importorskip("sklearn.ensemble")
    selection = pytest.importorskip("sklearn.model_selection")
    keys = ("level", "employees", "industry_tier", "freemail", "worked", "web", "pricing", "careers", "demo",
            "content", "meetings", "replies", "campaign", "days_quiet", "customer", "parent_customer", "open_opp",
            "recent_loss", "colleagues")  # fmt: skip
    sources = sorted({f["source"] for f in features})
    x = np.array(
        [[np.nan if f[k] is None else float(f[k]) for k in keys] + [float(f["source"] == s) for s in sources]
         for f in features]
    )  # fmt: skip
    y = np.array([f["converted"] for f in features])
    model = ensemble.HistGradientBoostingClassifier(random_state=0, learning_rate=0.1, max_iter=100)
    folds = selection.StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    gbm_auc = float(selection.cross_val_score(model, x, y, cv=folds, scoring="roc_auc").mean())
    rules_auc = auc([rules_score(f) for f in features], [bool(v) for v in y])
    assert gbm_auc > 0.78
    assert gbm_auc > rules_auc + 0.06


def test_hubspot_outcome_follows_the_same_model(org: tuple[Store, dict[str, int]]) -> None:
    store, _ = org
    start = (NOW - timedelta(days=181)).strftime("%Y-%m-%d")
    end = (NOW - timedelta(days=110)).strftime("%Y-%m-%d")  # old enough for every deal to have closed
    contacts = [
        r.props
        for r in store.hs_get_many("contacts", hs_ids(store, "contacts")).values()
        if start <= str(r.props["createdate"]) < end
    ]
    won = [p.get("lifecyclestage") == "customer" for p in contacts]
    assert 0.08 < sum(won) / len(contacts) < 0.3

    def rate(test: Any) -> float:
        sel = [w for p, w in zip(contacts, won, strict=True) if test(p)]
        assert len(sel) >= 25
        return sum(sel) / len(sel)

    assert rate(lambda p: seniority_of(p.get("jobtitle")) >= 4) > 2.5 * rate(
        lambda p: seniority_of(p.get("jobtitle")) == -1
    )
    assert rate(lambda p: p["hs_analytics_source"] == "REFERRALS") > 2 * rate(
        lambda p: p["hs_analytics_source"] == "OTHER_CAMPAIGNS"
    )
    assert rate(lambda p: int(p["hs_analytics_num_page_views"]) >= 6) > 1.5 * rate(
        lambda p: int(p["hs_analytics_num_page_views"]) <= 1
    )
    assert rate(lambda p: p.get("email", "").rsplit("@", 1)[1] in FREE_MAIL) < rate(
        lambda p: p.get("email", "").rsplit("@", 1)[1] not in FREE_MAIL
    )
