"""Sandbox throughput: records served per second through SOQL query paging, and records written per
second through sObject Collections updates, for 100k leads, through the real simple-salesforce client.

The sandbox runs in its own process (as it would for a sync benchmark), so client and server do not
share one interpreter lock.

    .venv/bin/python -m benchmarks.sandbox [--leads 100000]

Prints a table, then one JSON line: {"query_records_per_s": ..., "collection_writes_per_s": ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table
from simple_salesforce.api import Salesforce

from sandbox import LimitConfig, SandboxOptions, SandboxServer
from sandbox.store import Store

QUERY_TARGET = 20_000
WRITE_TARGET = 5_000


def _fill(db: str, leads: int, seed: int) -> None:
    rng = random.Random(seed)
    store = Store(db)
    sources = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
    rows = (
        {
            "FirstName": f"First{i}",
            "LastName": f"Last{i}",
            "Company": f"Company {i % 5000}",
            "Email": f"person{i}@company{i % 5000}.example",
            "LeadSource": rng.choice(sources),
            "NumberOfEmployees": rng.randint(1, 50_000),
            "AnnualRevenue": float(rng.randint(0, 10**8)),
        }
        for i in range(leads)
    )
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 10_000:
            store.sf_insert_many("Lead", batch)  # type: ignore[arg-type]
            batch = []
    if batch:
        store.sf_insert_many("Lead", batch)  # type: ignore[arg-type]
    store.close()


def _serve(db: str, state_dir: str, conn: Connection) -> None:
    server = SandboxServer(
        SandboxOptions(db=db, state_dir=Path(state_dir), limits=LimitConfig(sf_daily_quota=10**9))
    )
    conn.send((server.url, str(server.ca_path), server.token))
    server.serve_forever()


def _client(url: str, ca: str, token: str) -> Salesforce:
    session = requests.Session()
    session.trust_env = False
    session.verify = ca
    return Salesforce(instance_url=url, session_id=token, session=session)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        _fill(db, args.leads, args.seed)
        fill_s = time.perf_counter() - t0

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(db, tmp, child), daemon=True)
        proc.start()
        url, ca, token = parent.recv()
        try:
            for _ in range(100):
                try:
                    requests.get(f"{url}/__sandbox/health", verify=ca, timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            sf = _client(url, ca, token)

            t0 = time.perf_counter()
            ids = [
                r["Id"]
                for r in sf.query_all_iter(
                    "SELECT Id, Name, Company, Email, LeadSource, NumberOfEmployees, AnnualRevenue, CreatedDate FROM Lead"
                )
            ]
            query_s = time.perf_counter() - t0
            assert len(ids) == args.leads, f"queried {len(ids)} of {args.leads} leads"

            t0 = time.perf_counter()
            written = 0
            for start in range(0, len(ids), 200):
                chunk = ids[start : start + 200]
                body = {
                    "allOrNone": False,
                    "records": [
                        {
                            "attributes": {"type": "Lead"},
                            "Id": i,
                            "Rating": "Warm",
                            "Description": f"bench {start}",
                        }
                        for i in chunk
                    ],
                }
                results: list[dict[str, Any]] = (
                    sf.restful("composite/sobjects", method="PATCH", json=body) or []
                )
                written += sum(1 for r in results if r["success"])
            write_s = time.perf_counter() - t0
            assert written == args.leads, f"wrote {written} of {args.leads} leads"
        finally:
            proc.terminate()
            proc.join(5)

    query_rate = args.leads / query_s
    write_rate = written / write_s
    table = Table(title=f"Sandbox throughput, {args.leads:,} leads (seeded in {fill_s:.1f} s)")
    for col in ("measure", "records", "seconds", "records/s", "target", "ok"):
        table.add_column(col, justify="right")
    table.add_row("query paging (query_all_iter)", f"{args.leads:,}", f"{query_s:.2f}", f"{query_rate:,.0f}",
                  f">= {QUERY_TARGET:,}", "yes" if query_rate >= QUERY_TARGET else "NO")  # fmt: skip
    table.add_row("collection updates (200/call)", f"{written:,}", f"{write_s:.2f}", f"{write_rate:,.0f}",
                  f">= {WRITE_TARGET:,}", "yes" if write_rate >= WRITE_TARGET else "NO")  # fmt: skip
    Console().print(table)
    print(
        json.dumps({"query_records_per_s": round(query_rate), "collection_writes_per_s": round(write_rate)})
    )


if __name__ == "__main__":
    main()
