"""The chaos benchmark's load run: `leadq run` every minute while a writer changes 1 % of the people a minute.

The daemon is the real one (`leadq run`, schedule interval 1 minute, no jitter, the real clock) in its own
process. Once its first (full) cycle has finished, a writer changes the title of 1 % of the scored people
(Salesforce leads and contacts, HubSpot contacts; each person at most once) at the top of every minute,
through the connectors, as reps would. At the end: each changed person's score history after the change
counted by trigger (exactly one score made because their record changed; re-scores for a colleague's change
counted apart), the run history checked for overlaps, and the daemon's RSS sampled every minute.
"""

from __future__ import annotations

import itertools
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.chaos_runs import Run
from benchmarks.chaos_state import runs_of
from connector.protocol import RecordUpdate
from mappings import Crm
from sync.connectors import build_connector

CHANGED = {"Lead": "Title", "Contact": "Title", "contacts": "jobtitle"}
FIRST_CYCLE_TIMEOUT = 3600.0


@dataclass
class LoadResult:
    """What the load run measured."""

    minutes: int
    changed: int = 0
    scored_once: int = 0
    scored_never: int = 0
    scored_twice_or_more: int = 0
    rescored_for_context: int = 0  # later scores of changed people made for a colleague's change
    runs: int = 0
    overlaps: int = 0
    rss_mb: list[float] = field(default_factory=list)
    cycle_seconds: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    exit_code: int | None = None


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _naive(t: datetime) -> str:
    # The state store keeps UTC as naive text in SQLite: compare in that form.
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _finished_runs(db: Path) -> list[tuple[str, str | None, str]]:
    if not db.exists():
        return []
    try:
        return [r for r in runs_of(db) if r[1] is not None]
    except sqlite3.OperationalError:  # the daemon has not created its tables yet
        return []


def _people(db: Path) -> list[tuple[Crm, str, str]]:
    """(crm, object, id) of every person leadq scored in the first cycle (converted leads are not)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT DISTINCT crm, lead_id FROM score_history").fetchall()
    finally:
        conn.close()
    out: list[tuple[Crm, str, str]] = []
    for crm, lead_id in rows:
        obj = "contacts" if crm == "hubspot" else ("Lead" if str(lead_id).startswith("00Q") else "Contact")
        out.append((crm, obj, str(lead_id)))
    return sorted(out)


def load_run(base_db: Path, root: Path, *, minutes: int, seed: int) -> LoadResult:
    """Run the daemon under the writer's load for `minutes`; see the module docstring."""
    run = Run(base_db, root, "load", oauth=False, interval_minutes=1)
    result = LoadResult(minutes)
    state_db = run.folder / "leadq.db"
    log = (run.folder / "daemon.log").open("a", encoding="utf-8")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "leadq"), "run", "--config", str(run.config_path), "--port", "0",
         "--host", "127.0.0.1", "--log-level", "WARNING", "--text-logs"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    connectors = {crm: build_connector(run.config, crm) for crm in ("salesforce", "hubspot")}
    changed_at: dict[tuple[str, str], str] = {}
    try:
        deadline = time.monotonic() + FIRST_CYCLE_TIMEOUT
        while not _finished_runs(state_db):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the daemon's first cycle did not finish; see {run.folder / 'daemon.log'}"
                )
            time.sleep(1)
        result.rss_mb.append(rss_mb(daemon.pid))
        people = _people(state_db)
        rng = random.Random(seed)
        rng.shuffle(people)
        per_minute = max(1, round(len(people) * 0.01))
        for minute in range(minutes):
            tick = time.monotonic()
            batch, people = people[:per_minute], people[per_minute:]
            _write(connectors, batch, minute, changed_at)
            result.rss_mb.append(rss_mb(daemon.pid))
            time.sleep(max(0.0, 60.0 - (time.monotonic() - tick)))
        last_change = max(changed_at.values(), default=_naive(datetime.now(UTC)))
        deadline = time.monotonic() + FIRST_CYCLE_TIMEOUT
        while not any(start > last_change for start, _, _ in _finished_runs(state_db)):
            if daemon.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(1)
        result.rss_mb.append(rss_mb(daemon.pid))
    finally:
        for connector in connectors.values():
            connector.close()
        daemon.send_signal(signal.SIGTERM)
        try:
            result.exit_code = daemon.wait(120)
        except subprocess.TimeoutExpired:
            daemon.kill()
            result.exit_code = daemon.wait()
        log.close()
        run.finish()
    _score_checks(result, state_db, changed_at)
    return result


def _write(
    connectors: dict[str, Any],
    batch: list[tuple[Crm, str, str]],
    minute: int,
    changed_at: dict[tuple[str, str], str],
) -> None:
    by_object: dict[tuple[Crm, str], list[str]] = {}
    for crm, obj, record_id in batch:
        by_object.setdefault((crm, obj), []).append(record_id)
    for (crm, obj), ids in by_object.items():
        when = _naive(datetime.now(UTC))
        updates = [
            RecordUpdate(i, {CHANGED[obj]: f"Load test title {minute}-{n}"}) for n, i in enumerate(ids)
        ]
        outcomes = connectors[crm].apply_updates(obj, updates)
        for update, outcome in zip(updates, outcomes, strict=True):
            if outcome.ok:
                changed_at[(crm, update.id)] = when


def _score_checks(result: LoadResult, state_db: Path, changed_at: dict[tuple[str, str], str]) -> None:
    runs = runs_of(state_db)
    result.runs = len(runs)
    finished = [r for r in runs if r[1] is not None]
    result.overlaps = sum(1 for a, b in itertools.pairwise(finished) if b[0] < str(a[1]))
    result.cycle_seconds = [
        (datetime.fromisoformat(str(f)) - datetime.fromisoformat(s)).total_seconds() for s, f, _ in finished
    ]
    conn = sqlite3.connect(state_db)
    try:
        rows = conn.execute(
            "SELECT crm, lead_id, scored_at, json_extract(contributions, '$.trigger') FROM score_history"
        ).fetchall()
    finally:
        conn.close()
    scores: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for crm, lead_id, scored_at, trigger in rows:
        scores.setdefault((str(crm), str(lead_id)), []).append((str(scored_at), str(trigger)))
    counts: Counter[int] = Counter()
    for key, at in changed_at.items():
        # The score history says why each score was made: "changed" when the person's own record had
        # changed since the last pull. Their change must be scored that way exactly once; re-scores for a
        # colleague's change (the account's context) are counted apart.
        later = [trigger for s, trigger in scores.get(key, []) if s >= at]
        n = later.count("changed")
        result.rescored_for_context += sum(1 for t in later if t == "context")
        counts[min(n, 2)] += 1
        if n != 1 and len(result.examples) < 5:
            result.examples.append(f"{key[0]} {key[1]} changed at {at}: scored for it {n} times")
    result.changed = len(changed_at)
    result.scored_never, result.scored_once, result.scored_twice_or_more = counts[0], counts[1], counts[2]
