"""`leadq run`: sync cycles on the config's schedule, one at a time, until SIGTERM or SIGINT.

APScheduler 3 (`BackgroundScheduler`) fires the cycle from `schedule` (every `interval_minutes`, or on a
five-field `cron` in the machine's time zone), with up to `jitter_seconds` of random delay, one instance at
a time (a tick that comes while a cycle runs is skipped), and misfires coalesced into one run. The first
cycle runs at once.

Stopping: a signal only sets `stop_event` (nothing else is safe inside a signal handler). The cycle reads it
between batches (`ctx.stop_requested`), saves its state and returns; the main thread then shuts the
scheduler down (waiting for that cycle), closes the HTTP server and returns exit code 0.

A cycle that raises is logged (type and message, secrets masked by the log filter), counted as failed, and
the daemon goes on with the next tick.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from sync.health import HealthServer, HealthState
from sync.metrics import Metrics
from sync.report import RunReport

log = logging.getLogger(__name__)

Cycle = Callable[[], RunReport]
STALE_AFTER_RUNS = 3  # /healthz turns 503 when this many scheduled runs passed without a success
JOB_ID = "leadq-cycle"


class Schedule(Protocol):
    """What the daemon reads of `config.schedule` (`mappings.ScheduleConfig`)."""

    @property
    def interval_minutes(self) -> int | None: ...

    @property
    def cron(self) -> str | None: ...

    @property
    def jitter_seconds(self) -> int: ...


def build_trigger(schedule: Schedule, *, jitter: bool = True) -> BaseTrigger:
    """The APScheduler trigger of a schedule (without jitter when `jitter` is False).

    Raises ValueError naming `schedule.cron` when the expression has an impossible value.
    """
    spread = (schedule.jitter_seconds or None) if jitter else None
    if schedule.cron is None:
        return IntervalTrigger(minutes=schedule.interval_minutes or 15, jitter=spread)
    try:
        minute, hour, day, month, weekday = schedule.cron.split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            jitter=spread,
        )
    except ValueError as exc:
        raise ValueError(
            f"schedule.cron {schedule.cron!r} cannot be used ({exc}); write five crontab fields, "
            "e.g. '*/15 * * * *' or '0 3 * * 0'"
        ) from None


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler day names.

    APScheduler 3 numbers weekdays from Monday = 0, so crontab's numbers, ranges and steps would land on the
    wrong days; the field is expanded to the explicit set of days it means.
    """
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"day-of-week step {part!r} must be at least 1")
        if span in ("*", "?"):
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            first = _weekday(low)
            last = _weekday(high) if high else (6 if step_text else first)
            last = 7 if high == "sun" else last  # `fri-sun` ends on the Sunday after
        if last < first:
            raise ValueError(f"day-of-week range {part!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def _weekday(text: str) -> int:
    # 0-7 as crontab writes them (7 is Sunday again, so `5-7` means Friday to Sunday); names are 0-6.
    if text.isdigit():
        if not 0 <= int(text) <= 7:
            raise ValueError(f"day of week {text!r} is not between 0 and 7")
        return int(text)
    if text in _DAY_NAMES:
        return _DAY_NAMES.index(text)
    raise ValueError(f"day of week {text!r} is not a number 0-7 or a name sun-sat")


def nth_run_after(trigger: BaseTrigger, reference: datetime, n: int = STALE_AFTER_RUNS) -> datetime:
    """The `n`th time `trigger` fires after `reference` (use a trigger without jitter)."""
    when = reference
    for _ in range(n):
        following = trigger.get_next_fire_time(when, when)
        if following is None:  # a schedule that never fires again: never stale
            return datetime.max.replace(tzinfo=UTC)
        when = following
    return when if isinstance(when, datetime) else reference


class Daemon:
    """Runs `cycle` on a schedule until `stop_event` is set; see the module docstring.

    `trigger` replaces the schedule's trigger (tests use a sub-second interval); `health` is the HTTP
    server, started by `run()` and closed when it returns.
    """

    def __init__(
        self,
        cycle: Cycle,
        schedule: Schedule,
        metrics: Metrics,
        stop_event: threading.Event,
        *,
        health_state: HealthState | None = None,
        health: HealthServer | None = None,
        trigger: BaseTrigger | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self.cycle = cycle
        self.metrics = metrics
        self.stop_event = stop_event
        self.trigger = trigger if trigger is not None else build_trigger(schedule)
        plain = trigger if trigger is not None else build_trigger(schedule, jitter=False)
        self.health_state = health_state or HealthState(lambda ref: nth_run_after(plain, ref))
        self.health = health
        self.poll_seconds = poll_seconds
        self.cycles_run = 0
        self.cycles_failed = 0
        self._max_cycles: int | None = None
        self._done = threading.Event()
        self._running = threading.Lock()  # a second guard next to max_instances=1

    def run(self, max_cycles: int | None = None) -> int:
        """Block until stopped (or `max_cycles` cycles ran); returns the process exit code (0)."""
        self._max_cycles = max_cycles
        previous = self._install_signal_handlers()
        scheduler = BackgroundScheduler(timezone=UTC)
        try:
            if self.health is not None:
                self.health.start()
            scheduler.add_job(
                self._tick,
                self.trigger,
                id=JOB_ID,
                name="leadq sync cycle",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,  # a late run still runs (once, coalesced), never silently dropped
                next_run_time=datetime.now(UTC),  # the first cycle right away
            )
            scheduler.start()
            log.info("leadq daemon started", extra={"trigger": str(self.trigger)})
            # Polling, not Event.wait(): a signal handler setting an Event the main thread is waiting on
            # can deadlock on the Event's own lock.
            while not (self.stop_event.is_set() or self._done.is_set()):
                time.sleep(self.poll_seconds)
            if self.stop_event.is_set():
                log.info("stop requested: finishing the current cycle, if one is running")
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=True)
            if self.health is not None:
                self.health.close()
            self._restore_signal_handlers(previous)
        log.info("leadq daemon stopped", extra={"cycles": self.cycles_run, "failed": self.cycles_failed})
        return 0

    def request_stop(self) -> None:
        """Ask the daemon to stop after the current cycle (what SIGTERM does)."""
        self.stop_event.set()

    def _tick(self) -> None:
        if self.stop_event.is_set() or self._done.is_set():
            return
        if not self._running.acquire(blocking=False):
            log.warning("a cycle is still running: this run is skipped")
            return
        try:
            self._run_one()
        finally:
            self._running.release()

    def _run_one(self) -> None:
        started = datetime.now(UTC)
        try:
            report = self.cycle()
        except Exception as exc:
            finished = datetime.now(UTC)
            self.cycles_failed += 1
            log.error("cycle failed: %s: %s", type(exc).__name__, exc)
            log.debug("cycle failure traceback", exc_info=True)
            self._safely(self.metrics.record_failure, started, finished)
            self.health_state.record("failed", finished)
        else:
            if report.status == "failed":
                self.cycles_failed += 1
            self._safely(self.metrics.record_run, report)
            self.health_state.record(report.status, report.finished_at or datetime.now(UTC))
            level = {"failed": logging.ERROR, "partial": logging.WARNING}.get(report.status, logging.INFO)
            log.log(
                level,
                "cycle %s in %.1f s",
                report.status,
                report.duration_s,
                extra={
                    "run_id": report.run_id,
                    "scored": report.total("scored"),
                    "written": report.total("written"),
                    "rejected": report.total("rejected"),
                    "error": report.error,
                },
            )
        self.cycles_run += 1
        if self._max_cycles is not None and self.cycles_run >= self._max_cycles:
            self._done.set()

    @staticmethod
    def _safely(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # metrics must never stop the daemon
            log.warning("metrics not updated: %s: %s", type(exc).__name__, exc)

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
