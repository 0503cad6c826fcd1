"""The pull overlaps its objects: the next object's first pages are fetched while this one is applied, yet
objects reach the world in pull order, a failure of the next object surfaces at its turn, and a pull that
stops early leaves nothing in flight and no thread behind."""

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
from mappings import Account, Activity, CanonicalRecord, Lead, Opportunity
from sync.context import CycleContext
from sync.fields import pull_objects
from sync.pull import pull_changes
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

    def __init__(self, inner: CRMConnector, names: Sequence[str]) -> None:
        self.inner = inner
        self.names = list(names)
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
                self.next_was_requested[obj] = self.requested[self.names[following]].wait(WAIT_S)
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


def recording(ctx: CycleContext) -> Recording:
    names = pull_objects("salesforce", ctx.mapping("salesforce"))
    return Recording(ctx.connectors["salesforce"], names)


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
            # never more than one object ahead: the one after next starts once this one is done
            assert connector.at("closed", obj) < connector.at("requested", two_ahead)
        assert not leftover_threads()


@pytest.mark.parametrize(
    ("where", "obj"),
    [("changes", "Contact"), ("deletions", "Lead"), ("describe", "Task"), ("changes", "Account")],
)
def test_an_error_of_an_object_fetched_ahead_surfaces_unchanged_at_its_turn(
    tmp_path: Path, sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str, obj: str
) -> None:
    with salesforce_org(tmp_path, sandbox_state_dir, monkeypatch) as ctx:
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
        # The object after it had been started (at the failed one's turn) and was closed; nothing beyond it
        # was asked for (and a failed describe asks for nothing).
        requested = [o for what, o in connector.events if what == "requested"]
        started = names[: names.index(obj) + 2]
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
