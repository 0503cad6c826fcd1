"""The world memory benchmark counts each object once, in the first part that reaches it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from pympler import asizeof

from benchmarks.world_memory import measure, parts
from mappings import Account, Activity, Contact, Crm, Lead
from sync.world import World

SF: Crm = "salesforce"


def _world() -> World:
    world = World(SF)
    world.apply(
        [
            Account(crm=SF, id="001A", name="Acme", website="acme.com", owner_id="005A"),
            Contact(crm=SF, id="003A", email="ann@acme.com", account_id="001A", owner_id="005A"),
            Lead(crm=SF, id="00QA", email="bo@acme.com", company="Acme"),
            Lead(crm=SF, id="00QB", email="cy@nowhere.example", company="Nowhere Ltd"),
            Activity(crm=SF, id="00TA", who_id="00QA", kind="email", at=datetime(2026, 6, 1, tzinfo=UTC)),
        ]
    )
    return world


def test_every_part_is_measured_and_the_parts_add_up_to_the_world() -> None:
    world = _world()
    sizes = dict(measure(world))
    assert list(sizes) == [name for name, _ in parts(world)]
    for name in ("person records", "graph nodes", "candidate index", "activity index"):
        assert sizes[name] > 0, name
    # Counted once: the parts together are what the whole world reaches, and the tuples grouping some parts.
    grouping = sum(sys.getsizeof(got) for _, get in parts(world) if type(got := get()) is tuple)
    assert sum(sizes.values()) == asizeof.asizeof(world, limit=1000) + grouping  # type: ignore[no-untyped-call]


def test_a_record_the_graph_also_holds_counts_as_the_peoples() -> None:
    world = _world()
    unlinked = world.graph._unlinked[("lead", SF, "00QB")]  # the graph keeps unlinked leads for matching
    assert unlinked is world.people["00QB"]
    with_graph = dict(measure(world))
    world.graph._unlinked.clear()
    without = dict(measure(world))
    assert without["person records"] == with_graph["person records"]
    assert without["unlinked, owners, recent"] < with_graph["unlinked, owners, recent"]
