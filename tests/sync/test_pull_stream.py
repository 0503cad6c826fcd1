"""The streaming pull: raw records spooled out of memory until the commit, pages applied to the world as they
arrive (the same graph and re-score set as applying everything at once), nothing kept after a failure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import QuotaExhaustedError
from connector.protocol import ChangePage, CRMConnector, RecordUpdate
from mappings import CanonicalRecord, Crm, Lead
from sandbox import SandboxServer
from sync.commit import Commit, commit
from sync.context import CycleContext
from sync.cycle import run_cycle, update_graph
from sync.pull import Pulled, pull_changes
from sync.report import CrmReport
from sync.snapshots import SnapshotSpool
from sync.state.bulk import SnapshotPut
from sync.state.columns import EncodedJSON, UTCText, json_value
from sync.world import Applied, World
from tests.sync.cycle_fixtures import (
    close,
    seeded_sandbox,
    set_up_context,
)

CRMS = ("salesforce", "hubspot")

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
stamps = st.none() | st.datetimes(timezones=st.just(UTC))
puts = st.builds(SnapshotPut, st.text(min_size=1, max_size=18), json_values, st.text(max_size=64), stamps)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.tuples(st.sampled_from(["Lead", "Account", "Task"]), st.lists(puts, max_size=6))),
       size=st.integers(1, 4))  # fmt: skip
def test_the_spool_gives_back_every_record_in_order_in_runs_of_one_object(
    batches: list[tuple[str, list[SnapshotPut]]], size: int
) -> None:
    spool = SnapshotSpool(in_memory=64)  # rolls over to its file after a few records
    try:
        for obj, page in batches:
            spool.add(obj, page)
        read = list(spool.chunks(size))
        assert all(0 < len(chunk) <= size for _, chunk in read)
        assert all(a != b or len(first) == size for (a, first), (b, _) in pairwise(read))
        flat = [(obj, put) for obj, chunk in read for put in chunk]
        assert flat == [(obj, put) for obj, page in batches for put in page]
        assert spool.count == len(flat)
        runs = list(spool.batches(size))
        assert [(obj, len(run)) for obj, run in runs] == [(obj, len(chunk)) for obj, chunk in read]
        stamps = [s for _, run in runs for s in run.stamps if s is not None]
        assert all(type(s) is UTCText for s in stamps)
        encoded = [
            (obj, SnapshotPut(i, v, d, None if s is None else UTCText(s).to_datetime()))
            for obj, run in runs
            for i, v, d, s in zip(run.record_ids, run.values, run.digests, run.stamps, strict=True)
        ]
        assert all(type(put.values) is EncodedJSON for _, put in encoded)
        assert [(o, replace(p, values=json_value(p.values))) for o, p in encoded] == flat
    finally:
        spool.close()
    assert spool.closed


def test_the_spool_keeps_integers_beyond_64_bits_and_leaves_no_file_behind(tmp_path: Path) -> None:
    spool = SnapshotSpool(tmp_path / "state", in_memory=16)
    big = SnapshotPut("001", {"AnnualRevenue": 10**30, "Name": "line\nbreak"}, "h", None)
    spool.add("Account", [big, SnapshotPut("002", {"n": 1}, "g", datetime(2024, 5, 1, tzinfo=UTC))])
    assert list(spool.chunks()) == [("Account", [big, SnapshotPut("002", {"n": 1}, "g",
                                                                    datetime(2024, 5, 1, tzinfo=UTC))])]  # fmt: skip
    assert list((tmp_path / "state").iterdir()) == []  # the rolled-over file has no name
    spool.close()


# ---- per page versus all at once, on a seeded org ---------------------------------------------------------


class SmallPages:
    """The real connector, its pages cut into pages of `size` records (a seeded test org fits in one page)."""

    def __init__(self, inner: CRMConnector, size: int = 7) -> None:
        self.inner = inner
        self.size = size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        pages = self.inner.pull_changes(
            obj, fields, cursor, run_started=run_started, associations=associations
        )
        for page in pages:
            parts = [page.records[i : i + self.size] for i in range(0, len(page.records), self.size)] or [[]]
            for n, part in enumerate(parts):
                yield ChangePage(obj, part, page.high_water if n == len(parts) - 1 else None)


class Collect:
    """A sink that keeps every record for one `World.apply` at the end (the pull before streaming)."""

    def __init__(self) -> None:
        self.records: list[CanonicalRecord] = []
        self.echoes: list[Lead] = []

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied:
        self.records.extend(records)
        return Applied()

    def refresh(self, echoes: Iterable[Lead]) -> None:
        self.echoes.extend(echoes)


def graph_state(world: World) -> tuple[Any, ...]:
    g = world.graph.graph
    nodes = sorted((repr(n), repr(sorted(d.items()))) for n, d in g.nodes(data=True))
    edges = sorted(
        (repr(u), repr(v), str(k), repr(sorted(d.items()))) for u, v, k, d in g.edges(keys=True, data=True)
    )
    return nodes, edges, world.people, world.accounts, world.opportunities


def pull_both(
    ctx: CycleContext, crm: Crm, streamed: World, at_once: World
) -> tuple[Pulled, set[str], set[str]]:
    """Pull the same window twice: page by page into `streamed`, and all at once into `at_once`."""
    connector = SmallPages(ctx.connectors[crm])
    run_started = ctx.clock()
    mapping = ctx.mapping(crm)
    collect = Collect()
    with pull_changes(connector, ctx.store, crm, mapping, run_started=run_started,
                      report=CrmReport(crm), into=collect):  # fmt: skip
        pass
    applied = at_once.apply(collect.records)
    at_once.refresh(collect.echoes)
    pulled = pull_changes(connector, ctx.store, crm, mapping, run_started=run_started,
                          report=CrmReport(crm), into=streamed, spool_dir=ctx.state_dir)  # fmt: skip
    assert [p.id for p in pulled.changed_people] == [
        r.id for r in collect.records if isinstance(r, Lead) and not r.deleted
    ]
    streamed_rescore = update_graph(streamed, pulled, CrmReport(crm))
    return pulled, streamed_rescore, applied.rescore | at_once.people_at(applied.accounts)


def commit_pull(ctx: CycleContext, crm: Crm, pulled: Pulled) -> None:
    with pulled:
        commit(ctx.store, Commit(crm, "test", pulled))
        with ctx.store.transaction():
            for obj, cursor in pulled.cursors.items():
                ctx.store.set_cursor(crm, obj, cursor)


@pytest.mark.parametrize("crm", CRMS)
def test_applying_each_page_as_it_arrives_builds_the_graph_applying_everything_at_once_builds(
    tmp_path: Path, sandbox_state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    with seeded_sandbox(sandbox_state_dir, leads=60, seed=11) as server:
        ctx = make_ctx(tmp_path, server, crm, monkeypatch)
        try:
            streamed, at_once = World(crm), World(crm)
            pulled, rescore, expected = pull_both(ctx, crm, streamed, at_once)
            assert pulled.snapshots.count > 100 and len(streamed.people) > 50
            assert graph_state(streamed) == graph_state(at_once)
            assert rescore == expected and len(expected) > 50
            commit_pull(ctx, crm, pulled)
            stored = sum(1 for obj in pulled.cursors for _ in ctx.store.iter_snapshot_values(crm, obj))
            assert stored == pulled.snapshots.count  # every spooled record reached the store

            change_org(ctx, crm, streamed)
            pulled, rescore, expected = pull_both(ctx, crm, streamed, at_once)
            assert 0 < len(pulled.changed_people) < len(streamed.people)
            assert graph_state(streamed) == graph_state(at_once)
            assert rescore == expected and rescore
            pulled.close()
        finally:
            close(ctx)


def change_org(ctx: CycleContext, crm: Crm, world: World) -> None:
    """Reps edit a few people (titles, companies) and rename two accounts."""
    connector = ctx.connectors[crm]
    people = sorted(world.people)[:6]
    accounts = sorted(world.accounts)[:2]
    person_obj = {"salesforce": None, "hubspot": "contacts"}[crm]
    for n, person_id in enumerate(people):
        obj = person_obj or ("Lead" if world.people[person_id].kind == "lead" else "Contact")
        company = "Company" if obj == "Lead" else ("company" if crm == "hubspot" else "Title")
        values = {company: f"Renamed Co {n}"}
        outcomes = connector.apply_updates(obj, [RecordUpdate(person_id, values)])
        assert all(o.ok for o in outcomes), outcomes
    account_obj, name = ("Account", "Name") if crm == "salesforce" else ("companies", "name")
    outcomes = connector.apply_updates(
        account_obj, [RecordUpdate(a, {name: f"Acme Renamed {n}"}) for n, a in enumerate(accounts)]
    )
    assert all(o.ok for o in outcomes), outcomes


def make_ctx(
    tmp_path: Path, server: SandboxServer, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> CycleContext:
    return set_up_context(tmp_path, server, crm, monkeypatch)


# ---- failures and dry runs leave nothing behind ---------------------------------------------------------


class QuotaOn:
    """The real connector, except that the daily quota runs out when `obj` is pulled."""

    def __init__(self, inner: CRMConnector, obj: str) -> None:
        self.inner = inner
        self.obj = obj

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        if obj == self.obj:
            raise QuotaExhaustedError("daily API quota used up (test)")
        yield from self.inner.pull_changes(
            obj, fields, cursor, run_started=run_started, associations=associations
        )


@pytest.mark.parametrize("crm", CRMS)
def test_a_pull_stopped_half_way_stores_nothing_and_the_next_cycle_scores_everyone(
    tmp_path: Path, sandbox_state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    with seeded_sandbox(sandbox_state_dir, leads=30) as server:
        ctx = make_ctx(tmp_path, server, crm, monkeypatch)
        inner = ctx.connectors[crm]
        try:
            # The people were pulled (and applied to the world) before the quota ran out on activity.
            ctx.connectors = {crm: QuotaOn(inner, "Task" if crm == "salesforce" else "tasks")}
            stopped = run_cycle(ctx).crms[crm]
            assert stopped.stopped and stopped.scored == 0
            assert crm not in ctx.worlds  # it held records the store never got
            people = "Lead" if crm == "salesforce" else "contacts"
            assert list(ctx.store.iter_snapshot_values(crm, people)) == []
            assert ctx.store.get_cursor(crm, people) is None

            ctx.connectors = {crm: inner}
            dry = run_cycle(ctx, dry_run=True).crms[crm]
            assert dry.planned and crm not in ctx.worlds  # a dry run leaves no trace, in memory either

            again = run_cycle(ctx).crms[crm]
            assert again.stopped is None and again.scored == dry.scored > 0
            assert again.written == again.scored
        finally:
            ctx.connectors = {crm: inner}
            close(ctx)


@pytest.mark.parametrize("crm", CRMS)
def test_a_restarted_process_rebuilds_the_world_a_continuous_one_has(
    tmp_path: Path, sandbox_state_dir: Path, crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    with seeded_sandbox(sandbox_state_dir, leads=40, seed=5) as server:
        ctx = make_ctx(tmp_path, server, crm, monkeypatch)
        try:
            run_started = ctx.clock()
            live = World(crm)
            pulled = pull_changes(ctx.connectors[crm], ctx.store, crm, ctx.mapping(crm),
                                  run_started=run_started, report=CrmReport(crm), into=live,
                                  spool_dir=ctx.state_dir)  # fmt: skip
            commit_pull(ctx, crm, pulled)
            rebuilt = World.rebuild(crm, ctx.store, ctx.mapping(crm), now=run_started)
            assert len(rebuilt.people) > 30
            assert graph_state(rebuilt) == graph_state(live)
            # Age features are anchored at `now`: a rebuild on another day sees other people.
            later = World.rebuild(crm, ctx.store, ctx.mapping(crm), now=run_started + timedelta(days=3))
            assert later.people != live.people
        finally:
            close(ctx)
