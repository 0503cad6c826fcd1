"""When to train a challenger: no model yet and enough labels, enough new labels since the last training,
or the retrain schedule fired since it ("the last training" counts challengers that lost, and attempts this
process made that saved nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from mappings import Crm
from scoring.coldstart import label_counts, use_model
from scoring.registry import ModelRegistry
from sync.context import CycleContext
from sync.daemon import crontab_weekdays
from sync.feedback_labels import labels_after, latest_labels
from sync.state import as_utc

__all__ = ["Attempt", "forget_attempt", "registry_of", "remember_attempt", "should_retrain", "utc"]

log = logging.getLogger("leadq.feedback")
_ATTEMPT_KEY = "feedback:last_attempt:{crm}"


@dataclass(frozen=True)
class Attempt:
    """A training this process began: when, and the newest label id it could see."""

    at: datetime
    label_id: int | None  # labels with a higher id came after it; None: compare label times instead


def remember_attempt(ctx: CycleContext, crm: Crm, attempt: Attempt) -> object:
    """Remember a training begun (it counts as the last training even if it saves nothing); returns what
    was remembered before, for `forget_attempt`."""
    key = _ATTEMPT_KEY.format(crm=crm)
    before = ctx.extra.get(key)
    ctx.extra[key] = attempt
    return before


def forget_attempt(ctx: CycleContext, crm: Crm, before: object) -> None:
    """Undo `remember_attempt` (a training abandoned half way must not count: the next cycle trains)."""
    key = _ATTEMPT_KEY.format(crm=crm)
    if before is None:
        ctx.extra.pop(key, None)
    else:
        ctx.extra[key] = before


def registry_of(ctx: CycleContext, crm: Crm) -> ModelRegistry:
    """The model registry of one CRM: `<state>/<crm>/models/`."""
    return ModelRegistry(ctx.state_dir / crm)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC (a naive one is taken as UTC)."""
    return as_utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def _last_attempt(ctx: CycleContext, crm: Crm, registry: ModelRegistry) -> Attempt | None:
    """The latest training: the newest indexed model, or one this process tried that saved nothing."""
    candidates: list[Attempt] = []
    remembered = ctx.extra.get(_ATTEMPT_KEY.format(crm=crm))
    if isinstance(remembered, Attempt):
        candidates.append(remembered)
    entries = ctx.store.models(crm)
    if entries:
        newest = entries[-1]
        metrics = newest.metrics if isinstance(newest.metrics, dict) else {}
        mark = metrics.get("label_high_water")
        candidates.append(Attempt(utc(newest.created_at), int(mark) if isinstance(mark, int) else None))
    elif not candidates and (champion := registry.champion()) is not None:
        # A champion the index never saw (the store was replaced): its training time is in its metadata.
        created = datetime.fromisoformat(str(registry.metadata(champion)["created"]))
        candidates.append(Attempt(utc(created), None))
    return max(candidates, key=lambda a: a.at) if candidates else None


def _next_fire(schedule: str, after: datetime) -> datetime | None:
    """The first time the crontab `schedule` fires after `after` (machine time zone, as `schedule.cron`)."""
    minute, hour, day, month, weekday = schedule.split()
    trigger = CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(weekday)
    )
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire if isinstance(fire, datetime) else None


def should_retrain(ctx: CycleContext, crm: Crm, now: datetime) -> str | None:
    """Why to train a challenger now, or None.

    Reasons, in order: there is no model yet and the labels suffice; `scoring.retrain.every_n_labels`
    labels arrived since the last training; the `scoring.retrain.schedule` cron fired since the last
    training. "Last training" includes challengers that were not promoted, so a challenger that lost is
    not retrained every cycle on the same labels.
    """
    scoring = ctx.config.scoring
    registry = registry_of(ctx, crm)
    now = utc(now)
    last = _last_attempt(ctx, crm, registry)
    if registry.champion() is None:
        positives, negatives = label_counts(latest_labels(ctx.store, crm).values())
        if not use_model(positives, negatives, scoring):
            return None
        if last is None:
            return (
                f"no model yet and enough labels: {positives} positive and {negatives} negative "
                f"(scoring.min_labels_per_class: {scoring.min_labels_per_class})"
            )
    if last is None:
        return None
    new = labels_after(ctx.store, crm, label_id=last.label_id, at=last.at)
    every = scoring.retrain.every_n_labels
    if new >= every:
        since = f"{last.at:%Y-%m-%d %H:%M} UTC"
        return f"{new} new labels since the last training on {since} (retrain.every_n_labels: {every})"
    schedule = scoring.retrain.schedule
    if schedule is None:
        return None
    try:
        fire = _next_fire(schedule, last.at)
    except ValueError as exc:
        log.error("scoring.retrain.schedule %r cannot be used (%s); fix it in leadq.yaml", schedule, exc)
        return None
    if fire is not None and fire <= now:
        return f"scheduled retrain: retrain.schedule {schedule!r} fired at {fire.isoformat()}"
    return None
