"""The fewest API calls a cycle's pulls and writes allow, per CRM, from what the cycle pulled and wrote.

Salesforce: per object, the cheaper of REST query pages (2,000 rows) and a Bulk API 2.0 query job (create,
one poll, one results page per 50,000 rows); one `queryAll` per object for deletions; writes in sObject
Collections of 200, or one Bulk ingest job (6 calls) when that is fewer; review tasks in Collections of 200.
HubSpot: per object, search pages of 200 (one at least: an empty window still costs a search); per
association the object reads, batch reads of 1,000 ids (associations v4); one archived-list call per object; writes in batch
updates of 100; tasks in batch creates of 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

SF_PAGE, SF_BULK_PAGE, SF_BULK_QUERY, SF_COLLECTION, SF_BULK_INGEST = 2000, 50_000, 2, 200, 6
HS_PAGE, HS_BATCH, HS_ASSOCIATION_BATCH = 200, 100, 1000
HUBSPOT_ASSOCIATED = {
    "contacts": 1,
    "deals": 2,
    "tasks": 2,
    "notes": 2,
    "calls": 2,
    "meetings": 2,
    "emails": 2,
}


def salesforce_floor(pulled: Mapping[str, int], written: int, tasks: int) -> int:
    """Fewest Salesforce calls for these pulls (per object) and writes."""
    calls = 0
    for n in pulled.values():
        rest = max(1, math.ceil(n / SF_PAGE))
        bulk = SF_BULK_QUERY + max(1, math.ceil(n / SF_BULK_PAGE))
        calls += min(rest, bulk) + 1  # + queryAll for deletions
    if written:
        calls += min(math.ceil(written / SF_COLLECTION), SF_BULK_INGEST)
    calls += math.ceil(tasks / SF_COLLECTION)
    return calls


def hubspot_floor(pulled: Mapping[str, int], written: int, tasks: int) -> int:
    """Fewest HubSpot calls for these pulls (per object) and writes."""
    calls = 0
    for obj, n in pulled.items():
        calls += max(1, math.ceil(n / HS_PAGE)) + 1  # + archived list
        calls += HUBSPOT_ASSOCIATED.get(obj, 0) * math.ceil(n / HS_ASSOCIATION_BATCH)
    calls += math.ceil(written / HS_BATCH) + math.ceil(tasks / HS_BATCH)
    return calls


def floor(crm: str, pulled: Mapping[str, int], written: int, tasks: int) -> int:
    """The floor of one CRM's cycle."""
    if crm == "salesforce":
        return salesforce_floor(pulled, written, tasks)
    return hubspot_floor(pulled, written, tasks)
