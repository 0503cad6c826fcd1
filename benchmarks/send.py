"""The send phase alone: every person's score fields written back to the sandbox, a few times over.

The cycle benchmark's write phase, without the rest of the cycle around it: serves a copy of its seeded
org (seeded on first use, reused from `--cache`), sets leadq up on it, and for each round plans a new score
for every Lead and Contact (as a cycle's commit does: the outbox items, and the ledger fields naming them),
then times `Sender.send_all`. A send of ~165k people at 100k leads takes ~20 s, so two versions of the code
can be compared back to back on a noisy machine in a few minutes (the cycle benchmark takes six).

    .venv/bin/python -m benchmarks.send --leads 100000 --cache /tmp/cb/cache

Prints a table, then one JSON line: {"send_s" (the median round), "records_per_s", "written", "api_calls"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.served import served_salesforce
from connector.protocol import CRMConnector
from sync.report import CrmReport
from sync.send import Sender
from sync.state import StateStore
from sync.state.bulk import NewOutboxItem

OBJECTS = ("Lead", "Contact")


def _people(connector: CRMConnector) -> list[tuple[str, str]]:
    """(object, id) of every Lead and Contact of the org."""
    now = datetime.now(UTC)
    return [
        (obj, str(record["Id"]))
        for obj in OBJECTS
        for page in connector.pull_changes(obj, ["Id"], None, run_started=now)
        for record in page.records
    ]


def _plan(store: StateStore, people: list[tuple[str, str]], round_key: str, score: int) -> None:
    """A new score for everyone, planned as the commit plans it (outbox items, then the ledger)."""
    values = {"leadq_Score__c": score, "leadq_Action__c": f"benchmark {round_key}"}
    with store.transaction():
        for start in range(0, len(people), 5000):
            part = people[start : start + 5000]
            items = [
                NewOutboxItem(
                    "salesforce", "field_update", obj, rid, {"values": values}, f"{round_key}:{rid}"
                )
                for obj, rid in part
            ]
            store.enqueue_many(items)
            ids = store.outbox_ids([i.idempotency_key for i in items])
            store.plan_records(
                "salesforce",
                [(obj, rid, values, {}) for obj, rid in part],
                [ids[i.idempotency_key] for i in items],
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="sends of everyone, one after another")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", help="keep seeded orgs here and reuse them (default: a temporary folder)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    console = Console(stderr=True)
    with served_salesforce(args.leads, args.seed, Path(args.cache) if args.cache else None, console) as org:
        store, connector = org.store, org.connector
        people = _people(connector)
        connector.calls.take()
        console.print(f"{len(people):,} people to write, {args.rounds} times")
        rows: list[tuple[int, float, int, int]] = []
        for n in range(args.rounds):
            _plan(store, people, f"r{n}", n)
            report = CrmReport("salesforce")
            started = time.perf_counter()
            Sender(store, connector, "salesforce", report, batch_size=connector.write_batch).send_all()
            seconds = time.perf_counter() - started
            rows.append((n, seconds, report.written, sum(connector.calls.take().values())))
            console.print(f"  round {n}: {seconds:.1f} s, {report.written:,} written")
    table = Table(title=f"The send phase, {len(people):,} people")
    for name in ("round", "seconds", "written", "records/s", "api calls"):
        table.add_column(name, justify="right")
    for n, seconds, written, calls in rows:
        table.add_row(str(n), f"{seconds:.2f}", f"{written:,}", f"{written / seconds:,.0f}", str(calls))
    console.print(table)
    median = statistics.median(seconds for _, seconds, _, _ in rows)
    written, calls = rows[-1][2], rows[-1][3]
    print(
        json.dumps(
            {"send_s": round(median, 2), "records_per_s": round(written / median), "written": written,
             "api_calls": calls}
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
