"""Scoring, schedule and state sections of leadq.yaml (review: `mappings.config.review`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mappings.config.base import Name, NonEmptyStr, StrictModel, invalid, unique
from mappings.config.review import EMAIL, SF_USER_ID

_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?\-]+")


class Tiers(StrictModel):
    """Lowest score of each tier; below C is D."""

    A: int = Field(default=80, ge=1, le=100)
    B: int = Field(default=60, ge=1, le=100)
    C: int = Field(default=40, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not self.A > self.B > self.C:
            raise invalid(
                f"tier cut-offs must fall from A to C, got A {self.A}, B {self.B}, C {self.C}",
                "e.g. A: 80, B: 60, C: 40",
            )
        return self

    def tier(self, score: float) -> Literal["A", "B", "C", "D"]:
        """The tier of a 0-100 score."""
        if score >= self.A:
            return "A"
        if score >= self.B:
            return "B"
        return "C" if score >= self.C else "D"


class Decay(StrictModel):
    """Score decay for inactivity: after `after_days` without activity the score's distance above `floor`
    halves every `half_life_days`."""

    enabled: bool = True
    half_life_days: float = Field(default=30, gt=0)
    after_days: float = Field(default=14, ge=0)
    floor: float = Field(default=0, ge=0, le=100)


class DecayOverride(StrictModel):
    """A segment's changes to the scoring-wide `decay` (keys left out keep the scoring-wide value)."""

    enabled: bool | None = None
    half_life_days: float | None = Field(default=None, gt=0)
    after_days: float | None = Field(default=None, ge=0)
    floor: float | None = Field(default=None, ge=0, le=100)

    def over(self, base: Decay | None) -> Decay:
        """`base` (or the defaults) with this override's keys applied."""
        return (base or Decay()).model_copy(update=self.model_dump(exclude_none=True))


class Segment(StrictModel):
    """A named slice of leads (its own model, thresholds and decay), chosen by an expression."""

    name: Name
    when: NonEmptyStr
    decay: DecayOverride | None = None


ACCOUNT_OWNER = "account_owner"
LEAD_OWNER = "owner"
POOL_PREFIX = "pool:"


def pool_name(target: str) -> str | None:
    """The pool a `pool:<name>` target names, else None."""
    return target[len(POOL_PREFIX) :].strip() if target.startswith(POOL_PREFIX) else None


class Policy(StrictModel):
    """A deterministic rule applied after the model; `when` is parsed by the scoring package.

    `target` of a route policy: `account_owner` (the matched account's owner), `owner` (the lead's
    current owner), `pool:<name>` (round robin over a pool of `scoring.routing.pools`), or an owner's
    id or email. A review policy may name its reviewer as `target`.
    """

    name: Name
    when: NonEmptyStr
    action: Literal["route", "review", "nurture", "disqualify"]
    target: NonEmptyStr | None = None
    reason: NonEmptyStr
    priority: int = 100

    @model_validator(mode="after")
    def _target(self) -> Policy:
        if self.action == "route" and self.target is None:
            raise invalid(
                "a route policy needs a target",
                "add target: account_owner, owner, pool:<name>, or an owner's id or email",
            )
        if self.action in ("nurture", "disqualify") and self.target is not None:
            raise invalid(
                f"a {self.action} policy takes no target",
                "remove target:, or use action: route",
                at=("target",),
            )
        return self


class Pool(StrictModel):
    """Owners that share leads round robin; nobody gets more than `cap` open leads (`caps` per owner)."""

    owners: tuple[NonEmptyStr, ...] = Field(min_length=1)
    cap: int | None = Field(default=None, ge=1)
    caps: dict[NonEmptyStr, int] = Field(default_factory=dict)

    @field_validator("owners")
    @classmethod
    def _distinct(cls, owners: tuple[str, ...]) -> tuple[str, ...]:
        unique(owners, "owner")
        return owners

    @model_validator(mode="after")
    def _known_caps(self) -> Pool:
        for owner, cap in self.caps.items():
            if owner not in self.owners:
                raise invalid(
                    f"caps names {owner!r}, who is not in this pool's owners",
                    "add the owner to owners: or remove the cap",
                    at=("caps", owner),
                )
            if cap < 1:
                raise invalid(
                    f"cap {cap} of {owner!r} is below 1", "write a cap of 1 or more", at=("caps", owner)
                )
        return self

    def cap_of(self, owner: str) -> int | None:
        """The most open leads `owner` may hold (None: no limit)."""
        return self.caps.get(owner, self.cap)


def _check_target(target: str, pools: dict[str, Pool], at: tuple[str | int, ...]) -> None:
    name = pool_name(target)
    if name is not None and name not in pools:
        known = ", ".join(sorted(pools)) or "none are defined"
        raise invalid(
            f"{target!r} names an unknown pool (pools: {known})",
            "define it under scoring.routing.pools, or fix the name",
            at=at,
        )


class Routing(StrictModel):
    """Where routed leads go: the model's `default` target, a `fallback` when an owner is unknown, pools."""

    default: NonEmptyStr = ACCOUNT_OWNER
    fallback: NonEmptyStr | None = None
    pools: dict[Name, Pool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _targets(self) -> Routing:
        _check_target(self.default, self.pools, ("default",))
        if self.fallback is not None:
            _check_target(self.fallback, self.pools, ("fallback",))
            if self.fallback in (ACCOUNT_OWNER, LEAD_OWNER):
                raise invalid(
                    f"fallback {self.fallback!r} may itself be unknown",
                    "write pool:<name> or an owner's id or email",
                    at=("fallback",),
                )
        return self


ModelAction = Literal["route", "nurture", "disqualify", "none"]


class TierActions(StrictModel):
    """What the model recommends for each tier when no policy decides otherwise."""

    A: ModelAction = "route"
    B: ModelAction = "route"
    C: ModelAction = "nurture"
    D: ModelAction = "nurture"


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
        raise invalid(
            f"{value!r} is not a cron expression",
            "write five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * 0'",
        )
    return value


class Retrain(StrictModel):
    """When to train a challenger model."""

    every_n_labels: int = Field(default=100, ge=1)
    schedule: str | None = "0 3 * * 0"

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _cron(value) if value is not None else None


def _owner_id(value: str | None, id_pattern: re.Pattern[str], what: str) -> str | None:
    if value is not None and not id_pattern.fullmatch(value):
        hint = " (an email cannot own a CRM task)" if EMAIL.fullmatch(value) else ""
        raise invalid(f"{value!r} is not a {what}{hint}", f"write the admin's {what}, or leave it out")
    return value


class DriftAdmin(StrictModel):
    """Who gets a CRM task when scores drift beyond `psi_alert`, per CRM (left out: no task, only the log,
    the audit entry and the metric). Owner ids, not emails: the id becomes the task's owner."""

    salesforce: NonEmptyStr | None = None
    hubspot: NonEmptyStr | None = None

    @field_validator("salesforce")
    @classmethod
    def _salesforce(cls, value: str | None) -> str | None:
        return _owner_id(value, SF_USER_ID, "Salesforce user id (005...)")

    @field_validator("hubspot")
    @classmethod
    def _hubspot(cls, value: str | None) -> str | None:
        return _owner_id(value, re.compile(r"\d{1,20}"), "HubSpot owner id")

    def for_crm(self, crm: str) -> str | None:
        """The admin of `crm`, or None."""
        return self.salesforce if crm == "salesforce" else self.hubspot if crm == "hubspot" else None


class Drift(StrictModel):
    """Population stability thresholds on features and scores, and the admin told when they are passed."""

    psi_warn: float = Field(default=0.1, gt=0)
    psi_alert: float = Field(default=0.25, gt=0)
    min_auc: float = Field(default=0.6, gt=0.5, le=1)
    admin: DriftAdmin = DriftAdmin()

    @model_validator(mode="after")
    def _ordered(self) -> Drift:
        if self.psi_alert <= self.psi_warn:
            raise invalid("psi_alert must be above psi_warn", "e.g. psi_warn: 0.1, psi_alert: 0.25")
        return self


class ScoringConfig(StrictModel):
    """Tiers, training thresholds, segments, policies, the model's actions, routing, decay, retraining
    and drift."""

    tiers: Tiers = Tiers()
    min_labels_per_class: int = Field(default=200, ge=1)
    segments: tuple[Segment, ...] = ()
    policies: tuple[Policy, ...] = ()
    actions: TierActions = TierActions()
    routing: Routing = Routing()
    decay: Decay | None = None
    retrain: Retrain = Retrain()
    drift: Drift = Drift()

    @field_validator("segments", "policies")
    @classmethod
    def _unique(cls, items: tuple[Segment | Policy, ...]) -> tuple[Segment | Policy, ...]:
        unique([item.name for item in items], "name", key="name")
        return items

    @model_validator(mode="after")
    def _pools_exist(self) -> ScoringConfig:
        for index, policy in enumerate(self.policies):
            if policy.action == "route" and policy.target is not None:
                _check_target(policy.target, self.routing.pools, ("policies", index, "target"))
        return self

    def decay_for(self, segment: str | None) -> Decay | None:
        """The decay settings of leads in `segment` (None: scores do not decay)."""
        override = next((s.decay for s in self.segments if s.name == segment), None)
        if override is not None:
            return override.over(self.decay)
        return self.decay


class ScheduleConfig(StrictModel):
    """How often a sync cycle runs: every `interval_minutes`, or on a `cron` expression."""

    interval_minutes: int | None = Field(default=15, ge=1, le=24 * 60)
    cron: str | None = None
    jitter_seconds: int = Field(default=30, ge=0)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return _cron(value) if value is not None else None

    @model_validator(mode="before")
    @classmethod
    def _every_quarter_hour(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("interval_minutes") is None and data.get("cron") is None:
            return {**data, "interval_minutes": 15}
        return data

    @model_validator(mode="after")
    def _one(self) -> ScheduleConfig:
        if self.interval_minutes is not None and self.cron is not None:
            raise invalid("both interval_minutes and cron are set", "keep only one of the two")
        return self


DEFAULT_STATE_FILE = "leadq.db"


class StateConfig(StrictModel):
    """Where leadq keeps cursors, the outbox and history: a SQLAlchemy URL (SQLite next to the config)."""

    url: str = f"sqlite:///{DEFAULT_STATE_FILE}"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if "://" not in value:
            raise invalid(
                f"{value!r} is not a database URL", "write e.g. sqlite:///leadq.db or postgresql://..."
            )
        base = (info.context or {}).get("base_dir")
        prefix = "sqlite:///"
        path = value[len(prefix) :] if value.startswith(prefix) else None
        # A relative SQLite path would otherwise depend on the folder leadq happens to be started from.
        if path and path != ":memory:" and not Path(path).is_absolute() and isinstance(base, Path):
            value = prefix + str(base / path)
        return value
