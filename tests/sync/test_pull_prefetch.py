"""The pull overlaps its objects: the next objects' first pages are fetched while this one is applied (one
ahead in a full pull, `OBJECTS_AHEAD` in an incremental one), yet objects reach the world in pull order, a
failure of an object fetched ahead surfaces at its turn, the calls and what is pulled are those of one
object at a time, and a pull that stops early leaves nothing in flight and no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConnectorConfigError, QuotaExhaustedError
from connector.protocol import ChangePage, CRMConnector, Deletion, ObjectDescription
from mappings import Account, Activity, CanonicalRecord, Crm, Lead, Opportunity
from sync.context import CycleContext
from sync.fields import pull_objects
from sync.pull import OBJECTS_AHEAD, Pulled, pull_changes
from sync.report import CrmReport
from sync.world import Applied
from tests.sync.cycle_fixtures import close, seeded_sandbox, set_up_context

WAIT_S = 30.0  # a liveness bound for a background fetch that must happen, not a speed threshold
THREADS = ("leadq-pull-", "leadq-deleted-", "leadq-query-", "leadq-bulk-", "leadq-search-")


class PullFailedError(Exception):
    pass


class Recording:
    """The real connector, recording when each object's first page of changes is requested and when its
    pull is closed; it can fail at an object's describe, changes or deletions, and can hold an object's
    first page until `release` is set."""

    def __init__(self, inner: CRMConnector, names: Sequence[str], ahead: int = 1) -> None:
        self.inner = inner
        self.names = list(names)
        self.ahead = ahead  # objects that must have been asked for by the end of one's changes
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.requested = {obj: threading.Event() for obj in names}
        self.next_was_requested: dict[str, bool] = {}  # obj: had the next object been asked for by its end
        self.fail: dict[tuple[str, str], Exception] = {}  # (where, obj) -> the error to raise there
        self.hold: str | None = None
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def log(self, what: str, obj: str) -> None:
        with self.lock:
            self.events.append((what, obj))

    def at(self, what: str, obj: str) -> int:
        return self.events.index((what, obj))

    def describe(self, obj: str) -> ObjectDescription:
        if ("describe", obj) in self.fail:
            raise self.fail["describe", obj]
        return self.inner.describe(obj)

    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        self.log("requested", obj)
        self.requested[obj].set()
        try:
            if obj == self.hold:
                assert self.release.wait(WAIT_S)
            if ("changes", obj) in self.fail:
                raise self.fail["changes", obj]
            yield from self.inner.pull_changes(
                obj, fields, cursor, run_started=run_started, associations=associations
            )
            following = self.names.index(obj) + 1
            if following < len(self.names):
                # Without the prefetch the next object is only asked for after this one: this would time out.
                after = self.names[following : following + self.ahead]
                self.next_was_requested[obj] = all(self.requested[o].wait(WAIT_S) for o in after)
        finally:
            self.log("closed", obj)

    def pull_deletions(
        self, obj: str, cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[list[Deletion]]:
        if ("deletions", obj) in self.fail:
            raise self.fail["deletions", obj]
        yield from self.inner.pull_deletions(obj, cursor, run_started=run_started)


def salesforce_object(record: CanonicalRecord) -> str:
    if isinstance(record, Account):
        return "Account"
    if isinstance(record, Opportunity):
        return "Opportunity"
    if isinstance(record, Lead):
        return "Lead" if record.kind == "lead" else "Contact"
    assert isinstance(record, Activity)
    return record.source_object


class Sink:
    """Records which objects' records reach the world, in order; can stop the pull at one object."""

    def __init__(self, connector: Recording) -> None:
        self.connector = connector
        self.applied: list[str] = []
        self.stop_at: str | None = None

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied:
        for record in records:
            obj = salesforce_object(record)
            if obj == self.stop_at:
                self.connector.release.set()  # the object ahead may finish its first page now
                raise KeyboardInterrupt
            if not self.applied or self.applied[-1] != obj:
                self.applied.append(obj)
        return Applied()

    def refresh(self, echoes: Iterable[Lead]) -> None:
        pass


def leftover_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREADS)]


@contextmanager
def salesforce_org(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CycleContext]:
    with seeded_sandbox(state_dir, leads=30, seed=3) as server:
        ctx = set_up_context(tmp_path, server, "salesforce", monkeypatch)
        try:
            yield ctx
        finally:
            close(ctx)


def pull(ctx: CycleContext, connector: Recording, sink: Sink) -> None:
    pulled = pull_changes(connector, ctx.store, "salesforce", ctx.mapping("salesforce"),
                          run_started=ctx.clock(), report=CrmReport("salesforce"), into=sink)  # fmt: skip
    pulled.close()


def recording(ctx: CycleContext, ahead: int = 1) -> Recording:
    names = pull_objects("salesforce", ctx.mapping("salesforce"))
    return Recording(ctx.connectors["salesforce"], names, ahead)


OLD_CURSOR = {"value": "2000-01-01T00:00:00+00:00"}  # before the seeded org: an incremental window over all


def incremental(ctx: CycleContext, crm: Crm = "salesforce") -> None:
    """Every object pulled before (a cursor each), so the next pull is an incremental one."""
    for obj in pull_objects(crm, ctx.mapping(crm)):
        ctx.store.set_cursor(crm, obj, dict(OLD_CURSOR))


def test_the_next_object_is_fetched_while_this_one_is_applied_and_objects_reach_the_world_in_order(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
        connector = recording(ctx)
        names = connector.names
        assert names[:4] == ["Account", "Opportunity", "Contact", "Lead"] and "Task" in names
        sink = Sink(connector)
        pull(ctx, connector, sink)
        assert sink.applied == [obj for obj in names if obj in sink.applied]  # pull order, each once
        assert {"Account", "Contact", "Lead", "Task"} <= set(sink.applied)
        assert connector.next_was_requested == dict.fromkeys(names[:-1], True)
        for obj, two_ahead in zip(names, names[2:], strict=False):
            # a full pull (no cursors: big objects) keeps one object ahead: the one after next starts
            # once this one is done
            assert connector.at("closed", obj) < connector.at("requested", two_ahead)
        assert not leftover_threads()


@pytest.mark.parametrize("ahead", [1, OBJECTS_AHEAD], ids=["full", "incremental"])
@pytest.mark.parametrize(
    ("where", "obj"),
    [("changes", "Contact"), ("deletions", "Lead"), ("describe", "Task"), ("changes", "Account")],
)
def test_an_error_of_an_object_fetched_ahead_surfaces_unchanged_at_its_turn(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str, obj: str, ahead: int
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
        if ahead > 1:
            incremental(ctx)
        connector = recording(ctx)
        error = (ConnectorConfigError if where == "describe" else PullFailedError)(f"{obj} failed: HTTP 500")
        connector.fail[where, obj] = error
        sink = Sink(connector)
        with pytest.raises(type(error)) as raised:
            pull(ctx, connector, sink)
        assert raised.value is error and str(raised.value) == f"{obj} failed: HTTP 500"
        names = connector.names
        before = names[: names.index(obj)]
        # Every object before the failed one reached the world first; neither it nor any after it did
        # (an object's records go to the world once its deletions are in too).
        assert sink.applied == [o for o in before if o in sink.applied]
        assert {"Account", "Contact"} & set(before) <= set(sink.applied)
        # The objects after it had been started (at the failed one's turn: one in a full pull, `ahead` in
        # an incremental one) and were closed; nothing beyond them was asked for (nor by a failed describe).
        requested = [o for what, o in connector.events if what == "requested"]
        started = names[: names.index(obj) + 1 + ahead]
        assert sorted(requested) == sorted(o for o in started if (where, o) != ("describe", obj))
        assert sorted(o for what, o in connector.events if what == "closed") == sorted(requested)
        assert not leftover_threads()


def test_a_pull_stopped_while_the_next_object_is_in_flight_waits_for_it_and_closes_it(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
        connector = recording(ctx)
        connector.hold = "Lead"  # its first page waits until the pull has stopped on Contact
        sink = Sink(connector)
        sink.stop_at = "Contact"
        with pytest.raises(KeyboardInterrupt):
            pull(ctx, connector, sink)
        assert sink.applied == ["Account", "Opportunity"]
        assert connector.requested["Lead"].is_set() and connector.release.is_set()
        assert connector.events[-1] == ("closed", "Lead"), "the fetch in flight was waited for, then closed"
        assert not connector.requested["Task"].is_set()
        assert not leftover_threads()


def test_a_quota_stop_mid_pull_keeps_the_objects_before_it_and_leaves_nothing_running(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
        connector = recording(ctx)
        quota = QuotaExhaustedError("daily API quota used up (test)", crm="salesforce", status=403)
        connector.fail["changes", "Task"] = quota
        sink = Sink(connector)
        with pytest.raises(QuotaExhaustedError) as raised:
            pull(ctx, connector, sink)
        assert raised.value is quota
        assert sink.applied[-1] == "Lead" and "Account" in sink.applied
        requested = [o for what, o in connector.events if what == "requested"]
        assert sorted(o for what, o in connector.events if what == "closed") == sorted(requested)
        assert not leftover_threads()


def test_an_incremental_pull_fetches_several_objects_ahead_and_applies_them_in_order(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
        incremental(ctx)
        connector = recording(ctx, ahead=OBJECTS_AHEAD)
        names = connector.names
        assert len(names) > OBJECTS_AHEAD + 1
        sink = Sink(connector)
        pull(ctx, connector, sink)
        assert sink.applied == [obj for obj in names if obj in sink.applied]  # pull order, each once
        assert {"Account", "Contact", "Lead", "Task"} <= set(sink.applied)
        # by the end of each object's changes, the next OBJECTS_AHEAD objects had all been asked for
        assert connector.next_was_requested == dict.fromkeys(names[:-1], True)
        for obj, beyond in zip(names, names[OBJECTS_AHEAD + 1 :], strict=False):
            assert connector.at("closed", obj) < connector.at("requested", beyond), "and no more than those"
        assert not leftover_threads()


class Applying:
    """Records every record that reaches the world, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, bool]] = []

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied:
        self.records.extend((type(r).__name__, r.id, r.deleted) for r in records)
        return Applied()

    def refresh(self, echoes: Iterable[Lead]) -> None:
        self.records.extend(("echo", r.id, r.deleted) for r in echoes)


def pulled_with(
    ctx: CycleContext, crm: Crm, ahead: int
) -> tuple[list[tuple[str, str, bool]], dict[str, Any]]:
    connector = ctx.connectors[crm]
    sink = Applying()
    report = CrmReport(crm)
    connector.calls.take()
    with pull_changes(connector, ctx.store, crm, ctx.mapping(crm), run_started=ctx.clock(), report=report,
                      into=sink, ahead=ahead) as pulled:  # fmt: skip
        seen = _summary(pulled)
    seen |= {"calls": connector.calls.take(), "pulled": dict(report.pulled), "deleted": report.deleted}
    return sink.records, seen


def _summary(pulled: Pulled) -> dict[str, Any]:
    return {
        "changed": [p.id for p in pulled.changed_people],
        "echoes": [p.id for p in pulled.echoes],
        "deleted": pulled.deleted,
        "cursors": pulled.cursors,
        "rescore": sorted(pulled.rescore),
        "accounts": sorted(pulled.accounts),
        "problems": [str(p) for p in pulled.problems],
        "spooled": [
            (obj, [(put.record_id, put.content_hash) for put in page])
            for obj, page in pulled.snapshots.chunks(1000)
        ],
    }


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_several_objects_ahead_pull_the_same_records_with_the_same_calls_as_one_ahead(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch, crm: Crm
) -> None:
    with seeded_sandbox(sandbox_state_dir, leads=30, seed=3) as server:
        ctx = set_up_context(tmp_path, server, crm, monkeypatch)
        try:
            incremental(ctx, crm)
            pulled_with(ctx, crm, ahead=1)  # describes and sign-in, cached for the two compared below
            one_records, one = pulled_with(ctx, crm, ahead=1)
            many_records, many = pulled_with(ctx, crm, ahead=OBJECTS_AHEAD)
        finally:
            close(ctx)
    assert one_records and one["changed"] and one["calls"]
    assert many_records == one_records, "the same records reach the world in the same order"
    assert many == one, "same people, echoes, deletions, cursors, spool, report and API calls"
    assert not leftover_threads()
