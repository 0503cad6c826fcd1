"""Chaos: leadq under injected faults, SIGKILLs, a small API quota and a steady stream of edits.

    .venv/bin/python -m benchmarks.chaos [--leads 10000] [--kills 50] [--load-minutes 15] [--skip-load]
                                         [--only-load] [--skip-faults] [--skip-quota] [--quick]

One org (both CRMs) is seeded once into an SQLite file with `leadq setup` applied; every run serves its own
copy, so every run starts from the same org.

1. Faults: a fault-free reference run (cycles until nothing is pending), then the same org with faults on
   10 % of requests (500/503, 429, REQUEST_LIMIT_EXCEEDED, timeouts, expired sessions; UNABLE_TO_LOCK_ROW
   on 10 % of Salesforce records written, whole-batch failures on 10 % of HubSpot batch writes), cycles
   until nothing is pending. The CRM end state (every writeback field of every lead and contact, every
   leadq task by key) is compared with the reference's: lost writes, duplicate tasks, extra writes sent.
2. Kills: the same org, the cycle runner SIGKILLed at random points within a cycle's duration and
   restarted each time; then cycles until nothing is pending; the same comparison.
3. Quota: Salesforce with a small daily quota: the cycle stops early and says why, keeps what it did,
   finishes after the quota returns, never spends more than its configured share in a cycle.
4. Load: `leadq run` every minute while a writer changes 1 % of the people a minute (skip: --skip-load).

The cycle clock is pinned (runs 1-3) to a fixed instant in the sandbox's future, the same in every run:
scores, "scored at" stamps and review due dates depend on "now", and a pull window ends at the cycle's
start, so a clock in the sandbox's past would pull nothing. The load run uses the real clock.

Prints tables, then one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.chaos_load import LoadResult, load_run
from benchmarks.chaos_org import prepare_base
from benchmarks.chaos_runs import (
    FAULTS,
    RunResult,
    faults_run,
    fixed_clock,
    kills_run,
    quota_run,
    reference_run,
)

WRITE_MARKS = ("composite", "jobs/ingest", "batch/update", "batch/create", "/associations/")


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right", overflow="fold")
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def _write_calls(result: RunResult) -> int:
    return sum(n for k, n in result.requests.items() if k.split(" ", 1)[0] in ("POST", "PATCH", "PUT")
               and any(m in k for m in WRITE_MARKS) and "/batch/read" not in k)  # fmt: skip


def _stopped(result: RunResult) -> list[str]:
    return [
        f"{crm}: {r['stopped']}"
        for line in result.reports
        for crm, r in line["report"]["crms"].items()
        if r.get("stopped")
    ]


def _sf_budget(reference: RunResult) -> int:
    """Salesforce calls a cycle may spend in the quota run: its whole pull, and half its REST writes."""
    first: dict[str, Any] = reference.reports[0]["report"]["crms"]["salesforce"]
    pull: int = sum(int(n) for k, n in first["api_calls"].items() if "query" in k or "describe" in k)
    writes = math.ceil(int(first["written"]) / 200) + math.ceil(int(first["tasks_created"]) / 200) * 2
    return pull + max(2, writes // 2)


def faults_section(console: Console, reference: RunResult, faulty: RunResult) -> dict[str, Any]:
    cmp = faulty.comparison(reference)
    injected = sum(faulty.injected.values())
    parked = faulty.outbox.parked
    extra = faulty.outbox.sent - reference.outbox.sent
    rows: list[tuple[str, Any]] = [
        ("reference: cycles / seconds", f"{reference.cycles} / {reference.seconds:.0f}"),
        ("reference: writeback values / tasks in the CRM", f"{reference.state.written} / {reference.state.task_count}"),
        ("faults injected (by kind)", f"{injected} {dict(sorted(faulty.injected.items()))}"),
        ("cycles needed (until nothing pending)", faulty.cycles),
        ("models trained: reference / faults", f"{len(reference.state.model_versions)} / {len(faulty.state.model_versions)}"),
        ("cycles that stopped early", len(_stopped(faulty))),
        ("lost writes (fields lost or wrong + tasks lost or wrong)", cmp.lost_writes),
        ("  fields lost / wrong / unexpected", f"{cmp.lost_fields} / {cmp.wrong_fields} / {cmp.unexpected_fields}"),
        ("  tasks lost / differing / extra", f"{cmp.lost_tasks} / {cmp.differing_tasks} / {cmp.extra_tasks}"),
        ("duplicate tasks", cmp.duplicate_tasks),
        ("parked outbox items", len(parked)),
        ("writes sent: reference / faults (records + tasks, retries included)",
         f"{reference.outbox.sent} / {faulty.outbox.sent}"),
        ("extra writes beyond the floor", extra),
        ("write calls: reference / faults", f"{_write_calls(reference)} / {_write_calls(faulty)}"),
        ("outbox states at the end", dict(faulty.outbox.states)),
        ("seconds", f"{faulty.seconds:.0f}"),
    ]  # fmt: skip
    console.print(_table("1. Faults at 10 % of requests vs the fault-free run", rows))
    for example in cmp.examples:
        console.print(f"  difference: {example}", highlight=False)
    for reason in sorted(set(parked))[:5]:
        console.print(f"  parked: {reason}", highlight=False)
    return {
        "faults_injected": injected, "faults_by_kind": faulty.injected, "lost_writes": cmp.lost_writes,
        "duplicate_tasks": cmp.duplicate_tasks, "cycles_needed": faulty.cycles, "extra_writes": extra,
        "parked": len(parked), "unexpected_fields": cmp.unexpected_fields, "extra_tasks": cmp.extra_tasks,
    }  # fmt: skip


def kills_section(console: Console, reference: RunResult, killed: RunResult, kills: int) -> dict[str, Any]:
    cmp = killed.comparison(reference)
    rows: list[tuple[str, Any]] = [
        ("kills (SIGKILL)", kills),
        ("where they landed", dict(sorted(killed.extra.get("landed", {}).items()))),
        ("cycles completed between kills", killed.extra.get("completed_while_killing")),
        ("cycles needed after the last kill", killed.cycles - int(killed.extra.get("completed_while_killing", 0))),
        ("lost writes", cmp.lost_writes),
        ("  fields lost / wrong / unexpected", f"{cmp.lost_fields} / {cmp.wrong_fields} / {cmp.unexpected_fields}"),
        ("  tasks lost / differing / extra", f"{cmp.lost_tasks} / {cmp.differing_tasks} / {cmp.extra_tasks}"),
        ("duplicate tasks", cmp.duplicate_tasks),
        ("parked outbox items", len(killed.outbox.parked)),
        ("writes sent: reference / kills", f"{reference.outbox.sent} / {killed.outbox.sent}"),
        ("seconds", f"{killed.seconds:.0f}"),
    ]  # fmt: skip
    console.print(_table("2. SIGKILL at random points, restarted each time", rows))
    for example in cmp.examples:
        console.print(f"  difference: {example}", highlight=False)
    return {
        "kills": kills, "kill_lost_writes": cmp.lost_writes, "kill_duplicate_tasks": cmp.duplicate_tasks,
        "kill_landed": killed.extra.get("landed", {}), "kill_parked": len(killed.outbox.parked),
        "kill_extra_writes": killed.outbox.sent - reference.outbox.sent,
    }  # fmt: skip


def quota_section(console: Console, reference: RunResult, quota: RunResult) -> dict[str, Any]:
    cmp = quota.comparison(_only_salesforce(reference))
    cycles: list[dict[str, Any]] = quota.extra["cycles"]
    allowed = int(quota.extra["allowed"])
    table = Table(
        title=f"3. Salesforce daily quota {quota.extra['quota']}, share {quota.extra['share']:.0%} "
        f"(at most {allowed} calls a cycle)", title_justify="left", header_style="bold",
    )  # fmt: skip
    for column in ("cycle", "calls (sandbox)", "calls (leadq)", "scored", "written", "pending", "stopped"):
        table.add_column(column, overflow="fold")
    for c in cycles:
        table.add_row(c["label"], str(c["sandbox_calls"]), str(c["reported_calls"]), str(c["scored"]),
                      str(c["written"]), str(c["pending"]), (c["stopped"] or "")[:160])  # fmt: skip
    console.print(table)
    console.print(f"  end state vs the reference (Salesforce): lost writes {cmp.lost_writes}, duplicate tasks "
                  f"{cmp.duplicate_tasks}", highlight=False)  # fmt: skip
    over = [c for c in cycles if c["sandbox_calls"] > allowed]
    return {
        "quota_daily": quota.extra["quota"], "quota_share": quota.extra["share"], "quota_allowed_per_cycle": allowed,
        "quota_max_calls_per_cycle": max((c["sandbox_calls"] for c in cycles), default=0),
        "quota_share_exceeded": len(over), "quota_stopped": sum(1 for c in cycles if c["stopped"]),
        "quota_cycles": len(cycles), "quota_lost_writes": cmp.lost_writes,
        "quota_duplicate_tasks": cmp.duplicate_tasks,
        # the share was spent (calls at the allowance, work left) but the report names no stop
        "quota_silent_stops": sum(1 for c in cycles if not c["stopped"] and c["pending"] and
                                  c["sandbox_calls"] >= allowed),
        "quota_parked": len(quota.outbox.parked),
        "quota_finished": bool(cycles) and not cycles[-1]["stopped"] and not cycles[-1]["pending"],
    }  # fmt: skip


def _only_salesforce(result: RunResult) -> RunResult:
    only = RunResult(result.name, result.folder)
    only.state.fields = {k: v for k, v in result.state.fields.items() if k[0] == "salesforce"}
    only.state.tasks = {k: v for k, v in result.state.tasks.items() if k[0] == "salesforce"}
    return only


def load_section(console: Console, load: LoadResult) -> dict[str, Any]:
    rss = load.rss_mb
    rows: list[tuple[str, Any]] = [
        ("minutes of load", load.minutes),
        ("people changed (1 % a minute)", load.changed),
        ("scored for their change exactly once / never / more than once",
         f"{load.scored_once} / {load.scored_never} / {load.scored_twice_or_more}"),
        ("later re-scores for a colleague's change", load.rescored_for_context),
        ("runs / overlapping runs", f"{load.runs} / {load.overlaps}"),
        ("cycle seconds (first, max of the rest)",
         f"{load.cycle_seconds[0]:.0f}, {max(load.cycle_seconds[1:], default=0):.0f}" if load.cycle_seconds else "-"),
        ("daemon RSS MB: after the first cycle -> end (max)",
         f"{rss[0]:.0f} -> {rss[-1]:.0f} ({max(rss):.0f})" if rss else "-"),
        ("daemon RSS MB, each minute", " ".join(f"{r:.0f}" for r in rss) if rss else "-"),
        ("daemon exit code (SIGTERM)", load.exit_code),
    ]  # fmt: skip
    console.print(_table("4. Load: `leadq run` every minute, 1 % of the people changed a minute", rows))
    for example in load.examples:
        console.print(f"  {example}", highlight=False)
    return {
        "load_minutes": load.minutes, "load_changed": load.changed, "load_scored_once": load.scored_once,
        "load_scored_never": load.scored_never, "load_scored_more": load.scored_twice_or_more,
        "load_rescored_for_context": load.rescored_for_context,
        "load_runs": load.runs, "load_overlaps": load.overlaps,
        "load_rss_start_mb": round(rss[0], 1) if rss else None, "load_rss_end_mb": round(rss[-1], 1) if rss else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--load-minutes", type=int, default=15)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument(
        "--only-load", action="store_true", help="only the load run (e.g. beside a --skip-load run)"
    )
    parser.add_argument("--skip-faults", action="store_true", help="no faults run (the reference still runs)")
    parser.add_argument("--skip-quota", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,000 leads, 10 kills, 2 minutes of load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep every run's files here (default: a temp folder)")
    args = parser.parse_args()
    if args.quick:
        args.leads, args.kills, args.load_minutes = min(args.leads, 1_000), min(args.kills, 10), 2
    console = Console()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="leadq-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        base, counts, seconds = prepare_base(root, args.leads, args.seed)
        console.print(
            f"org: {args.leads:,} leads seeded and set up in {seconds:.0f} s: {counts}", highlight=False
        )
        if args.only_load:
            out.update(load_section(console, load_run(base, root, minutes=args.load_minutes, seed=args.seed)))
            out["leads"] = args.leads
            out["seconds"] = round(time.perf_counter() - started)
            print(json.dumps(out))
            return
        clock = fixed_clock()
        console.print(f"cycle clock pinned to {clock.isoformat()}; faults: {FAULTS}", highlight=False)
        reference = reference_run(base, root, clock)
        if reference.state.written == 0:
            raise SystemExit(
                "the fault-free reference run wrote nothing into the CRM: nothing to compare with"
            )
        if not args.skip_faults:
            faulty = faults_run(base, root, clock)
            out.update(faults_section(console, reference, faulty))
        cycle_seconds = float(reference.reports[0]["seconds"]) if reference.reports else 10.0
        killed = kills_run(base, root, clock, kills=args.kills, cycle_seconds=cycle_seconds, seed=args.seed)
        out.update(kills_section(console, reference, killed, args.kills))
        if not args.skip_quota:
            quota = quota_run(base, root, clock, per_cycle=_sf_budget(reference))
            out.update(quota_section(console, reference, quota))
        if not args.skip_load:
            out.update(load_section(console, load_run(base, root, minutes=args.load_minutes, seed=args.seed)))
        out["leads"] = args.leads
        out["seconds"] = round(time.perf_counter() - started)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    keys = (
        "faults_injected",
        "lost_writes",
        "duplicate_tasks",
        "kills",
        "kill_lost_writes",
        "kill_duplicate_tasks",
    )
    print(json.dumps({**{k: out.get(k) for k in keys}, **{k: v for k, v in out.items() if k not in keys}}))


if __name__ == "__main__":
    main()
