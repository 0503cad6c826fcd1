"""Sync cycle speed: full and incremental cycles on a seeded sandbox org, per CRM, with the per-phase
breakdown and the API calls against the floor the APIs allow.

    .venv/bin/python -m benchmarks.cycle [--quick] [--leads 100000] [--profile DIR] [--cache DIR]

Per org size (100k leads, then 1M unless `--quick`): the org (`sandbox.seed.seed_org`: leads, contacts,
accounts, opportunities, activity in Salesforce, and as many contacts with companies, deals, tasks and notes
in HubSpot) is seeded once into an SQLite file and served by a sandbox in its own process; `leadq setup`
runs, then on each CRM in turn (its own `run_cycle`, so each is timed alone):

* full: the first cycle, nothing pulled before: pull everything, score (cold start: the rules), write
  every score; it ends by training the first model when the outcome labels allow;
* idle 1..3: cycles until one scores and writes nothing. The first re-scores everyone with the new model
  (when one was trained) and the cycle after a full write re-pulls our own writes once as echoes (their
  modstamps moved): the incremental case below starts from this steady state;
* idle (1 edit): one person edited, one cycle: a write leaves its records on the newest stamp, and the
  window's closed start re-reads that second on every cycle until anything newer arrives;
* incremental: 1 % of the people get a new title through the API, then one cycle (100k only).

The connectors' pull lookback is 0 here instead of 300 s (`cycle_run.LOOKBACK_S`): the cursor stops at
the newest stamp seen, so with the default every cycle re-reads the CRM's last 300 s of changes until newer
ones arrive, which after a large write are our own echoes (the idle rows show what re-reading them costs).
Pacing is lifted in the sandbox and the connectors (HubSpot's 4 searches/s and 100 calls/10 s, the
Salesforce daily quota): the benchmark times leadq, and counts the calls; the table says what the real
limits would add. Phases come from the run report (`CrmReport.phases`); "other" is the rest of the wall
time (labels, the review pickup, the transaction's end, starting the retraining). Each cycle's line on
stderr ends with its peak RSS and what leadq was running when it was seen, after the RSS every 5 s where
it moved by 100 MB (`cycle_run.RssPeak`). Prints tables, then as the last line one JSON object:
{"full_100k_s": ..., "incremental_1pct_s": ..., "full_1m_s": ..., "peak_rss_mb": ..., "api_calls": ..., "api_floor": ...}
(seconds summed over both CRMs; calls and floor of the 100k full cycle; null for a skipped case).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.cycle_floor import HS_PAGE, floor
from benchmarks.cycle_org import seed_file, serve
from benchmarks.cycle_run import CRMS, CycleResult, run_scale_in_child

PHASES = ("pull", "graph", "history", "features", "score", "policy", "plan", "commit", "write")
TARGETS = {"full_100k_s": 90.0, "incremental_1pct_s": 3.0, "full_1m_s": 900.0, "peak_rss_mb": 2048.0}
HS_REAL_PER_10S, HS_REAL_SEARCH_PER_S = 100, 4


def _seeded(cache: Path, leads: int, seed: int, console: Console) -> tuple[Path, dict[str, int], float]:
    """The seeded org file for `leads` (seeded now, or reused from `cache`)."""
    path = cache / f"org_{leads}_{seed}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        doc = json.loads(meta.read_text())
        console.print(f"reusing the {leads:,}-lead org seeded in {doc['seconds']:.0f} s: {path}")
        return path, doc["counts"], float(doc["seconds"])
    console.print(f"seeding {leads:,} leads (both CRMs) into {path} ...")
    counts, seconds = seed_file(path, leads, seed)
    meta.write_text(json.dumps({"counts": counts, "seconds": seconds}))
    console.print(f"seeded in {seconds:.0f} s: {counts}")
    return path, counts, seconds


def _run(
    org_db: Path, work: Path, leads: int, *, incremental: bool, args: argparse.Namespace
) -> dict[str, Any]:
    """Copy the seeded org, serve it, and run the cases in a spawned process."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / "org.db"
    shutil.copy(org_db, db)
    org = serve(db, work)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    profile = Path(args.profile) if args.profile else None
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    kwargs = {
        "incremental": incremental,
        "fraction": args.fraction,
        "profile_dir": profile,
        "seed": args.seed,
        "crms": tuple(args.crm) if args.crm else CRMS,
    }
    proc = ctx.Process(
        target=run_scale_in_child, args=(child, (org.url, org.ca, org.token, work, leads), kwargs)
    )
    started = time.perf_counter()
    proc.start()
    try:
        status, result = parent.recv()
    except EOFError:
        status, result = "error", f"the benchmark process died (exit code {proc.exitcode})"
    finally:
        proc.join(30)
        org.stop()
    if status != "ok":
        raise RuntimeError(f"{leads:,} leads: {result}")
    out: dict[str, Any] = dict(result)
    out["wall_s"] = time.perf_counter() - started
    return out


def _floor(r: CycleResult) -> int:
    return floor(r.crm, r.pulled, r.written, r.tasks_created)


def _paced_s(r: CycleResult) -> float:
    """What HubSpot's real limits would add at least: calls over 100 per 10 s, searches over 4 per second."""
    if r.crm != "hubspot":
        return 0.0
    searches = sum(v for k, v in r.api_calls.items() if k.endswith("/search"))
    return max(sum(r.api_calls.values()) / (HS_REAL_PER_10S / 10), searches / HS_REAL_SEARCH_PER_S)


def cases_table(leads: int, cases: list[tuple[str, CycleResult]], changed: dict[str, int]) -> Table:
    t = Table(title=f"Cycles on {leads:,} leads (changed: {changed or 'none'})", title_justify="left")
    for col in ("case", "crm", "seconds", "pulled", "echoes", "scored", "written", "api calls", "floor",
                "HubSpot pacing (s)", *PHASES, "other"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("case", "crm") else "right")
    for case, r in cases:
        phases = [r.phases.get(p, 0.0) for p in PHASES]
        other = r.seconds - sum(r.phases.values())
        paced = _paced_s(r)
        t.add_row(case, r.crm, f"{r.seconds:.2f}", f"{sum(r.pulled.values()):,}", f"{r.echoes:,}", f"{r.scored:,}",
                  f"{r.written:,}", f"{sum(r.api_calls.values()):,}", f"{_floor(r):,}",
                  f"{paced:.0f}" if paced else "", *(f"{p:.2f}" for p in phases), f"{other:.2f}")  # fmt: skip
    return t


def calls_table(leads: int, cases: list[tuple[str, CycleResult]]) -> Table:
    t = Table(title=f"API calls per endpoint, {leads:,} leads", title_justify="left")
    for col in ("case", "crm", "endpoint", "calls"):
        t.add_column(col, justify="right" if col == "calls" else "left", overflow="fold")
    for case, r in cases:
        if case in ("full", "incremental"):
            for endpoint, count in sorted(r.api_calls.items()):
                t.add_row(case, r.crm, endpoint, f"{count:,}")
    return t


def _sum(cases: list[tuple[str, CycleResult]], case: str, attribute: str) -> float | None:
    chosen = [r for name, r in cases if name == case]
    if not chosen:
        return None
    if attribute == "api_calls":
        return float(sum(sum(r.api_calls.values()) for r in chosen))
    if attribute == "floor":
        return float(sum(_floor(r) for r in chosen))
    return float(sum(getattr(r, attribute) for r in chosen))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="only the 100k cases (no 1M)")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="the large org's size (without --quick)")
    parser.add_argument("--fraction", type=float, default=0.01, help="people changed before the incremental")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="write cProfile stats of the full and incremental cycles here")
    parser.add_argument(
        "--crm", choices=CRMS, action="append", help="only this CRM (repeatable; default both)"
    )
    parser.add_argument("--cache", help="keep seeded orgs here and reuse them (default: a temporary folder)")
    args = parser.parse_args()
    console = Console(width=250)
    scales = [(args.leads, True)] + ([] if args.quick else [(args.big, False)])
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="leadq-cycle-") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "orgs"
        cache.mkdir(parents=True, exist_ok=True)
        for leads, incremental in scales:
            org_db, counts, seed_s = _seeded(cache, leads, args.seed, console)
            result = _run(org_db, Path(tmp) / f"run_{leads}", leads, incremental=incremental, args=args)
            result.update(counts=counts, seed_s=seed_s)
            results[leads] = result
            console.print(cases_table(leads, result["cases"], result["changed"]))
            console.print(calls_table(leads, result["cases"]))
            console.print(f"peak RSS of the leadq process at {leads:,} leads: {result['peak_rss_mb']:.0f} MB")
    small = results[args.leads]
    big = results.get(args.big) if not args.quick else None
    doc = {
        "full_100k_s": _round(_sum(small["cases"], "full", "seconds")),
        "incremental_1pct_s": _round(_sum(small["cases"], "incremental", "seconds")),
        "full_1m_s": _round(_sum(big["cases"], "full", "seconds")) if big else None,
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results.values())),
        "api_calls": _int(_sum(small["cases"], "full", "api_calls")),
        "api_floor": _int(_sum(small["cases"], "full", "floor")),
    }
    summary = Table(title="Targets", title_justify="left")
    for col in ("measure", "value", "target", "ok"):
        summary.add_column(col, justify="right")
    for key, target in TARGETS.items():
        value = doc[key]
        ok = "" if value is None else ("yes" if float(value) <= target else "NO")
        summary.add_row(key, "skipped" if value is None else str(value), f"<= {target:g}", ok)
    console.print(summary)
    console.print(f"(HubSpot search pages hold {HS_PAGE}; pacing lifted, see the 'HubSpot pacing' column)")
    print(json.dumps(doc))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


if __name__ == "__main__":
    main()
