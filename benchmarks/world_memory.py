"""What the world (one CRM's records and account graph, kept between cycles) holds in memory, by part.

The 1M-lead target (peak RSS <= 2 GB) is set by the world: everything else a cycle holds is bounded by a
chunk or a page. This pulls a seeded org's Salesforce records into a `World` as a full cycle's pull does
(the real connector against a served sandbox; nothing scored, nothing committed) and measures each part
with `pympler.asizeof` (every object reachable from it, counted once, in the order of the table: a record
the graph refers to is the people's). Sizes are deterministic, unlike timings: a change to the world's
shape shows here exactly, in minutes, without a 1M run.

    .venv/bin/python -m benchmarks.world_memory [--leads 100000] [--cache /tmp/cb/cache]

Prints a table (MB and bytes a person per part, with the 1M projection), then one JSON line:
{"people": ..., "world_mb": ..., "bytes_per_person": ..., "projected_1m_mb": ..., "pull_peak_rss_mb": ...,
"parts": {name: bytes_per_person}} (the process's peak RSS by the end of the pull, the world included).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pympler import asizeof
from rich.console import Console
from rich.table import Table

from benchmarks.cycle_run import rss_mb
from benchmarks.served import served_salesforce
from mappings import CrmMapping, LeadqConfig
from sync.memory import keep_large_blocks_apart
from sync.pull import pull_changes
from sync.report import CrmReport
from sync.world import World

PEOPLE_AT_1M = 1_642_000  # leads and contacts of the seeded 1M-lead org (1M leads, 642k contacts)


def parts(world: World) -> list[tuple[str, Callable[[], Any]]]:
    """The world's parts in the order they are counted (what an earlier part reaches is its own)."""
    graph: Any = world.graph
    return [
        ("person records", lambda: world.people),
        ("accounts, opportunities", lambda: (world.accounts, world.opportunities)),
        ("graph nodes", lambda: (graph._people, graph._accounts, graph._deals)),
        ("candidate index", lambda: graph._candidates),
        ("matchers", lambda: graph._matchers),
        ("unlinked, owners, recent", lambda: (graph._unlinked, graph._owners, graph._recent)),
        ("activity index", lambda: graph.activities),
        ("the rest", lambda: world),
    ]


def measure(world: World) -> list[tuple[str, int]]:
    """Bytes of each part, each object counted once (in the first part that reaches it)."""
    gc.collect()
    named = parts(world)
    sizes = asizeof.asizesof(*(get() for _, get in named), limit=1000)  # type: ignore[no-untyped-call]
    return [(name, int(size)) for (name, _), size in zip(named, sizes, strict=True)]


def _mapping(config: LeadqConfig) -> CrmMapping:
    if config.salesforce is None:
        raise SystemExit("the benchmark's config has no salesforce block")
    return config.salesforce


def peak_rss_mb() -> float:
    """The process's highest resident set size so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pull_world(leads: int, seed: int, cache: Path | None, console: Console) -> World:
    """A Salesforce world holding everything the seeded org has, pulled as a full cycle pulls it."""
    with served_salesforce(leads, seed, cache, console) as org:
        world = World("salesforce")
        started = time.perf_counter()
        with pull_changes(
            org.connector, org.store, "salesforce", _mapping(org.config),
            run_started=datetime.now(UTC), report=CrmReport("salesforce"), into=world, spool_dir=org.work,
        ):  # fmt: skip
            pass
        console.print(
            f"pulled {len(world.people):,} people in {time.perf_counter() - started:.1f} s; "
            f"RSS now {rss_mb():,.0f} MB, at most {peak_rss_mb():,.0f} MB"
        )
    return world


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", help="keep seeded orgs here and reuse them (default: a temporary folder)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    keep_large_blocks_apart()  # as the `leadq` command does: the pull's peak RSS is the command's
    console = Console(stderr=True)
    world = pull_world(args.leads, args.seed, Path(args.cache) if args.cache else None, console)
    pull_peak = peak_rss_mb()
    started = time.perf_counter()
    sizes = measure(world)
    console.print(f"measured in {time.perf_counter() - started:.1f} s")
    people = len(world.people)
    total = sum(size for _, size in sizes)
    table = Table(title=f"The world after a full pull: {people:,} people, {args.leads:,} leads")
    for name in ("part", "MB", "bytes a person", "at 1M (MB)"):
        table.add_column(name, justify="right" if name != "part" else "left")
    for name, size in [*sizes, ("total", total)]:
        per = size / people
        table.add_row(name, f"{size / 1e6:,.1f}", f"{per:,.0f}", f"{per * PEOPLE_AT_1M / 1e6:,.0f}")
    console.print(table)
    print(
        json.dumps(
            {"people": people, "world_mb": round(total / 1e6, 1), "bytes_per_person": round(total / people),
             "projected_1m_mb": round(total / people * PEOPLE_AT_1M / 1e6), "pull_peak_rss_mb": round(pull_peak),
             "parts": {name: round(size / people) for name, size in sizes}}
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
