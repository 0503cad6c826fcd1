"""API calls per endpoint for a full pull and a partial write-back, against the floor each API allows; and
pull throughput through the Salesforce connector next to a bare simple-salesforce loop (the ceiling).

    .venv/bin/python -m benchmarks.api_calls [--leads 100000] [--changed-fraction 0.1]

The sandbox runs in its own process (client and server do not share one interpreter lock), seeded with
synthetic leads and contacts. The connectors are built from a `leadq init --sandbox` config through
`sync.connectors`, and the writeback fields are created by `leadq setup`'s plan. Three runs:

* Salesforce REST (bulk_threshold above N): floor ceil(N/2000) query pages + ceil(changed/200) collections;
* Salesforce Bulk API 2.0 (bulk_threshold 2000): a constant handful of job calls, whatever N;
* HubSpot: floor ceil(N/200) search pages + ceil(changed/100) batch updates (pacing lifted: calls are counted).

Every count comes from the connector's `CallLog` and is cross-checked with the sandbox's request log.
Prints tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table
from simple_salesforce.api import Salesforce

from connector.accounting import endpoint_of
from connector.protocol import RecordUpdate
from mappings import SANDBOX_TOKEN_ENV, LeadqConfig, load_config, write_default_config
from sandbox import LimitConfig, SandboxOptions, SandboxServer
from sandbox.store import SfValue, Store
from sync.check import feature_paths
from sync.connectors import CachedDescriber, Connector, build_connector
from sync.setup import apply, plan

SF_PAGE, SF_COLLECTION, BULK_RESULTS_PAGE = 2000, 200, 50_000
HS_PAGE, HS_BATCH = 200, 100
HS_FAST = {"requests_per_10s": 1_000_000, "search_per_second": 100_000}
SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
HS_SOURCES = ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "REFERRALS", "DIRECT_TRAFFIC"]
INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing"]
TITLES = ["VP Sales", "CTO", "Analyst", "Founder", "Head of Marketing", "Engineer"]


# ------------------------------------------------------------------------------------------ seeding
def _fill(db: str, n: int, seed: int) -> None:
    """N leads and N contacts in the past, a few records per modified stamp (as imports leave them)."""
    rng = random.Random(seed)
    store = Store(db)
    start = datetime.now(UTC) - timedelta(days=2)
    for base in range(0, n, 100):  # sf_insert_many stamps a whole call alike: 100 leads per stamp
        rows: list[dict[str, SfValue]] = [
            {
                "FirstName": f"First{i}", "LastName": f"Last{i}", "Company": f"Company {i % 5000}",
                "Email": f"person{i}@company{i % 5000}.example", "LeadSource": rng.choice(SOURCES),
                "Industry": rng.choice(INDUSTRIES), "Title": rng.choice(TITLES), "Country": "United States",
                "NumberOfEmployees": rng.randint(1, 50_000), "AnnualRevenue": float(rng.randint(0, 10**8)),
            }
            for i in range(base, min(base + 100, n))
        ]  # fmt: skip
        store.sf_insert_many("Lead", rows, when=start + timedelta(seconds=base))
    for base in range(0, n, 20):  # hs_insert_many stamps a whole call alike: 20 contacts per stamp
        contacts = [
            {
                "email": f"person{i}@company{i % 5000}.example", "firstname": f"First{i}", "lastname": f"Last{i}",
                "hs_analytics_source": rng.choice(HS_SOURCES), "industry": rng.choice(INDUSTRIES),
                "jobtitle": rng.choice(TITLES), "annualrevenue": str(rng.randint(0, 10**8)),
                "hs_analytics_num_page_views": str(rng.randint(0, 40)), "country": "United States",
            }
            for i in range(base, min(base + 20, n))
        ]  # fmt: skip
        store.hs_insert_many("contacts", contacts, when=start + timedelta(seconds=base))
    store.close()


def _serve(db: str, state_dir: str, conn: Connection) -> None:
    limits = LimitConfig(sf_daily_quota=10**9, hs_ten_second_limit=10**9, hs_search_per_second=10**9,
                         hs_daily_limit=10**9)  # fmt: skip
    server = SandboxServer(SandboxOptions(db=db, state_dir=Path(state_dir), limits=limits))
    conn.send((server.url, str(server.ca_path), server.token))
    server.serve_forever()


# ------------------------------------------------------------------------------------------ runs
@dataclass
class Run:
    """One measured pull + write on one CRM: calls per endpoint (connector and sandbox) and the floor."""

    name: str
    crm: str
    pulled: int = 0
    sent: int = 0
    written: int = 0
    pull_s: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    logged: dict[str, int] = field(default_factory=dict)
    floor: dict[str, int] = field(default_factory=dict)  # endpoint -> the fewest calls the API allows
    overhead: dict[str, tuple[int, str]] = field(default_factory=dict)  # endpoint -> (calls, why)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def floor_total(self) -> int:
        return sum(self.floor.values())

    @property
    def overhead_total(self) -> int:
        return sum(count for count, _ in self.overhead.values())

    @property
    def unexplained(self) -> int:
        """Calls neither the floor nor an accounted overhead explains: leadq's own waste."""
        return self.total - self.floor_total - self.overhead_total


class Sandbox:
    """The sandbox process's URL, CA and token, and its request log."""

    def __init__(self, url: str, ca: str, token: str) -> None:
        self.url, self.ca, self.token = url, ca, token
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = ca
        self.http.headers["Authorization"] = f"Bearer {token}"

    def reset_log(self) -> None:
        self.http.delete(f"{self.url}/__sandbox/requests", timeout=30).raise_for_status()

    def counters(self) -> dict[str, int]:
        """Requests since the last reset, named as the connector's `CallLog` names them."""
        doc = self.http.get(f"{self.url}/__sandbox/requests", timeout=30).json()
        entries = [e for e in doc["requests"] if not e["path"].startswith("/__sandbox/")]
        if len(doc["requests"]) < doc["total"]:
            raise RuntimeError("the sandbox's request log dropped entries; measure fewer calls per run")
        return dict(Counter(endpoint_of(e["method"], e["path"]) for e in entries))


def _fields(config: LeadqConfig, crm: str, obj: str) -> list[str]:
    """What a sync cycle reads: the features' fields and the writeback fields (to see human edits)."""
    block = config.crm(crm)
    assert block is not None
    writeback = [block.writeback.field_for(slot).field for slot in block.writeback.fields()]
    return list(dict.fromkeys([*feature_paths(crm, block, obj), *writeback]))


def _updates(config: LeadqConfig, crm: str, ids: list[str]) -> list[RecordUpdate]:
    block = config.crm(crm)
    assert block is not None
    wb = block.writeback
    now = datetime.now(UTC).replace(microsecond=0)
    values = {
        wb.field_for("score").field: 57, wb.field_for("tier").field: "B",
        wb.field_for("reasons").field: "+ 2 colleagues at Acme engaged this month\n- no reply to 3 emails",
        wb.field_for("model_version").field: "bench-1", wb.field_for("scored_at").field: now,
    }  # fmt: skip
    return [RecordUpdate(i, values) for i in ids]


def _pull(conn: Connector, obj: str, fields: list[str]) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids: list[str] = []
    key = "Id" if conn.crm == "salesforce" else "id"
    for page in conn.pull_changes(obj, fields, None, run_started=datetime.now(UTC)):
        ids.extend(str(r[key]) for r in page.records)
    return ids, time.perf_counter() - started


def measure(run: Run, conn: Connector, sandbox: Sandbox, obj: str, fields: list[str], changed: float,
            config: LeadqConfig) -> list[str]:  # fmt: skip
    """Pull everything, write `changed` of it; the run's calls from the connector and the sandbox."""
    if hasattr(conn, "begin_cycle"):
        conn.begin_cycle()  # fresh describes: a cycle's first call pays for them
    conn.calls.take()
    sandbox.reset_log()
    ids, run.pull_s = _pull(conn, obj, fields)
    run.pulled = len(ids)
    chosen = ids[:: max(1, round(1 / changed))][: round(len(ids) * changed)] if changed > 0 else []
    run.sent = len(chosen)
    outcomes = conn.apply_updates(obj, _updates(config, run.crm, chosen))
    run.written = sum(o.ok for o in outcomes)
    run.calls = conn.calls.take()
    run.logged = sandbox.counters()
    return ids


def raw_pull(sandbox: Sandbox, fields: list[str]) -> tuple[int, float]:
    """The ceiling: simple-salesforce's own `query_all_iter` over the same fields, nothing else."""
    session = requests.Session()
    session.trust_env = False
    session.verify = sandbox.ca
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token, session=session, version="59.0")
    soql = f"SELECT {', '.join(['Id', 'SystemModstamp', *fields])} FROM Lead"
    started = time.perf_counter()
    count = sum(1 for _ in sf.query_all_iter(soql))
    return count, time.perf_counter() - started


# ------------------------------------------------------------------------------------------ floors
V = "/services/data/vXX.X"
DESCRIBE, QUERY, QUERY_MORE = (
    f"GET {V}/sobjects/Lead/describe",
    f"GET {V}/query/",
    f"GET {V}/query/{{locator}}",
)
COLLECTIONS = f"PATCH {V}/composite/sobjects"
# CallLog folds a query job's id like a query locator.
BQ_CREATE, BQ_POLL = f"POST {V}/jobs/query", f"GET {V}/jobs/query/{{locator}}"
BQ_RESULTS = f"GET {V}/jobs/query/{{locator}}/results"
BI_CREATE, BI_UPLOAD = f"POST {V}/jobs/ingest", f"PUT {V}/jobs/ingest/{{id}}/batches"
BI_CLOSE, BI_POLL = f"PATCH {V}/jobs/ingest/{{id}}", f"GET {V}/jobs/ingest/{{id}}"
BI_OK, BI_FAILED = (
    f"GET {V}/jobs/ingest/{{id}}/successfulResults",
    f"GET {V}/jobs/ingest/{{id}}/failedResults",
)
HS_SEARCH, HS_UPDATE = "POST /crm/v3/objects/contacts/search", "POST /crm/v3/objects/contacts/batch/update"
DESCRIBE_WHY = "constant: once a cycle, field names are checked before any SOQL is built"


def sf_floor(run: Run, n: int, changed: int, threshold: int) -> None:
    """REST below the threshold, Bulk API 2.0 above it; the describe is the cycle's constant overhead."""
    run.overhead[DESCRIBE] = (1, DESCRIBE_WHY)
    if n > threshold:
        run.floor.update({BQ_CREATE: 1, BQ_POLL: 1, BQ_RESULTS: math.ceil(n / BULK_RESULTS_PAGE)})
        run.overhead[QUERY] = (
            1,
            "constant: the first REST page's totalSize picks REST or Bulk (a COUNT()'s price)",
        )
        polls = run.calls.get(BQ_POLL, 0) - 1
        if polls > 0:
            run.overhead[BQ_POLL] = (polls, "timing: polls while the job runs")
    else:
        run.floor.update({QUERY: 1, QUERY_MORE: math.ceil(n / SF_PAGE) - 1})
    if changed > threshold:
        run.floor.update({BI_CREATE: 1, BI_UPLOAD: 1, BI_CLOSE: 1, BI_POLL: 1, BI_OK: 1, BI_FAILED: 1})
        extra = run.calls.get(BI_POLL, 0) - 1
        if extra > 0:
            run.overhead[BI_POLL] = (
                extra,
                "simple-salesforce reads the finished job once more (+ timing polls)",
            )
    elif changed:
        run.floor[COLLECTIONS] = math.ceil(changed / SF_COLLECTION)


def hs_floor(run: Run, n: int, changed: int, cap: int = 10_000) -> None:
    run.floor = {HS_SEARCH: math.ceil(n / HS_PAGE), HS_UPDATE: math.ceil(changed / HS_BATCH)}
    extra = run.calls.get(HS_SEARCH, 0) - run.floor[HS_SEARCH]
    if extra > 0 and n > cap:
        why = f"restarts before the {cap:,}-result cap re-read the records of the edge stamp"
        run.overhead[HS_SEARCH] = (extra, why)


# ------------------------------------------------------------------------------------------ report
def table(run: Run) -> Table:
    t = Table(title=f"{run.name}: {run.pulled:,} pulled, {run.written:,} written", title_justify="left")
    for col in ("endpoint", "calls", "sandbox log", "floor", "overhead", "unexplained", "overhead is"):
        t.add_column(col, justify="left" if col in ("endpoint", "overhead is") else "right", overflow="fold")
    for endpoint in sorted(set(run.calls) | set(run.floor) | set(run.logged)):
        calls, floor = run.calls.get(endpoint, 0), run.floor.get(endpoint, 0)
        extra, why = run.overhead.get(endpoint, (0, ""))
        t.add_row(endpoint, str(calls), str(run.logged.get(endpoint, 0)), str(floor), str(extra),
                  f"{calls - floor - extra:+d}", why)  # fmt: skip
    logged = sum(run.logged.values())
    agree = "the sandbox's log agrees" if run.logged == run.calls else "MISMATCH with the sandbox's log"
    t.add_row("total", str(run.total), str(logged), str(run.floor_total), str(run.overhead_total),
              f"{run.unexplained:+d}", agree)  # fmt: skip
    return t


def _summary(run: Run) -> dict[str, Any]:
    return {"calls": run.calls, "floor": run.floor_total, "overhead": run.overhead_total,
            "unexplained": run.unexplained, "sandbox_log_agrees": run.logged == run.calls}  # fmt: skip


def _connectors(config: LeadqConfig, n: int, bulk_threshold: int) -> dict[str, Connector]:
    fast = {"bulk_poll_seconds": 0.05, "backoff_initial": 0.05}
    return {
        "rest": build_connector(config, "salesforce", bulk_threshold=n + 1, **fast),
        "bulk": build_connector(config, "salesforce", bulk_threshold=bulk_threshold, **fast),
        "hubspot": build_connector(config, "hubspot", **HS_FAST),
    }


def _setup_fields(config: LeadqConfig, conns: Mapping[str, Connector]) -> None:
    for crm, conn in (("salesforce", conns["rest"]), ("hubspot", conns["hubspot"])):
        block = config.crm(crm)
        assert block is not None
        apply(conn, plan(crm, block, CachedDescriber(conn)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--changed-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, fraction = args.leads, args.changed_fraction
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        _fill(db, n, args.seed)
        console.print(f"seeded {n:,} leads and {n:,} contacts in {time.perf_counter() - t0:.1f} s")
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(db, tmp, child), daemon=True)
        proc.start()
        url, ca, token = parent.recv()
        try:
            sandbox = Sandbox(url, ca, token)
            for _ in range(100):
                try:
                    sandbox.http.get(f"{url}/__sandbox/health", timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            os.environ[SANDBOX_TOKEN_ENV] = token
            config = load_config(
                write_default_config(Path(tmp) / "leadq.yaml", sandbox_url=url, ca_bundle=ca)
            )
            changed = round(n * fraction)
            # Above the threshold on both the pull and the write: the config's 2000, or less on a small run.
            threshold = min(config.salesforce.connection.bulk_threshold if config.salesforce else 2000,
                            max(1, changed // 2))  # fmt: skip
            conns = _connectors(config, n, threshold)
            _setup_fields(config, conns)
            sf_fields = _fields(config, "salesforce", "Lead")

            rest = Run("Salesforce REST (bulk_threshold above N)", "salesforce")
            measure(rest, conns["rest"], sandbox, "Lead", sf_fields, fraction, config)
            sf_floor(rest, rest.pulled, rest.sent, threshold=n + 1)
            # Throughput: best of two for each, alternating, on the same sandbox.
            raw_rates, pull_rates = [], []
            for _ in range(2):
                count, seconds = raw_pull(sandbox, sf_fields)
                raw_rates.append(count / seconds)
                ids, seconds = _pull(conns["rest"], "Lead", sf_fields)
                pull_rates.append(len(ids) / seconds)
            pull_rates.append(rest.pulled / rest.pull_s)

            bulk = Run(f"Salesforce Bulk API 2.0 (bulk_threshold {threshold:,})", "salesforce")
            measure(bulk, conns["bulk"], sandbox, "Lead", sf_fields, fraction, config)
            sf_floor(bulk, bulk.pulled, bulk.sent, threshold=threshold)

            hub = Run("HubSpot (search + batch update)", "hubspot")
            measure(hub, conns["hubspot"], sandbox, "contacts", _fields(config, "hubspot", "contacts"), fraction,
                    config)  # fmt: skip
            hs_floor(hub, hub.pulled, hub.sent)
            for conn in conns.values():
                conn.close()
        finally:
            proc.terminate()
            proc.join(5)

    for run in (rest, bulk, hub):
        console.print(table(run))
    pull, raw = max(pull_rates), max(raw_rates)
    rates = Table(
        title=f"Salesforce pull throughput, {n:,} leads, {len(sf_fields)} fields", title_justify="left"
    )
    for col in ("reader", "records/s"):
        rates.add_column(col, justify="right")
    rates.add_row("SalesforceConnector.pull_changes (REST)", f"{pull:,.0f}")
    rates.add_row("simple-salesforce query_all_iter (ceiling)", f"{raw:,.0f}")
    rates.add_row("ratio", f"{pull / raw:.2f}")
    console.print(rates)
    doc = {
        "leads": n, "changed": changed,
        "salesforce": {**_summary(rest), "bulk": _summary(bulk)},
        "hubspot": _summary(hub),
        "pull_records_per_s": round(pull), "raw_records_per_s": round(raw), "pull_to_raw": round(pull / raw, 3),
    }  # fmt: skip
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
