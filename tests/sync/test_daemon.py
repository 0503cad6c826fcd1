"""The daemon with fake cycles: first cycle at once, never two at a time, failures survived, clean stops."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from sync.cli_run import STATE_DIR_ENV, StartupError, run, serve
from sync.context import CycleContext
from sync.daemon import Daemon, build_trigger, crontab_weekdays, nth_run_after
from sync.metrics import Metrics
from sync.report import RunReport

ROOT = Path(__file__).resolve().parents[2]
HANG = 60.0  # only a guard against a hung test, never a measured duration


@dataclass
class Every:
    """A ScheduleConfig-like object (the real one allows no less than a minute)."""

    interval_minutes: int | None = 15
    cron: str | None = None
    jitter_seconds: int = 0


def report(status: str = "succeeded", scored: int = 1) -> RunReport:
    now = datetime.now(UTC)
    out = RunReport(started_at=now, finished_at=now, status=status)
    out.crm("salesforce").scored = scored
    return out


def daemon(
    cycle: Callable[[], RunReport], *, seconds: float = 0.02, stop: threading.Event | None = None
) -> Daemon:
    return Daemon(
        cycle,
        Every(),
        Metrics(CollectorRegistry()),
        stop or threading.Event(),
        trigger=IntervalTrigger(seconds=seconds),
        poll_seconds=0.01,
    )


def in_thread(d: Daemon, max_cycles: int | None = None) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(d.run(max_cycles=max_cycles)), daemon=True)
    thread.start()
    return thread, codes


def counter(d: Daemon, name: str, **labels: str) -> float:
    value = d.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_first_cycle_runs_at_once_even_with_a_long_interval() -> None:
    ran = threading.Event()

    def cycle() -> RunReport:
        ran.set()
        return report()

    d = daemon(cycle, seconds=3600)
    thread, codes = in_thread(d, max_cycles=1)
    thread.join(HANG)
    assert ran.is_set()
    assert codes == [0]
    assert d.cycles_run == 1
    assert counter(d, "leadq_records_scored_total", crm="salesforce") == 1


def test_a_slow_cycle_never_overlaps_the_next_tick() -> None:
    lock = threading.Lock()
    inside = 0
    most = 0
    calls = 0

    def cycle() -> RunReport:
        nonlocal inside, most, calls
        with lock:
            inside += 1
            calls += 1
            most = max(most, inside)
        time.sleep(0.15)  # many 20 ms ticks pass while it runs
        with lock:
            inside -= 1
        return report()

    d = daemon(cycle)
    thread, codes = in_thread(d, max_cycles=4)
    thread.join(HANG)
    assert codes == [0]
    assert most == 1
    assert calls == 4
    assert counter(d, "leadq_cycles_total", status="succeeded") == 4


def test_a_failing_cycle_is_logged_counted_and_the_daemon_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def cycle() -> RunReport:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("salesforce answered 500")
        if calls == 2:
            failed = report(status="failed")
            failed.error = "hubspot: quota spent"
            return failed
        return report()

    d = daemon(cycle)
    with caplog.at_level(logging.INFO, logger="sync.daemon"):
        thread, codes = in_thread(d, max_cycles=3)
        thread.join(HANG)
    assert codes == [0]
    assert calls == 3
    assert d.cycles_failed == 2
    assert counter(d, "leadq_cycles_failed_total") == 2
    assert counter(d, "leadq_cycles_total", status="succeeded") == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "cycle failed: RuntimeError: salesforce answered 500",
        "cycle failed in 0.0 s",
    ]
    assert errors[0].exc_info is None  # the message only; the traceback is debug-level
    assert errors[1].error == "hubspot: quota spent"  # type: ignore[attr-defined]
    assert d.health_state.last_status == "succeeded"


def test_stop_event_ends_run_after_the_in_flight_cycle_finishes() -> None:
    stop = threading.Event()
    entered = threading.Event()
    events: list[str] = []

    def cycle() -> RunReport:
        entered.set()
        while not stop.is_set():  # what ctx.stop_requested does: finish the batch, then return
            time.sleep(0.01)
        time.sleep(0.1)  # saving state
        events.append("finished")
        return report()

    d = daemon(cycle, stop=stop)
    codes: list[int] = []

    def main() -> None:
        codes.append(d.run())
        events.append("returned")

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert entered.wait(HANG)
    d.request_stop()
    thread.join(HANG)
    assert codes == [0]
    assert events == ["finished", "returned"]
    assert d.cycles_run == 1


def test_no_cycle_starts_once_stop_is_requested() -> None:
    stop = threading.Event()
    stop.set()
    calls: list[int] = []
    d = daemon(lambda: calls.append(1) or report(), stop=stop)  # type: ignore[func-returns-value]
    assert d.run() == 0
    assert calls == []


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from datetime import UTC, datetime
    from pathlib import Path
    from prometheus_client import CollectorRegistry
    from sync.daemon import Daemon
    from sync.health import HealthServer
    from sync.metrics import Metrics
    from sync.report import RunReport

    folder = Path(sys.argv[1])
    stop = threading.Event()

    class Every:
        interval_minutes, cron, jitter_seconds = 1, None, 0

    def cycle():
        (folder / "started").write_text("1")
        while not stop.is_set():
            time.sleep(0.02)
        time.sleep(0.2)
        (folder / "finished").write_text("1")
        now = datetime.now(UTC)
        return RunReport(started_at=now, finished_at=now, status="succeeded")

    metrics = Metrics(CollectorRegistry())
    d = Daemon(cycle, Every(), metrics, stop)
    d.health = HealthServer(d.health_state, metrics, host="127.0.0.1", port=0)
    sys.exit(d.run())
    """
)


def test_sigterm_finishes_the_cycle_and_exits_zero(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(tmp_path)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + HANG
        while not (tmp_path / "started").exists():
            assert proc.poll() is None, "the daemon died before its first cycle"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(HANG) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "finished").exists()


def test_build_trigger_follows_the_schedule() -> None:
    interval = build_trigger(Every(interval_minutes=20, jitter_seconds=30))
    assert isinstance(interval, IntervalTrigger)
    assert interval.interval == timedelta(minutes=20)
    assert interval.jitter == 30
    cron = build_trigger(Every(interval_minutes=None, cron="0 3 * * 0"), jitter=False)
    assert cron.jitter is None
    monday = datetime(2024, 1, 1, tzinfo=cron.timezone)
    assert cron.get_next_fire_time(None, monday) == datetime(2024, 1, 7, 3, tzinfo=cron.timezone)


@given(st.integers(min_value=1, max_value=24 * 60))
def test_staleness_is_three_intervals_for_an_interval_schedule(minutes: int) -> None:
    trigger = build_trigger(Every(interval_minutes=minutes), jitter=False)
    reference = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert nth_run_after(trigger, reference) == reference + 3 * timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("fri-sun", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1,3", "mon,wed"),
    ],
)
def test_crontab_weekdays_count_from_sunday(field: str, days: str) -> None:
    assert crontab_weekdays(field) == days


@given(st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=23))
def test_a_cron_weekday_fires_on_that_crontab_day(weekday: int, hour: int) -> None:
    trigger = build_trigger(Every(interval_minutes=None, cron=f"0 {hour} * * {weekday}"), jitter=False)
    fire = trigger.get_next_fire_time(None, datetime(2024, 1, 1, tzinfo=trigger.timezone))
    assert fire.isoweekday() % 7 == weekday % 7  # isoweekday: Sunday is 7
    assert fire.hour == hour


@pytest.mark.parametrize("cron", ["0 3 * * 8", "0 25 * * *", "0 3 * * 5-1", "0 3 * * */0"])
def test_an_impossible_cron_is_a_clear_error(cron: str) -> None:
    with pytest.raises(ValueError, match=r"schedule\.cron"):
        build_trigger(Every(interval_minutes=None, cron=cron))


def test_staleness_follows_the_calendar_for_a_cron_schedule() -> None:
    trigger = build_trigger(Every(interval_minutes=None, cron="0 3 * * 0"), jitter=False)
    reference = datetime(2024, 1, 1, tzinfo=trigger.timezone)
    assert nth_run_after(trigger, reference) == datetime(2024, 1, 21, 3, tzinfo=trigger.timezone)


# ---- leadq run: start-up, through `serve` and the typer command ----------------------------------------


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_run_refuses_a_broken_config_with_exit_2(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(run)
    broken = tmp_path / "leadq.yaml"
    broken.write_text("schedule:\n  interval_minutes: 0\n")
    result = CliRunner().invoke(app, ["--config", str(broken), "--port", "0"])
    assert result.exit_code == 2
    assert "interval_minutes" in result.output
    missing = CliRunner().invoke(app, ["--config", str(tmp_path / "nope.yaml"), "--port", "0"])
    assert missing.exit_code == 2


@pytest.mark.usefixtures("restore_logging")
def test_serve_builds_the_context_and_serves_health_during_cycles(
    init_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = init_config()
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    seen: dict[str, object] = {}
    started: list[Daemon] = []

    def cycle(ctx: CycleContext) -> RunReport:
        d = started[0]
        assert d.health is not None
        base = f"http://127.0.0.1:{d.health.port}"
        seen["healthz"] = httpx.get(f"{base}/healthz").json()
        seen["crms"] = ctx.crms
        seen["state_dir"] = ctx.state_dir
        seen["stop"] = ctx.stop_requested()
        return report(scored=5)

    code = serve(
        config, host="127.0.0.1", port=0, cycle=cycle, max_cycles=1, on_start=lambda d, ctx: started.append(d)
    )
    assert code == 0
    assert seen["crms"] == ["salesforce", "hubspot"]
    assert seen["state_dir"] == (tmp_path / "state").resolve()
    assert seen["stop"] is False
    assert (tmp_path / "state" / "leadq.db").exists()  # the default database follows LEADQ_STATE_DIR
    assert not (config.parent / "leadq.db").exists()
    assert seen["healthz"] == {"status": "ok", "last_cycle": None, "last_status": None, "last_success": None}
    assert (
        started[0].metrics.registry.get_sample_value("leadq_records_scored_total", {"crm": "salesforce"}) == 5
    )
    backlog = started[0].metrics.registry.get_sample_value("leadq_review_backlog", {"crm": "hubspot"})
    assert backlog == 0


@pytest.mark.usefixtures("restore_logging")
def test_run_exits_1_when_the_state_folder_cannot_be_created(
    init_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = init_config()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(STATE_DIR_ENV, str(blocker))
    app = typer.Typer()
    app.command()(run)
    result = CliRunner().invoke(app, ["--config", str(config), "--port", "0"])
    assert result.exit_code == 1
    assert "state folder" in result.output
    assert STATE_DIR_ENV in result.output


@pytest.mark.usefixtures("restore_logging")
def test_serve_refuses_an_unknown_log_level(init_config: Callable[..., Path]) -> None:
    with pytest.raises(StartupError) as info:
        serve(init_config(), port=0, log_level="chatty", cycle=lambda ctx: report(), max_cycles=1)
    assert info.value.code == 2
    assert "chatty" in str(info.value)
