"""The pull phase of a cycle: changed records since each object's cursor, echoes set aside, translated.

Nothing here writes to the state store: what was pulled is committed together with the plan it led to
(`sync.commit`), so a crash before that point simply pulls the same records again.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from connector.cursor import advance
from connector.protocol import CRMConnector
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
from sync.state.columns import EncodedJSON, json_value
from sync.world import Applied

MAX_PROBLEMS_SHOWN = 20
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # bytes of raw records a pull keeps in memory before spooling to disk
SNAPSHOT_CHUNK = 5000  # raw records read back from the spool (and written to the store) at a time


class Sink(Protocol):
    """Where each page of translated records goes as it arrives: the CRM's `World` (and its graph)."""

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied: ...

    def refresh(self, echoes: Iterable[Lead]) -> None: ...


class SnapshotSpool:
    """The raw records of one pull, one JSON line each, kept out of memory until the commit stores them.

    Held as dicts until the commit, they cost the process gigabytes at 100k leads (784k records); spooled,
    a pull's memory is one page. Small pulls stay in memory; larger ones roll over to an unnamed file in
    `folder` (next to the state store: the store keeps the same records, so the disk has room).
    """

    def __init__(self, folder: Path | None = None, *, in_memory: int = SPOOL_IN_MEMORY) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by `close`, with the `Pulled`
            max_size=in_memory,
            mode="w+b",
            dir=None if folder is None else str(folder),
            prefix="leadq-pull-",
        )
        self.count = 0

    def add(self, obj: str, puts: Iterable[SnapshotPut]) -> None:
        """Append records of `obj`, after those added before."""
        lines = [_encode(obj, put) for put in puts]
        self._file.seek(0, io.SEEK_END)
        self._file.write(b"".join(lines))
        self.count += len(lines)

    def add_pulled(
        self, obj: str, records: Sequence[Mapping[str, Any]], ids: Sequence[str], digests: Sequence[str]
    ) -> None:
        """Append pulled records of `obj` with their ids and digests: the lines `add` writes for
        `SnapshotPut(id, record, digest, _stamp(record))`, without building the `SnapshotPut`s."""
        lines = [
            _line(obj, record_id, digest, _stamp_text(record), record)
            for record, record_id, digest in zip(records, ids, digests, strict=True)
        ]
        self._file.seek(0, io.SEEK_END)
        self._file.write(b"".join(lines))
        self.count += len(lines)

    def chunks(
        self, size: int = SNAPSHOT_CHUNK, *, encoded: bool = False
    ) -> Iterator[tuple[str, list[SnapshotPut]]]:
        """The records in the order they were added, as runs of one object of at most `size` records.

        `encoded`: each record's values come as the JSON text spooled (`EncodedJSON`, which the store
        writes as is) rather than decoded."""
        self._file.seek(0)
        obj: str | None = None
        puts: list[SnapshotPut] = []
        for line in self._file:
            name, put = _decode(line, encoded)
            if obj is not None and (name != obj or len(puts) >= size):
                yield obj, puts
                puts = []
            obj = name
            puts.append(put)
        if obj is not None and puts:
            yield obj, puts

    def close(self) -> None:
        """Drop the spooled records (the file, if any, has no name: closing it frees the disk)."""
        self._file.close()

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)


def _encode(obj: str, put: SnapshotPut) -> bytes:
    stamp = None if put.modified_at is None else put.modified_at.isoformat()
    return _line(obj, put.record_id, put.content_hash, stamp, put.values)


def _line(obj: str, record_id: str, digest: str, stamp: str | None, values: Any) -> bytes:
    # One line: the header as a JSON array, a tab, the values as JSON. Neither encoder writes a raw tab or
    # line break (both are escaped inside strings), so the first tab ends the header.
    header = orjson.dumps([obj, record_id, digest, stamp])
    try:
        text = orjson.dumps(values)
    except TypeError:  # orjson stops at 64-bit integers; the store's JSON column takes any
        text = json.dumps(values, separators=(",", ":"), allow_nan=False).encode()
    return header + b"\t" + text + b"\n"


def _decode(line: bytes, encoded: bool) -> tuple[str, SnapshotPut]:
    header, _, values = line.rstrip(b"\n").partition(b"\t")
    obj, record_id, digest, stamp = orjson.loads(header)
    text = values.decode()
    return obj, SnapshotPut(
        record_id,
        EncodedJSON(text) if encoded else json_value(text),
        digest,
        None if stamp is None else datetime.fromisoformat(stamp),
    )


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

    def close(self) -> None:
        """Drop the spooled raw records."""
        self.snapshots.close()

    def __enter__(self) -> Pulled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def content_digest(raw: Mapping[str, Any], ignored: frozenset[str]) -> str:
    """Hash of a raw record without the values that change on every write (stamps, our own fields)."""
    kept = {k: v for k, v in raw.items() if k not in ignored and k not in VOLATILE}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def content_digests(records: Iterable[Mapping[str, Any]], ignored: frozenset[str]) -> list[str]:
    """`content_digest` of each record, the same digests, at a page's pace.

    The records of a page have the same keys, so the keys to leave out are found once per set of keys, and
    each record is copied (one C call) and loses those few keys instead of being filtered key by key.
    The JSON is written with sorted keys, so the copy's key order does not matter.
    """
    out: list[str] = []
    keys: Any = None  # the keys of the record `drop` was worked out for
    drop: list[Any] = []
    sha256, dumps, option = hashlib.sha256, orjson.dumps, orjson.OPT_SORT_KEYS
    for raw in records:
        if type(raw) is not dict:
            out.append(content_digest(raw, ignored))
            continue
        if keys is None or raw.keys() != keys:  # as sets: the same keys in any order
            keys = raw.keys()
            drop = [k for k in keys if k in ignored or k in VOLATILE]
        kept = raw
        if drop:
            kept = raw.copy()
            for key in drop:
                del kept[key]
        out.append(sha256(dumps(kept, option=option, default=str)).hexdigest())
    return out


def _stamp(raw: Mapping[str, Any]) -> datetime | None:
    for name in ("SystemModstamp", "lastmodifieddate", "hs_lastmodifieddate"):
        value = raw.get(name)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
            except ValueError:
                return None
    return None


def _stamp_text(raw: Mapping[str, Any]) -> str | None:
    """`_stamp(raw)` as the spool writes it (ISO text), or None."""
    stamp = _stamp(raw)
    return None if stamp is None else stamp.isoformat()


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
) -> Pulled:
    """Pull every configured object of `crm` since its cursor; translate what really changed, page by page,
    into `into` (the world and its graph, timed as phase "graph").

    Objects come in `pull_objects` order (accounts and deals before the people matched to them, activity
    last), so feeding the world a page at a time builds the graph that feeding it everything at once would.
    The store is only read: the raw records wait in the returned `Pulled` for the commit.
    """
    pulled = Pulled(snapshots=SnapshotSpool(spool_dir))
    # Only the fields leadq writes are left out: a reviewer's override or decision is news.
    ours = writeback_fields(mapping)
    try:
        for obj in objects or pull_objects(crm, mapping):
            started = time.perf_counter()
            graph = _Feed(into, pulled)
            _pull_object(connector, store, crm, mapping, obj, ours, run_started, report, graph, pulled)
            report.phase("pull", time.perf_counter() - started - graph.seconds)
            report.phase("graph", graph.seconds)
    except BaseException:
        pulled.close()
        raise
    report.rejected += len({(p.object, p.record_id) for p in pulled.problems})
    report.problems.extend(str(p) for p in pulled.problems[:MAX_PROBLEMS_SHOWN])
    return pulled


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
            self.pulled.rescore |= self.sink.apply(self.pending).rescore
            self.pending = []
            self.seconds += time.perf_counter() - started

    def refresh(self, echoes: list[Lead]) -> None:
        if echoes:
            self.flush()  # in pull order: what came before the echoes is in the world first
            started = time.perf_counter()
            self.sink.refresh(echoes)
            self.seconds += time.perf_counter() - started


def _pull_object(
    connector: CRMConnector,
    store: StateStore,
    crm: Crm,
    mapping: CrmMapping,
    obj: str,
    ours: frozenset[str],
    run_started: datetime,
    report: CrmReport,
    graph: _Feed,
    pulled: Pulled,
) -> None:
    cursor = store.get_cursor(crm, obj)
    fields = _fields(connector, crm, obj, mapping)
    high: datetime | None = None
    # HubSpot pages come with their associations, and the connector reads the next page meanwhile.
    associations = HUBSPOT_ASSOCIATIONS.get(obj, ()) if crm == "hubspot" else None
    for page in connector.pull_changes(
        obj, fields, cursor, run_started=run_started, associations=associations
    ):
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
    for deletions in connector.pull_deletions(obj, cursor, run_started=run_started):
        ids = [d.id for d in deletions]
        pulled.deleted.setdefault(obj, []).extend(ids)
        graph.apply([_deleted_record(crm, obj, i) for i in ids])
        report.deleted += len(ids)
    graph.flush()  # an object is in the world before the next one is pulled (accounts before people)
    pulled.cursors[obj] = advance(cursor, confirmed_up_to=high, run_started=run_started)
