"""The chaos benchmark's daemon stand-in: sync cycles in a loop, in its own process, on a pinned clock.

    .venv/bin/python -m benchmarks.chaos_runner CONFIG --clock 2030-01-01T00:00:00+00:00 \
        --reports reports.jsonl --marks marks.log [--until-idle] [--max-cycles 40]

Each cycle's run report is appended to `--reports` as one JSON line. `--marks` gets one line per step
(pull, score, commit, send call, write landed, settle, checkpoint) so the benchmark can say where a SIGKILL
landed. `--until-idle` stops after a complete cycle that changed nothing and left nothing to send; without
it, cycles run until the process is killed (or `--max-cycles`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from connector.protocol import CRMConnector
from sync.bootstrap import close_context, open_context
from sync.context import CycleContext
from sync.cycle import run_cycle
from sync.report import RunReport
from sync.state import StateStore

# Retries and pacing tuned for a loopback sandbox: backoffs short, HubSpot pacing lifted (the sandbox's
# own limits are lifted too; its 429s are the injected ones), read timeout short enough that the
# sandbox's injected timeouts are real client timeouts.
TUNING: dict[str, Any] = {
    "backoff_initial": 0.05,
    "backoff_max": 1.0,
    "read_timeout": 5.0,
    "salesforce": {"bulk_poll_seconds": 0.05},
    "hubspot": {"requests_per_10s": 1_000_000, "search_per_second": 100_000},
}


class Marks:
    """Appends `<seconds> <step>` lines to a file, unbuffered (the process may die at any instruction)."""

    def __init__(self, path: Path | None) -> None:
        self._fd = None if path is None else os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self, step: str) -> None:
        if self._fd is not None:
            os.write(self._fd, f"{time.time():.3f} {step}\n".encode())


class MarkedConnector:
    """A connector that marks where the cycle is before and after each call."""

    def __init__(self, inner: CRMConnector, mark: Marks) -> None:
        self._inner = inner
        self._mark = mark

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("_"):
            return value
        step = {"apply_updates": "send", "create_tasks": "send"}.get(name, "pull")

        def marked(*args: Any, **kwargs: Any) -> Any:
            self._mark(f"{step}:{name}")
            result = value(*args, **kwargs)
            if step == "send":
                self._mark(f"landed:{name}")  # the CRM has it, leadq has not recorded it yet
            return result

        return marked


class MarkedStore:
    """The state store, marking the cycle's commit, scoring, settle and checkpoint steps."""

    _STEPS = {
        "latest_scores": "score", "enqueue_many": "commit", "claim_pending": "send:claim",
        "mark_done_many": "settle", "mark_done": "settle", "set_cursor": "checkpoint",
    }  # fmt: skip

    def __init__(self, inner: StateStore, mark: Marks) -> None:
        self._inner = inner
        self._mark = mark

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        step = self._STEPS.get(name)
        if step is None:
            return value

        def marked(*args: Any, **kwargs: Any) -> Any:
            self._mark(step)
            return value(*args, **kwargs)

        return marked


def idle(report: RunReport, store: StateStore) -> bool:
    """A complete cycle that scored, wrote and created nothing, and left nothing pending or in flight."""
    for crm in report.crms.values():
        if crm.stopped or crm.scored or crm.written or crm.tasks_created:
            return False
    return not report.error and store.count_pending() == 0 and not store.outbox_items("sent")


def run(
    config: Path,
    *,
    clock: Callable[[], datetime] | None,
    reports: Path,
    marks: Path | None,
    until_idle: bool,
    max_cycles: int,
) -> int:
    """Run cycles; returns how many ran."""
    mark = Marks(marks)
    mark("start")
    ctx: CycleContext = open_context(config, connector_overrides=TUNING)
    store = ctx.store
    ctx.store = cast(StateStore, MarkedStore(store, mark))
    ctx.connectors = {crm: cast(CRMConnector, MarkedConnector(c, mark)) for crm, c in ctx.connectors.items()}
    if clock is not None:
        ctx.clock = clock
    cycles = 0
    try:
        while cycles < max_cycles:
            mark("cycle")
            started = time.perf_counter()
            report = run_cycle(ctx)
            cycles += 1
            line = {"seconds": time.perf_counter() - started, "report": report.to_json()}
            with reports.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, default=str) + "\n")
            mark("done")
            if until_idle and idle(report, store):
                break
    finally:
        close_context(ctx)
    return cycles


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("--clock", help="a fixed ISO datetime for every cycle (default: the real clock)")
    parser.add_argument("--reports", type=Path, required=True)
    parser.add_argument("--marks", type=Path)
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--max-cycles", type=int, default=10**6)
    args = parser.parse_args()
    fixed = datetime.fromisoformat(args.clock) if args.clock else None
    run(
        args.config,
        clock=(lambda: fixed) if fixed is not None else None,
        reports=args.reports,
        marks=args.marks,
        until_idle=args.until_idle,
        max_cycles=args.max_cycles,
    )


if __name__ == "__main__":
    main()
