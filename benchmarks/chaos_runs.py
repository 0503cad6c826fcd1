"""The chaos benchmark's runs over copies of one org: reference, faults, kills and quota.

Every run copies the set-up org file into its own folder, serves it, and drives cycles through
`benchmarks.chaos_runner` in a subprocess on a clock pinned to `FIXED` (see `fixed_clock`), so scores,
"scored at" stamps and review due dates are the same in every run and end states compare exactly.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.chaos_org import CRMS, UNLIMITED, ServedOrg, copy_db, load, serve, write_config
from benchmarks.chaos_state import (
    Comparison,
    EndState,
    OutboxFigures,
    compare,
    outbox_figures,
    read_end_state,
)
from mappings import Crm
from sandbox import LimitConfig

# 10 % of requests meet a fault: per request 1 % timeouts, 4.5 % 500/503, 3 % 429 (HubSpot) or
# REQUEST_LIMIT_EXCEEDED (Salesforce), and a session expiry every 40 calls (2.5 %); on top, 10 % of
# Salesforce records in a write meet UNABLE_TO_LOCK_ROW and 10 % of HubSpot batch writes fail whole.
FAULTS: dict[str, Any] = {
    "seed": 11, "timeout": 0.01, "timeout_seconds": 7.0, "error_5xx": 0.045, "rate_limit": 0.03,
    "quota": 0.03, "session_expiry_calls": 40, "lock_row": 0.10, "batch_fail": 0.10,
}  # fmt: skip
MAX_CYCLES = 40


def fixed_clock() -> datetime:
    """The pinned cycle clock: next midnight UTC plus three days.

    In the sandbox's future for the whole benchmark: a pull window ends at the cycle's start, so a clock
    behind the sandbox's stamps would pull nothing; ahead of them, everything written so far is in the
    window, and ages and decay are computed from one instant in every run.
    """
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=4)


@dataclass
class RunResult:
    """One run: its cycle reports, end state and outbox, and whatever it measured on the way."""

    name: str
    folder: Path
    reports: list[dict[str, Any]] = field(default_factory=list)
    state: EndState = field(default_factory=EndState)
    outbox: OutboxFigures = field(default_factory=OutboxFigures)
    injected: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return len(self.reports)

    def comparison(self, reference: RunResult) -> Comparison:
        return compare(reference.state, self.state)


class Run:
    """A folder with a copy of the org served, a config over it, and runner invocations."""

    def __init__(
        self, base_db: Path, root: Path, name: str, *, limits: LimitConfig = UNLIMITED,
        crms: tuple[Crm, ...] = CRMS, **config: Any,
    ) -> None:  # fmt: skip
        self.result = RunResult(name, root / name)
        self.folder = self.result.folder
        # A run starts from nothing: a state database left by an earlier run in the same --workdir would
        # make its cycles find nothing to do, and the comparison meaningless.
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.crms = crms
        self.started = time.perf_counter()
        db = copy_db(base_db, self.folder / "org.db")
        self.org: ServedOrg = serve(db, self.folder / "sandbox", limits)
        self.config_path = write_config(self.folder, self.org, crms=crms, **config)
        self.config = load(self.config_path)
        self.reports_path = self.folder / "reports.jsonl"
        self.marks_path = self.folder / "marks.log"

    def command(self, clock: datetime | None, *, until_idle: bool, max_cycles: int) -> list[str]:
        cmd = [sys.executable, "-m", "benchmarks.chaos_runner", str(self.config_path),
               "--reports", str(self.reports_path), "--marks", str(self.marks_path)]  # fmt: skip
        if clock is not None:
            cmd += ["--clock", clock.isoformat()]
        if until_idle:
            cmd.append("--until-idle")
        return [*cmd, "--max-cycles", str(max_cycles)]

    def cycles(self, clock: datetime | None, *, until_idle: bool = True, max_cycles: int = MAX_CYCLES) -> int:
        """Run the runner to its end; its exit code."""
        log = (self.folder / "runner.log").open("a", encoding="utf-8")
        try:
            return subprocess.run(
                self.command(clock, until_idle=until_idle, max_cycles=max_cycles),
                stdout=log, stderr=subprocess.STDOUT, check=False, cwd=Path.cwd(), timeout=4 * 3600,
            ).returncode  # fmt: skip
        finally:
            log.close()

    def read_reports(self) -> list[dict[str, Any]]:
        if not self.reports_path.exists():
            return []
        lines = self.reports_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def finish(self) -> RunResult:
        """Stop the sandbox and read what the run left: reports, CRM end state, outbox, faults."""
        result = self.result
        try:
            result.injected = {k: int(v) for k, v in self.org.faults()["injected"].items()}
            result.requests = self.org.request_counters()
        finally:
            self.org.stop()
        result.reports = self.read_reports()
        result.state = read_end_state(self.org.db, self.config, self.crms)
        result.outbox = outbox_figures(self.folder / "leadq.db")
        result.seconds = time.perf_counter() - self.started
        return result


def reference_run(base_db: Path, root: Path, clock: datetime) -> RunResult:
    """The fault-free run: cycles until nothing is pending."""
    run = Run(base_db, root, "reference")
    code = run.cycles(clock)
    result = run.finish()
    result.extra["exit_code"] = code
    return result


def faults_run(base_db: Path, root: Path, clock: datetime, faults: dict[str, Any] | None = None) -> RunResult:
    """The same org with faults injected into 10 % of requests: cycles until nothing is pending."""
    run = Run(base_db, root, "faults")
    run.org.faults(faults or FAULTS)
    code = run.cycles(clock)
    result = run.finish()
    result.extra["exit_code"] = code
    return result


def _marks(path: Path, offset: int) -> list[str]:
    if not path.exists():
        return []
    with path.open("rb") as f:
        f.seek(offset)
        return [
            line.split(" ", 1)[1] for line in f.read().decode(errors="replace").splitlines() if " " in line
        ]


def where(step: str) -> str:
    """The phase a runner's last mark names."""
    if step.startswith(("pull:", "cycle")):
        return "pull"
    if step == "score":
        return "scoring"
    if step == "commit":
        return "commit"
    if step.startswith(("send", "landed")):
        return "mid-batch send" if step.startswith("send") else "write landed, not recorded"
    if step in ("settle", "checkpoint"):
        return "between send and checkpoint" if step == "settle" else "checkpoint"
    return "start-up" if step == "start" else "between cycles"


def kills_run(
    base_db: Path, root: Path, clock: datetime, *, kills: int, cycle_seconds: float, seed: int
) -> RunResult:
    """SIGKILL the runner `kills` times at random points within a cycle's duration; then finish."""
    run = Run(base_db, root, "kills")
    rng = random.Random(seed)
    landed: Counter[str] = Counter()
    log = (run.folder / "runner.log").open("a", encoding="utf-8")
    try:
        for _ in range(kills):
            offset = run.marks_path.stat().st_size if run.marks_path.exists() else 0
            proc = subprocess.Popen(
                run.command(clock, until_idle=False, max_cycles=10**6), stdout=log, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + 300
            while "cycle" not in _marks(run.marks_path, offset) and proc.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, cycle_seconds))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            steps = _marks(run.marks_path, offset)
            landed[where(steps[-1]) if steps else "start-up"] += 1
    finally:
        log.close()
    killed_cycles = len(run.read_reports())
    code = run.cycles(clock)
    result = run.finish()
    result.extra.update(exit_code=code, landed=dict(landed), completed_while_killing=killed_cycles)
    return result


def _burn(org: ServedOrg, calls: int) -> None:
    """Spend `calls` of the org's daily quota as other integrations would (a cheap REST call each)."""
    with httpx.Client(verify=org.ca, headers={"Authorization": f"Bearer {org.token}"}, timeout=30) as client:
        for _ in range(calls):
            client.get(f"{org.url}/services/data/v59.0/sobjects/Lead/describe")


def quota_run(
    base_db: Path, root: Path, clock: datetime, *, per_cycle: int, share: float = 0.25
) -> RunResult:
    """Salesforce with a small daily quota and REST writes: stops early, keeps what it did, finishes later.

    The daily quota is `per_cycle / share`, so each cycle may spend `per_cycle` calls. Cycle 1 stops on
    the share; then other integrations spend the rest of the day's quota and cycle 2 stops on the org's
    limit; then a new day (the sandbox's quota reset) and cycles until nothing is pending.
    """
    quota = math.ceil(per_cycle / share)
    limits = LimitConfig(sf_daily_quota=quota, hs_ten_second_limit=10**9, hs_search_per_second=10**9,
                         hs_daily_limit=10**9)  # fmt: skip
    run = Run(base_db, root, "quota", limits=limits, crms=("salesforce",), oauth=False, quota_share=share,
              bulk_threshold=10**6)  # fmt: skip
    allowed = max(1, int(quota * share))
    cycles: list[dict[str, Any]] = []

    def one(label: str) -> dict[str, Any]:
        before = int(run.org.limits()["sf_used"])
        run.cycles(clock, until_idle=False, max_cycles=1)
        used = int(run.org.limits()["sf_used"]) - before
        report = run.read_reports()[-1]["report"]["crms"]["salesforce"]
        entry = {"label": label, "sandbox_calls": used, "reported_calls": report["api_total"],
                 "stopped": report["stopped"], "written": report["written"], "scored": report["scored"],
                 "pending": report["pending"], "allowed": allowed}  # fmt: skip
        cycles.append(entry)
        return entry

    one("share")
    used = int(run.org.limits()["sf_used"])
    _burn(run.org, max(0, quota - used))
    one("org limit")
    run.org.limits(limits)  # a new day: the sandbox's count starts again
    for n in range(MAX_CYCLES):
        entry = one(f"after reset {n + 1}")
        if not entry["stopped"] and not entry["scored"] and not entry["written"] and not entry["pending"]:
            break
    result = run.finish()
    result.extra.update(quota=quota, share=share, allowed=allowed, cycles=cycles)
    return result
