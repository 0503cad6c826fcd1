"""The pull phase of a cycle: changed records since each object's cursor, echoes set aside, translated.

Nothing here writes to the state store: what was pulled is committed together with the plan it led to
(`sync.commit`), so a crash before that point simply pulls the same records again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from connector.cursor import advance, parse_value
from connector.protocol import ChangePage, CRMConnector, Deletion
from connector.readahead import Prefetched, lookahead, prefetch
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
    pull_fields,
    pull_objects,
    writeback_fields,
)
from sync.report import CrmReport
from sync.snapshots import SnapshotSpool, content_digests
from sync.state import StateStore
from sync.world import Applied

MAX_PROBLEMS_SHOWN = 20
OBJECTS_AHEAD = 3
"""Objects whose first pages are fetched while the current one is applied. Each has up to two requests in
flight (changes, deletions) beside the current object's two: 8 at most, within the connection pools (the
Salesforce session's 10 per host, the HubSpot transport's 8), so no connection is opened only to be
dropped. More would gain little: an incremental pull has 5-7 objects."""
BIG_PAGE = 1_000
"""A first page of changes this long says the object is big (likely more pages, or Bulk API chunks whose
text the connector holds beside it): no further object starts while it is ahead."""


class Sink(Protocol):
    """Where each page of translated records goes as it arrives: the CRM's `World` (and its graph)."""

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied: ...

    def refresh(self, echoes: Iterable[Lead]) -> None: ...


@dataclass
class Pulled:
    """What the pull phase kept once each page went into the world: what the later steps need.

    The raw records wait in `snapshots` (on disk) for the commit; the translated ones are in the world
    already. Close it (or use it as a context manager) when the cycle ends, whichever way it ends.
    """

    changed_people: list[Lead] = field(default_factory=list)  # leads and contacts whose content changed
    echoes: list[Lead] = field(default_factory=list)  # people whose only change was a writeback field
    snapshots: SnapshotSpool = field(default_factory=SnapshotSpool)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)
    cursors: dict[str, dict[str, Any]] = field(default_factory=dict)
    rescore: set[str] = field(default_factory=set)  # whose context a page changed (some may be gone since)
    accounts: set[str] = field(default_factory=set)  # accounts all of whose people are to be re-scored

    def close(self) -> None:
        """Drop the spooled raw records."""
        self.snapshots.close()

    def __enter__(self) -> Pulled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fields(connector: CRMConnector, crm: Crm, obj: str, mapping: CrmMapping) -> list[str]:
    wanted = pull_fields(crm, obj, mapping)
    if crm != "salesforce":
        return wanted
    visible = {name.lower() for name in connector.describe(obj).fields}
    # Standard fields an org hides (or an edition lacks) are skipped; the features' own fields are
    # proved by `leadq check`, and a missing one fails loudly in the query.
    return [f for f in wanted if "." in f or f.lower() in visible]


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
    into: Sink,
    objects: Sequence[str] | None = None,
    spool_dir: Path | None = None,
    ahead: int = OBJECTS_AHEAD,
) -> Pulled:
    """Pull every configured object of `crm` since its cursor; translate what really changed, page by page,
    into `into` (the world and its graph, timed as phase "graph").

    Objects come in `pull_objects` order (accounts and deals before the people matched to them, activity
    last), so feeding the world a page at a time builds the graph that feeding it everything at once would.
    The store is only read: the raw records wait in the returned `Pulled` for the commit.

    While one object's pages are used, the first page of changes and of deletions of the next `ahead`
    objects are already being fetched (`_start`, `connector.readahead.lookahead`): otherwise leadq would
    wait on one round trip after another, each object's first request answered while it idles (a Bulk API
    query job runs its whole query then). Objects are still applied in order, page by page, and a failure
    of an object fetched ahead surfaces at its turn, unchanged.

    What is held ahead is bounded: beyond the next object, objects start only while none of those ahead is
    big: never pulled yet (a full pull, read as Bulk API chunks) or with a first page of `BIG_PAGE`
    records or more. So a full pull holds one object ahead, as one big prefetch did; an incremental one,
    whose objects are mostly one small page, overlaps `ahead` objects' round trips.
    """
    pulled = Pulled(snapshots=SnapshotSpool(spool_dir))
    # Only the fields leadq writes are left out: a reviewer's override or decision is news.
    ours = writeback_fields(mapping)
    names = list(objects or pull_objects(crm, mapping))
    begun = lookahead(
        names,
        lambda obj: _start(connector, store, crm, mapping, obj, run_started),
        ahead=ahead,
        hold=_Started.big,
        close=_Started.close,
    )
    try:
        started = time.perf_counter()  # an object's time includes starting the ones ahead at its turn
        for current in begun:
            graph = _Feed(into, pulled)
            _pull_object(current, crm, mapping, ours, run_started, store, report, graph, pulled)
            report.phase("pull", time.perf_counter() - started - graph.seconds)
            report.phase("graph", graph.seconds)
            started = time.perf_counter()
    except BaseException:
        # Stopped early: wait for what is in flight and close it, so no fetch or thread outlives the pull.
        try:
            begun.close()
        finally:
            pulled.close()
        raise
    report.rejected += len({(p.object, p.record_id) for p in pulled.problems})
    report.problems.extend(str(p) for p in pulled.problems[:MAX_PROBLEMS_SHOWN])
    return pulled


@dataclass
class _Started:
    """One object's pull under way: its cursor, its first page of changes and of deletions being fetched on
    worker threads, or the error that kept it from starting (raised at its turn, as if it came then)."""

    obj: str
    cursor: dict[str, Any] | None = None
    changes: Prefetched[ChangePage] | None = None
    deletions: Prefetched[list[Deletion]] | None = None
    error: Exception | None = None

    def big(self) -> bool:
        """Whether the object is, or turned out to be, big: never pulled yet (a full pull), or a first page
        of changes of `BIG_PAGE` records or more. Never waits for a fetch."""
        if self.error is not None:
            return False  # nothing is held: the error waits for its turn
        if parse_value(self.cursor) is None:
            return True
        first = self.changes.peek() if self.changes is not None else None
        return first is not None and len(first.records) >= BIG_PAGE

    def close(self) -> None:
        """Wait for the fetches in flight, close them and join their threads (no-op once iterated)."""
        try:
            if self.changes is not None:
                self.changes.close()
        finally:
            if self.deletions is not None:
                self.deletions.close()


def _start(
    connector: CRMConnector, store: StateStore, crm: Crm, mapping: CrmMapping, obj: str, run_started: datetime
) -> _Started:
    """Read `obj`'s cursor and fields (here: the store is this thread's), then start fetching its pages."""
    try:
        cursor = store.get_cursor(crm, obj)
        fields = _fields(connector, crm, obj, mapping)
    except Exception as exc:  # kept, and raised unchanged when the object's turn comes
        return _Started(obj, error=exc)
    # HubSpot pages come with their associations, and the connector reads the next page meanwhile.
    associations = HUBSPOT_ASSOCIATIONS.get(obj, ()) if crm == "hubspot" else None
    started = _Started(obj, cursor)
    try:
        started.changes = prefetch(
            lambda: connector.pull_changes(
                obj, fields, cursor, run_started=run_started, associations=associations
            ),
            name=f"leadq-pull-{obj}",
        )
        started.deletions = prefetch(
            lambda: connector.pull_deletions(obj, cursor, run_started=run_started),
            name=f"leadq-deleted-{obj}",
        )
    except BaseException:
        started.close()
        raise
    return started


FEED_BATCH = 50_000  # translated records handed to the world at once


@dataclass
class _Feed:
    """Hands pages to the sink in batches of up to `FEED_BATCH` records, keeps what it says needs
    re-scoring, and times it.

    A page is a few thousand records; some graph work is per call (matching, engagement summaries,
    inserting into the activity index's sorted columns), so feeding it page by page costs more than
    feeding the same records in a few large batches, while memory stays bounded by the batch.
    """

    sink: Sink
    pulled: Pulled
    seconds: float = 0.0
    pending: list[CanonicalRecord] = field(default_factory=list)

    def apply(self, records: list[CanonicalRecord]) -> None:
        self.pending.extend(records)
        if len(self.pending) >= FEED_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            started = time.perf_counter()
            applied = self.sink.apply(self.pending)
            self.pulled.rescore |= applied.rescore
            self.pulled.accounts |= applied.accounts
            self.pending = []
            self.seconds += time.perf_counter() - started

    def refresh(self, echoes: list[Lead]) -> None:
        if echoes:
            self.flush()  # in pull order: what came before the echoes is in the world first
            started = time.perf_counter()
            self.sink.refresh(echoes)
            self.seconds += time.perf_counter() - started


def _pull_object(
    begun: _Started,
    crm: Crm,
    mapping: CrmMapping,
    ours: frozenset[str],
    run_started: datetime,
    store: StateStore,
    report: CrmReport,
    graph: _Feed,
    pulled: Pulled,
) -> None:
    if begun.error is not None:
        raise begun.error
    assert begun.changes is not None and begun.deletions is not None
    obj, cursor = begun.obj, begun.cursor
    high: datetime | None = None
    for page in begun.changes:
        records = page.records
        report.pulled[obj] += len(records)
        if page.high_water is not None:
            high = page.high_water if high is None else max(high, page.high_water)
        ids = [str(r.get("Id") or r.get("id")) for r in records]
        known = store.snapshot_hashes(crm, obj, ids)
        digests = content_digests(records, ours)
        changed = [r for r, i, d in zip(records, ids, digests, strict=True) if known.get(i) != d]
        echoed = [r for r, i, d in zip(records, ids, digests, strict=True) if known.get(i) == d]
        pulled.snapshots.add_pulled(obj, records, ids, digests)
        batch = translate_batch(crm, obj, changed, mapping, now=run_started)
        pulled.changed_people.extend(r for r in batch.records if isinstance(r, Lead) and not r.deleted)
        pulled.problems.extend(batch.problems)
        graph.apply(batch.records)
        if obj in SCORED_OBJECTS[crm] and echoed:
            echoes = translate_batch(crm, obj, echoed, mapping, now=run_started)
            people = [r for r in echoes.records if isinstance(r, Lead)]
            pulled.echoes.extend(people)
            graph.refresh(people)
            report.echoes += len(echoed)
    for deletions in begun.deletions:
        ids = [d.id for d in deletions]
        pulled.deleted.setdefault(obj, []).extend(ids)
        graph.apply([_deleted_record(crm, obj, i) for i in ids])
        report.deleted += len(ids)
    graph.flush()  # an object is in the world before the next one is pulled (accounts before people)
    pulled.cursors[obj] = advance(cursor, confirmed_up_to=high, run_started=run_started)
