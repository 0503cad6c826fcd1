"""The leadq side of the cycle benchmark: `leadq setup` and timed cycles against a served org.

`run_scale` runs in its own spawned process per org size, so its peak RSS is that size's alone:
a full cycle (nothing pulled before), an idle cycle (our own writes come back once as echoes), then an
incremental cycle after 1 % of the people changed a field through the API. Each CRM runs its own
`run_cycle` (a context with that CRM's connector only) so each is timed on its own.
"""

from __future__ import annotations

import cProfile
import gc
import os
import random
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connector.protocol import RecordUpdate
from mappings import SANDBOX_TOKEN_ENV, Crm, LeadqConfig, load_config, write_default_config
from sync.cli_setup import setup_crm
from sync.connectors import build_connector
from sync.context import CycleContext
from sync.cycle import run_cycle
from sync.memory import keep_large_blocks_apart
from sync.report import CrmReport
from sync.state import StateStore

CRMS: tuple[Crm, ...] = ("salesforce", "hubspot")
# The pull window reaches `lookback_seconds` back from the cursor (300 s by default), and the cursor stops at
# the newest stamp seen: until newer changes arrive, every cycle re-reads the last 300 s of the CRM's changes,
# so after a large write of ours up to 300 s of echoes. Cycles here follow each other within seconds, so the
# lookback is 0: each case then sees its own changes (and the records of the newest stamp's second).
LOOKBACK_S = 0
TUNING: dict[str, dict[str, Any]] = {
    "salesforce": {"bulk_poll_seconds": 0.05, "backoff_initial": 0.05, "lookback_seconds": LOOKBACK_S},
    "hubspot": {"requests_per_10s": 1_000_000, "search_per_second": 100_000, "lookback_seconds": LOOKBACK_S},
}
CHANGED_FIELD = {"salesforce": ("Lead", "Title"), "hubspot": ("contacts", "jobtitle")}
MAX_WARMUP = 3
OURS = frozenset({"sync", "scoring", "connector", "mappings"})  # whose functions `RssPeak` names
TITLES = ("VP Sales", "Head of Procurement", "Chief Revenue Officer", "Data Analyst", "Founder")


@dataclass
class CycleResult:
    """One CRM's cycle as measured: wall seconds and the run report's figures."""

    crm: str
    seconds: float
    phases: dict[str, float]
    api_calls: dict[str, int]
    pulled: dict[str, int]
    scored: int
    written: int
    echoes: int
    tasks_created: int
    stopped: str | None
    model_version: str
    gc_s: float = 0.0  # of `seconds`, spent in the cyclic garbage collector (spread over the phases)
    peak_rss_mb: float = 0.0  # the process's highest RSS seen during this cycle (0: not measurable here)
    peak_where: str = ""  # what the cycle was running when the peak was seen

    @classmethod
    def of(
        cls, report: CrmReport, seconds: float, gc_s: float = 0.0, memory: RssPeak | None = None
    ) -> CycleResult:
        return cls(
            report.crm, seconds, dict(report.phases), dict(report.api_calls), dict(report.pulled),
            report.scored, report.written, report.echoes, report.tasks_created, report.stopped,
            report.model_version, gc_s, 0.0 if memory is None else memory.peak_mb,
            "" if memory is None else memory.where,
        )  # fmt: skip


def rss_mb() -> float:
    """The process's resident set size now, in MB (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


class RssPeak:
    """The highest RSS while installed, sampled every `every` seconds by a thread: `ru_maxrss` is the whole
    process's, so it cannot tell which cycle (or CRM) set the peak. `where` names what the main thread was
    running when the peak was seen (leadq's innermost functions), and `timeline` keeps the RSS each
    `mark_every` seconds with the same, to show which step holds what."""

    def __init__(self, every: float = 0.05, mark_every: float = 5.0, modules: frozenset[str] = OURS) -> None:
        self.peak_mb = 0.0
        self.where = ""
        self.timeline: list[tuple[float, float, str]] = []
        self._every = every
        self._mark_every = mark_every
        self._modules = modules
        self._main = threading.get_ident()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-peak", daemon=True)

    def _running(self) -> str:
        frame = sys._current_frames().get(self._main)
        names: list[str] = []
        while frame is not None and len(names) < 3:
            module = frame.f_globals.get("__name__", "")
            if module.split(".")[0] in self._modules:
                names.append(f"{module}.{frame.f_code.co_name}")
            frame = frame.f_back
        return " < ".join(names)

    def _sample(self) -> None:
        started = time.perf_counter()
        next_mark = 0.0
        while True:
            now, rss = time.perf_counter() - started, rss_mb()
            if rss > self.peak_mb:
                self.peak_mb, self.where = rss, self._running()
            if now >= next_mark:
                self.timeline.append((now, rss, self._running()))
                next_mark = now + self._mark_every
            if self._done.wait(self._every):
                return

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


class GcTimer:
    """Seconds the cyclic collector runs while installed (`gc.callbacks`): its pauses land in whatever
    phase allocates at the time, so the phases alone do not show them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)


@dataclass
class ScaleResult:
    """Every case of one org size, and the process's peak RSS."""

    leads: int
    counts: dict[str, int]
    seed_s: float
    cases: list[tuple[str, CycleResult]] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    profiles: list[str] = field(default_factory=list)


def ahead() -> datetime:
    """Our clock a little ahead of the sandbox's: a SOQL window ends on a whole second (as in the tests)."""
    return datetime.now(UTC) + timedelta(seconds=2)


def _config(folder: Path, url: str, ca: str, token: str) -> LeadqConfig:
    os.environ[SANDBOX_TOKEN_ENV] = token
    path = write_default_config(
        folder / "leadq.yaml", crms=CRMS, sandbox_url=url, ca_bundle=ca, overwrite=True
    )
    return load_config(path)


def _contexts(config: LeadqConfig, folder: Path, crms: tuple[Crm, ...]) -> dict[Crm, CycleContext]:
    store = StateStore.open(config.state.url)
    return {
        crm: CycleContext(
            config=config,
            store=store,
            connectors={crm: build_connector(config, crm, **TUNING[crm])},
            state_dir=folder / ".leadq",
            clock=ahead,
        )
        for crm in crms
    }


def _cycle(ctx: CycleContext, crm: Crm, profile_to: Path | None) -> CycleResult:
    profiler = cProfile.Profile() if profile_to is not None else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    with GcTimer() as collector, RssPeak() as memory:
        report = run_cycle(ctx)
    if profiler is not None:
        profiler.disable()
        assert profile_to is not None
        profiler.dump_stats(str(profile_to))
    result = CycleResult.of(report.crms[crm], time.perf_counter() - started, collector.seconds, memory)
    phases = " ".join(f"{k} {v:.1f}" for k, v in result.phases.items()) + f"; gc {result.gc_s:.1f}"
    phases += f"; peak RSS {result.peak_rss_mb:,.0f} MB in {result.peak_where or '?'}"
    _print_timeline(memory.timeline)
    print(
        f"  {crm}: {result.seconds:.1f} s, pulled {sum(result.pulled.values()):,}, scored {result.scored:,}, "
        f"written {result.written:,}, {sum(result.api_calls.values()):,} calls ({phases})",
        file=sys.stderr,
        flush=True,
    )
    return result


def _print_timeline(timeline: list[tuple[float, float, str]], step_mb: float = 100.0) -> None:
    """The RSS marks where it moved by `step_mb` or more since the last one printed."""
    shown = -step_mb
    for at, rss, where in timeline:
        if abs(rss - shown) >= step_mb:
            print(f"    {at:7.1f} s {rss:7,.0f} MB  {where}", file=sys.stderr)
            shown = rss


def _change(ctx: CycleContext, crm: Crm, fraction: float, seed: int) -> int:
    """Change one field of `fraction` of the people through the API (as reps would)."""
    world = ctx.worlds[crm]
    obj, name = CHANGED_FIELD[crm]
    kind = "lead" if crm == "salesforce" else "contact"
    ids = sorted(i for i, p in world.people.items() if p.kind == kind and not p.is_converted)
    rng = random.Random(seed)
    chosen = rng.sample(ids, max(1, round(len(ids) * fraction)))
    connector = ctx.connectors[crm]
    outcomes = connector.apply_updates(obj, [RecordUpdate(i, {name: rng.choice(TITLES)}) for i in chosen])
    connector.calls.take()  # the edit is the reps' doing, not the cycle's
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"changing {name} on {len(failed)} {obj} records failed: {failed[0]}")
    return len(chosen)


def run_scale(
    url: str,
    ca: str,
    token: str,
    folder: Path,
    leads: int,
    *,
    incremental: bool,
    fraction: float,
    profile_dir: Path | None,
    seed: int,
    crms: tuple[Crm, ...] = CRMS,
) -> dict[str, Any]:
    """Set up leadq on the served org and run its cases; returns {case: [per-CRM results]}, changed, RSS."""
    config = _config(folder, url, ca, token)
    for crm in crms:
        _, error = setup_crm(config, crm, dry_run=False)
        if error is not None:
            raise RuntimeError(f"leadq setup failed on {crm}: {error}")
    contexts = _contexts(config, folder, crms)
    cases: list[tuple[str, CycleResult]] = []
    changed: dict[str, int] = {}
    profiles: list[str] = []

    def where(case: str, crm: str) -> Path | None:
        if profile_dir is None:
            return None
        path = profile_dir / f"cycle_{leads}_{case}_{crm}.prof"
        profiles.append(str(path))
        return path

    for crm, ctx in contexts.items():
        cases.append(("full", _cycle(ctx, crm, where("full", crm))))
        if not incremental:
            continue
        # The first cycle trains a model when the labels allow; the next one re-scores with it, and our own
        # writes come back once as echoes: idle cycles until nothing is scored or written (steady state).
        for n in range(1, MAX_WARMUP + 1):
            idle = _cycle(ctx, crm, None)
            cases.append((f"idle {n}", idle))
            if idle.scored == 0 and idle.written == 0:
                break
        # A write leaves its records on the newest stamp, whose second every later window re-reads (the
        # window's start is closed) until anything newer arrives: one unrelated edit and a cycle move it on.
        _change(ctx, crm, 0.0, seed + 1)
        time.sleep(1.1)
        cases.append(("idle (1 edit)", _cycle(ctx, crm, None)))
        time.sleep(1.1)
        changed[crm] = _change(ctx, crm, fraction, seed)
        time.sleep(1.0)  # the edits' stamps fall inside the next window
        cases.append(("incremental", _cycle(ctx, crm, where("incremental", crm))))
    for ctx in contexts.values():
        for connector in ctx.connectors.values():
            connector.close()
    next(iter(contexts.values())).store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cases": cases, "changed": changed, "peak_rss_mb": peak, "profiles": profiles}


def run_scale_in_child(conn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`run_scale` in a spawned process (its own peak RSS), one thread for the numeric libraries."""
    from threadpoolctl import threadpool_limits

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    keep_large_blocks_apart()  # as the `leadq` command does
    try:
        with threadpool_limits(limits=1):
            conn.send(("ok", run_scale(*args, **kwargs)))
    except BaseException as exc:  # the parent reports it; a benchmark still prints what it measured
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
