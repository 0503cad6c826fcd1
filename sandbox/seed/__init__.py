"""The seeded org: a realistic B2B sales org in both CRMs, deterministic under a seed.

Salesforce: users with managers, accounts with parent/subsidiary hierarchies and deal history, contacts (buying
centres) with activity, campaigns, leads (free-mail, matching accounts by domain or by a differently spelled
company name, or from companies not yet in the CRM) with web visits, form fills, emails, calls, meetings and
campaign responses, and the accounts, contacts and opportunities their conversions created. HubSpot: the same
kind of org as owners, companies, contacts, deals, tasks and notes with associations. Whether a lead converts
follows the latent model in `outcomes` (fit, behaviour, account context, noise).

Everything is written straight through the `Store` in chunks (one transaction each), so 100k leads take
seconds, not minutes. Times are relative to midnight UTC of the store clock's day (or `now`).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime

import orjson

from sandbox.seed.common import NO_PROGRESS, ProgressFn, Timeline
from sandbox.seed.hubspot import seed_hubspot
from sandbox.seed.leads import write_leads
from sandbox.seed.org import CHUNK, SfOrg, write_accounts, write_campaigns, write_users
from sandbox.seed.outcomes import TARGET_RATE
from sandbox.seed.people import generate
from sandbox.seed.world import World
from sandbox.store import Store

__all__ = ["ProgressFn", "seed_org"]


def companies_for(leads: int) -> int:
    """How many accounts an org with this many leads has."""
    return max(20, leads // 5)


def seed_org(
    store: Store,
    *,
    leads: int,
    seed: int,
    progress: ProgressFn | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Generate a realistic org in both CRMs, deterministic under `seed` (and the day of `now`).

    Returns the number of records created per object, keyed `sf.<sObject>` and `hs.<object type>`.
    """
    report = progress or NO_PROGRESS
    tl = Timeline(now or store.clock.now())
    counts: Counter[str] = Counter()

    rng = random.Random(f"leadq-seed:{seed}:salesforce")
    world = World(rng, companies_for(leads), n_aes=6)
    org = SfOrg(store, rng, tl, world, report)
    write_users(org)
    write_campaigns(org)
    write_accounts(org)
    if leads:
        done = 0
        outcome_rng = random.Random(f"leadq-seed:{seed}:salesforce-outcomes")
        n_sdrs = len(org.users["sdr"])
        for batch in generate(
            rng, world, leads, n_sdrs, outcome_rng=outcome_rng, target=TARGET_RATE, chunk=CHUNK
        ):
            write_leads(org, batch)
            done += len(batch)
            report("Salesforce leads", done, leads)
    counts.update(org.counts)
    del world, org

    counts.update(seed_hubspot(store, tl, seed=seed, contacts=leads, progress=report))
    summary = dict(sorted(counts.items()))
    store.meta_set(
        "seed_org",
        orjson.dumps({"seed": seed, "leads": leads, "anchor": tl.date(0), "counts": summary}).decode(),
    )
    return summary
