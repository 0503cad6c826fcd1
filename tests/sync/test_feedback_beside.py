"""Retraining beside the send: `begin_retrain` fits in a worker process while the caller goes on using
the store, `finish` stores and promotes as `retrain` does, and a cycle whose send fails keeps no model and
trains again on its next cycle."""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import pytest

from scoring.registry import ModelRegistry
from sync import feedback
from sync.context import CycleContext
from sync.cycle import learning
from sync.state import StateStore
from tests.scoring.model_fixtures import one_thread
from tests.sync.feedback_support import NOW, SF, FakeWorld, context, trainable_world

DRIFT = "  drift: {min_auc: 0.51}"


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def _store(path: Path) -> StateStore:
    return StateStore.open(f"sqlite:///{path / 'leadq.db'}", clock=lambda: NOW)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = _store(tmp_path)
    yield opened
    opened.close()


def _labelled(store: StateStore, tmp_path: Path) -> tuple[CycleContext, FakeWorld]:
    """A context and a world whose outcome labels are recorded: enough to train on."""
    ctx = context(store, tmp_path, DRIFT)
    world = trainable_world()
    feedback.record_outcome_labels(ctx, SF, world, list(world.people), NOW)
    return ctx, world


def _model_actions(store: StateStore) -> list[str]:
    return [e["action"] for e in store.audit_export() if e["action"].startswith("model_")]


def test_a_retrain_begun_beside_ends_as_retrain_does(tmp_path: Path) -> None:
    world = trainable_world()
    results = []
    for name, beside in (("inline", False), ("beside", True)):
        store = _store(tmp_path / name)
        try:
            ctx = context(store, tmp_path / name, DRIFT)
            feedback.record_outcome_labels(ctx, SF, world, list(world.people), NOW)
            training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test", beside=beside)
            # The caller's thread keeps the store while the fit runs.
            store.audit("leadq", "fields_written", crm=SF, record_id="00Q000000000001")
            results.append(training.finish())
            assert training.finish() is results[-1]  # finishing twice stores once
            assert _model_actions(store) == ["model_trained", "model_promoted"]
            assert store.champion(SF, "all") is not None
        finally:
            store.close()
    inline, beside_result = results
    assert beside_result.promoted and inline.promoted
    assert beside_result.metrics == inline.metrics and beside_result.labels == inline.labels


def test_the_fit_runs_while_the_caller_waits_for_something_else(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, DRIFT)
    world = trainable_world()
    training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test")
    assert training.fitting is not None
    deadline = time.monotonic() + 300  # a liveness bound, not a speed target
    while not training.fitting.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert training.fitting.done() and store.models(SF) == []  # fitted, nothing stored until finish
    assert training.finish().version is not None and len(store.models(SF)) == 1


def test_a_failed_send_keeps_no_model_and_the_next_cycle_trains(store: StateStore, tmp_path: Path) -> None:
    ctx, world = _labelled(store, tmp_path)
    assert feedback.should_retrain(ctx, SF, NOW) is not None
    with pytest.raises(ConnectionError, match="send failed"), learning(ctx, SF, world):
        raise ConnectionError("send failed")
    assert store.models(SF) == [] and _model_actions(store) == []
    assert ModelRegistry(ctx.state_dir / SF).champion() is None
    assert feedback.should_retrain(ctx, SF, NOW) is not None  # the dropped fit does not count

    with learning(ctx, SF, world):
        pass
    champion = store.champion(SF, "all")
    assert champion is not None and ModelRegistry(ctx.state_dir / SF).champion() == champion.version
    assert feedback.should_retrain(ctx, SF, NOW) is None


def test_too_few_labels_is_known_at_once_and_nothing_runs_beside(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path)
    world = trainable_world(60)
    training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test")
    assert training.fitting is None and training.done is not None
    result = training.finish()
    assert result.version is None and "too few labels" in result.reason
    assert _model_actions(store) == ["model_not_trained"]


def _started_since(before: set[int]) -> int:
    """The pid of the one process started since `before` (earlier tests' workers may still be exiting)."""
    (pid,) = {p.pid for p in multiprocessing.active_children()} - before - {None}
    assert pid is not None
    return pid


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def _ignores_interrupts(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
    return bool(ignored & (1 << (signal.SIGINT - 1)))


def test_a_killed_training_process_loses_nothing_and_the_next_cycle_trains(
    store: StateStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx, world = _labelled(store, tmp_path)
    before = _children()
    training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test")
    os.kill(_started_since(before), signal.SIGKILL)  # as the kernel's OOM killer would
    with caplog.at_level(logging.INFO, logger="leadq"):
        result = training.finish()
    said = [r.levelno for r in caplog.records if "training process ended" in r.getMessage()]
    assert said == [logging.ERROR], "said once, as an error"
    assert result.version is None and "training process ended" in result.reason
    assert store.models(SF) == [] and _model_actions(store) == ["model_not_trained"]
    assert feedback.should_retrain(ctx, SF, NOW) is not None


def test_ctrl_c_does_not_stop_the_training_process(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, DRIFT)
    before = _children()
    training = feedback.begin_retrain(ctx, SF, trainable_world(), NOW, reason="test")
    child = _started_since(before)
    deadline = time.monotonic() + 300  # the worker starts up, then ignores SIGINT
    while not _ignores_interrupts(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    assert training.finish().version is not None and len(store.models(SF)) == 1


def test_abandoning_stops_the_worker_instead_of_waiting_for_the_fit(
    store: StateStore, tmp_path: Path
) -> None:
    ctx, world = _labelled(store, tmp_path)
    before = _children()
    training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test")
    worker = _started_since(before)
    assert training.worker is not None and training.worker.pid == worker
    training.abandon()  # a send that failed right away: the fit has not got far
    assert training.fitting is not None
    assert isinstance(training.fitting.exception(), BrokenProcessPool), "stopped, not fitted to its end"
    # The pool's own thread may reap the process first: `join` then returns before `is_alive` knows.
    deadline = time.monotonic() + 60
    while training.worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not training.worker.is_alive()
    assert store.models(SF) == [] and _model_actions(store) == []
    assert feedback.should_retrain(ctx, SF, NOW) is not None  # the stopped fit does not count


@contextmanager
def _no_new_files() -> Iterator[None]:
    """No file descriptor can be opened (EMFILE), so no worker process can be started."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.dup(0)  # a new descriptor always takes the lowest free number
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_where_no_worker_process_can_start_the_fit_runs_in_a_thread(
    store: StateStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx, world = _labelled(store, tmp_path)
    before = _children()
    with caplog.at_level(logging.WARNING, logger="leadq"), _no_new_files():
        training = feedback.begin_retrain(ctx, SF, world, NOW, reason="test")
    assert "training in a thread: no worker process could be started" in caplog.text
    assert training.worker is None and _children() == before
    result = training.finish()
    assert result.version is not None and _model_actions(store) == ["model_trained", "model_promoted"]
