"""The pull phase of a cycle: changed records since each object's cursor, echoes set aside, translated.

Nothing here writes to the state store: what was pulled is committed together with the plan it led to
(`sync.commit`), so a crash before that point simply pulls the same records again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from connector.cursor import advance
from connector.protocol import CRMConnector, RawRecord
from mappings import (
    Account,
    Activity,
    CanonicalRecord,
    Crm,
    CrmMapping,
    FieldProblem,
    Lead,
    Opportunity,
    translate_batch,
)
from sync.fields import (
    HUBSPOT_ASSOCIATIONS,
    SCORED_OBJECTS,
    VOLATILE,
    pull_fields,
    pull_objects,
    writeback_fields,
)
from sync.report import CrmReport
from sync.state import StateStore
from sync.state.bulk import SnapshotPut

MAX_PROBLEMS_SHOWN = 20


@dataclass
class Pulled:
    """What the pull phase brought: records to apply, snapshots and cursors to commit with the plan."""

    records: list[CanonicalRecord] = field(default_factory=list)
    echoes: list[Lead] = field(default_factory=list)  # people whose only change was a writeback field
    snapshots: dict[str, list[SnapshotPut]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)
    cursors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed_people(self) -> list[Lead]:
        return [r for r in self.records if isinstance(r, Lead) and not r.deleted]


def content_digest(raw: Mapping[str, Any], ignored: frozenset[str]) -> str:
    """Hash of a raw record without the values that change on every write (stamps, our own fields)."""
    kept = {k: v for k, v in raw.items() if k not in ignored and k not in VOLATILE}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def _stamp(raw: Mapping[str, Any]) -> datetime | None:
    for name in ("SystemModstamp", "lastmodifieddate", "hs_lastmodifieddate"):
        value = raw.get(name)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
            except ValueError:
                return None
    return None


def _fields(connector: CRMConnector, crm: Crm, obj: str, mapping: CrmMapping) -> list[str]:
    wanted = pull_fields(crm, obj, mapping)
    if crm != "salesforce":
        return wanted
    visible = {name.lower() for name in connector.describe(obj).fields}
    # Standard fields an org hides (or an edition lacks) are skipped; the features' own fields are
    # proved by `leadq check`, and a missing one fails loudly in the query.
    return [f for f in wanted if "." in f or f.lower() in visible]


def _with_associations(connector: CRMConnector, obj: str, records: list[RawRecord]) -> list[RawRecord]:
    read = getattr(connector, "associations", None)
    if read is None or obj not in HUBSPOT_ASSOCIATIONS or not records:
        return records
    ids = [str(r["id"]) for r in records]
    found = {to_type: read(obj, ids, to_type) for to_type in HUBSPOT_ASSOCIATIONS[obj]}
    out = []
    for record in records:
        block = {
            to_type: {"results": [{"id": i} for i in found[to_type].get(str(record["id"]), [])]}
            for to_type in found
        }
        out.append({**record, "associations": block})
    return out


def _deleted_record(crm: Crm, obj: str, record_id: str) -> CanonicalRecord:
    if obj in SCORED_OBJECTS[crm]:
        return Lead(crm=crm, id=record_id, deleted=True, kind="contact" if obj != "Lead" else "lead")
    if obj in ("Account", "companies"):
        return Account(crm=crm, id=record_id, deleted=True)
    if obj in ("Opportunity", "deals"):
        return Opportunity(crm=crm, id=record_id, deleted=True)
    return Activity(crm=crm, id=record_id, deleted=True, source_object=obj)


def pull_changes(
    connector: CRMConnector,
    store: StateStore,
    crm: Crm,
    mapping: CrmMapping,
    *,
    run_started: datetime,
    report: CrmReport,
    objects: Sequence[str] | None = None,
) -> Pulled:
    """Pull every configured object of `crm` since its cursor; translate what really changed."""
    pulled = Pulled()
    # Only the fields leadq writes are left out: a reviewer's override or decision is news.
    ours = writeback_fields(mapping)
    for obj in objects or pull_objects(crm, mapping):
        started = time.perf_counter()
        cursor = store.get_cursor(crm, obj)
        fields = _fields(connector, crm, obj, mapping)
        high: datetime | None = None
        for page in connector.pull_changes(obj, fields, cursor, run_started=run_started):
            records = _with_associations(connector, obj, page.records)
            report.pulled[obj] += len(records)
            if page.high_water is not None:
                high = page.high_water if high is None else max(high, page.high_water)
            ids = [str(r.get("Id") or r.get("id")) for r in records]
            known = store.snapshot_hashes(crm, obj, ids)
            digests = [content_digest(r, ours) for r in records]
            changed = [r for r, i, d in zip(records, ids, digests, strict=True) if known.get(i) != d]
            echoed = [r for r, i, d in zip(records, ids, digests, strict=True) if known.get(i) == d]
            pulled.snapshots.setdefault(obj, []).extend(
                SnapshotPut(i, r, d, _stamp(r)) for r, i, d in zip(records, ids, digests, strict=True)
            )
            batch = translate_batch(crm, obj, changed, mapping, now=run_started)
            pulled.records.extend(batch.records)
            pulled.problems.extend(batch.problems)
            if obj in SCORED_OBJECTS[crm] and echoed:
                echoes = translate_batch(crm, obj, echoed, mapping, now=run_started)
                pulled.echoes.extend(r for r in echoes.records if isinstance(r, Lead))
                report.echoes += len(echoed)
        for deletions in connector.pull_deletions(obj, cursor, run_started=run_started):
            ids = [d.id for d in deletions]
            pulled.deleted.setdefault(obj, []).extend(ids)
            pulled.records.extend(_deleted_record(crm, obj, i) for i in ids)
            report.deleted += len(ids)
        pulled.cursors[obj] = advance(cursor, confirmed_up_to=high, run_started=run_started)
        report.phase("pull", time.perf_counter() - started)
    report.rejected += len({(p.object, p.record_id) for p in pulled.problems})
    report.problems.extend(str(p) for p in pulled.problems[:MAX_PROBLEMS_SHOWN])
    return pulled
