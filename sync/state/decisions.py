"""The decision side of the state store: audit log, review tasks, overrides, labels, models, score history."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from sync.state.base import StoreBase, to_record
from sync.state.columns import JSONValue
from sync.state.models import AuditRow, LabelRow, ModelRow, OverrideRow, ReviewTaskRow, ScoreRow
from sync.state.records import (
    Label,
    LabelSource,
    ModelEntry,
    ModelRole,
    Override,
    ReviewState,
    ReviewTask,
    ScoreRecord,
)

AUDIT_FIELDS = (
    "id",
    "at",
    "actor",
    "crm",
    "object",
    "record_id",
    "action",
    "field",
    "old",
    "new",
    "model_version",
    "policy_version",
    "detail",
)


class DecisionsMixin(StoreBase):
    """Audit, review, override, label, model-index and score-history methods of `StateStore`."""

    # ---- audit log (append-only: there is no update or delete method) ------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        crm: str | None = None,
        obj: str | None = None,
        record_id: str | None = None,
        field: str | None = None,
        old: JSONValue = None,
        new: JSONValue = None,
        model_version: str | None = None,
        policy_version: str | None = None,
        detail: JSONValue = None,
        at: datetime | None = None,
    ) -> int:
        """Append one audit entry; `actor` is `leadq`, a person's CRM user id, or a reviewer. Returns its id."""
        row = AuditRow(
            at=self._at(at),
            actor=actor,
            crm=crm,
            object=obj,
            record_id=record_id,
            action=action,
            field=field,
            old=old,
            new=new,
            model_version=model_version,
            policy_version=policy_version,
            detail=detail,
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            return row.id

    def audit_export(self, since: datetime | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Audit entries at or after `since` (all if None), oldest first, as plain dicts.

        Reads in pages of `batch` by (at, id) so a long export holds no transaction open between pages.
        """
        last: tuple[datetime, int] | None = None
        lower = None if since is None else self._at(since)
        while True:
            query = select(AuditRow).order_by(AuditRow.at, AuditRow.id).limit(batch)
            if lower is not None:
                query = query.where(AuditRow.at >= lower)
            if last is not None:
                query = query.where(
                    or_(AuditRow.at > last[0], (AuditRow.at == last[0]) & (AuditRow.id > last[1]))
                )
            with self.session() as s:
                page = [{name: getattr(row, name) for name in AUDIT_FIELDS} for row in s.scalars(query)]
            yield from page
            if len(page) < batch:
                return
            last = (page[-1]["at"], page[-1]["id"])

    # ---- review tasks --------------------------------------------------------------------------------

    def add_review_task(
        self,
        crm: str,
        lead_id: str,
        idempotency_key: str,
        *,
        reviewer: str | None = None,
        due: datetime | None = None,
        detail: JSONValue = None,
        task_id: str | None = None,
    ) -> ReviewTask:
        """Record a review task (state `open`) unless one with `idempotency_key` exists; returns it either way."""
        with self.session() as s:
            existing = s.scalars(
                select(ReviewTaskRow).where(ReviewTaskRow.idempotency_key == idempotency_key)
            ).first()
            if existing is not None:
                return to_record(ReviewTask, existing)
            row = ReviewTaskRow(
                crm=crm,
                lead_id=lead_id,
                idempotency_key=idempotency_key,
                reviewer=reviewer,
                due=None if due is None else self._at(due),
                detail=detail,
                task_id=task_id,
                state="open",
                created_at=self.now(),
            )
            s.add(row)
            s.flush()
            return to_record(ReviewTask, row)

    def update_review_task(
        self,
        idempotency_key: str,
        *,
        task_id: str | None = None,
        state: ReviewState | None = None,
        decision: str | None = None,
        decided_at: datetime | None = None,
        reviewer: str | None = None,
        due: datetime | None = None,
    ) -> ReviewTask:
        """Set the given attributes of a review task (None leaves one unchanged); `KeyError` if unknown."""
        with self.session() as s:
            row = s.scalars(
                select(ReviewTaskRow).where(ReviewTaskRow.idempotency_key == idempotency_key)
            ).first()
            if row is None:
                raise KeyError(idempotency_key)
            if task_id is not None:
                row.task_id = task_id
            if state is not None:
                row.state = state
            if decision is not None:
                row.decision = decision
            if decided_at is not None:
                row.decided_at = self._at(decided_at)
            if reviewer is not None:
                row.reviewer = reviewer
            if due is not None:
                row.due = self._at(due)
            s.flush()
            return to_record(ReviewTask, row)

    def review_task(self, idempotency_key: str) -> ReviewTask | None:
        """One review task by idempotency key."""
        with self.session() as s:
            row = s.scalars(
                select(ReviewTaskRow).where(ReviewTaskRow.idempotency_key == idempotency_key)
            ).first()
            return None if row is None else to_record(ReviewTask, row)

    def review_tasks(
        self, crm: str, state: ReviewState | None = None, lead_id: str | None = None
    ) -> list[ReviewTask]:
        """Review tasks of a CRM, optionally only in `state` or of one lead, oldest first."""
        query = select(ReviewTaskRow).where(ReviewTaskRow.crm == crm)
        if state is not None:
            query = query.where(ReviewTaskRow.state == state)
        if lead_id is not None:
            query = query.where(ReviewTaskRow.lead_id == lead_id)
        with self.session() as s:
            return [to_record(ReviewTask, row) for row in s.scalars(query.order_by(ReviewTaskRow.id))]

    def has_review_tasks(self, crm: str, states: Sequence[str]) -> bool:
        """Whether a CRM has any review task in one of `states`."""
        query = select(ReviewTaskRow.id).where(
            ReviewTaskRow.crm == crm, ReviewTaskRow.state.in_(list(states))
        )
        with self.session() as s:
            return s.scalar(query.limit(1)) is not None

    # ---- overrides ---------------------------------------------------------------------------------

    def set_override(
        self,
        crm: str,
        lead_id: str,
        score: int,
        set_by: str,
        *,
        expires_at: datetime | None = None,
        set_at: datetime | None = None,
    ) -> Override:
        """Record a reviewer's score override (None `expires_at`: until cleared)."""
        row = OverrideRow(
            crm=crm,
            lead_id=lead_id,
            score=score,
            set_by=set_by,
            set_at=self._at(set_at),
            expires_at=None if expires_at is None else self._at(expires_at),
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            return to_record(Override, row)

    def clear_override(self, crm: str, lead_id: str, at: datetime | None = None) -> int:
        """Clear every uncleared override of a lead; returns how many were cleared."""
        when = self._at(at)
        query = select(OverrideRow).where(
            OverrideRow.crm == crm, OverrideRow.lead_id == lead_id, OverrideRow.cleared_at.is_(None)
        )
        with self.session() as s:
            rows = list(s.scalars(query))
            for row in rows:
                row.cleared_at = when
            return len(rows)

    def active_override(self, crm: str, lead_id: str, now: datetime | None = None) -> Override | None:
        """The most recently set override of a lead that is neither cleared nor expired at `now`."""
        when = self._at(now)
        query = (
            select(OverrideRow)
            .where(
                OverrideRow.crm == crm,
                OverrideRow.lead_id == lead_id,
                OverrideRow.cleared_at.is_(None),
                OverrideRow.set_at <= when,
                or_(OverrideRow.expires_at.is_(None), OverrideRow.expires_at > when),
            )
            .order_by(OverrideRow.set_at.desc(), OverrideRow.id.desc())
            .limit(1)
        )
        with self.session() as s:
            row = s.scalars(query).first()
            return None if row is None else to_record(Override, row)

    # ---- labels ------------------------------------------------------------------------------------

    def add_label(
        self,
        crm: str,
        lead_id: str,
        label: int,
        source: LabelSource,
        *,
        detail: JSONValue = None,
        at: datetime | None = None,
    ) -> Label:
        """Record a training label (1 qualified, 0 not) from an outcome or a review decision."""
        if label not in (0, 1):
            raise ValueError(f"label must be 0 or 1, not {label!r}")
        row = LabelRow(crm=crm, lead_id=lead_id, label=label, source=source, at=self._at(at), detail=detail)
        with self.session() as s:
            s.add(row)
            s.flush()
            return to_record(Label, row)

    def labels(self, crm: str, since: datetime | None = None) -> list[Label]:
        """Labels of a CRM (at or after `since`), oldest first."""
        query = select(LabelRow).where(LabelRow.crm == crm)
        if since is not None:
            query = query.where(LabelRow.at >= self._at(since))
        with self.session() as s:
            return [to_record(Label, row) for row in s.scalars(query.order_by(LabelRow.at, LabelRow.id))]

    # ---- model index -------------------------------------------------------------------------------

    def register_model(
        self,
        version: str,
        crm: str,
        segment: str,
        path: str,
        *,
        role: ModelRole = "challenger",
        metrics: JSONValue = None,
        created_at: datetime | None = None,
    ) -> ModelEntry:
        """Index a model artifact the scoring package stored at `path`."""
        row = ModelRow(
            version=version,
            crm=crm,
            segment=segment,
            path=path,
            role=role,
            metrics=metrics,
            created_at=self._at(created_at),
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            return to_record(ModelEntry, row)

    def set_model_role(
        self, crm: str, version: str, role: ModelRole, at: datetime | None = None
    ) -> ModelEntry:
        """Change a model's role; becoming `champion` stamps `promoted_at`. Demoting the previous champion
        is the caller's decision (do both in one `transaction()`)."""
        with self.session() as s:
            row = s.scalars(select(ModelRow).where(ModelRow.crm == crm, ModelRow.version == version)).first()
            if row is None:
                raise KeyError((crm, version))
            row.role = role
            if role == "champion":
                row.promoted_at = self._at(at)
            s.flush()
            return to_record(ModelEntry, row)

    def models(
        self, crm: str | None = None, *, role: ModelRole | None = None, segment: str | None = None
    ) -> list[ModelEntry]:
        """Indexed models, oldest first, filtered by CRM, role and segment when given."""
        query = select(ModelRow)
        if crm is not None:
            query = query.where(ModelRow.crm == crm)
        if role is not None:
            query = query.where(ModelRow.role == role)
        if segment is not None:
            query = query.where(ModelRow.segment == segment)
        with self.session() as s:
            return [to_record(ModelEntry, row) for row in s.scalars(query.order_by(ModelRow.id))]

    def champion(self, crm: str, segment: str) -> ModelEntry | None:
        """The most recently promoted champion of a CRM segment."""
        query = (
            select(ModelRow)
            .where(ModelRow.crm == crm, ModelRow.segment == segment, ModelRow.role == "champion")
            .order_by(ModelRow.promoted_at.desc(), ModelRow.id.desc())
            .limit(1)
        )
        with self.session() as s:
            row = s.scalars(query).first()
            return None if row is None else to_record(ModelEntry, row)

    # ---- score history -----------------------------------------------------------------------------

    def add_scores(self, scores: list[ScoreRecord]) -> None:
        """Append scores to the history (a NaN or infinite probability is refused: `check_probabilities`)."""
        check_probabilities([score.probability for score in scores], scores)
        rows = [
            ScoreRow(**{**_score_fields(score), "scored_at": self._at(score.scored_at)}) for score in scores
        ]
        with self.session() as s:
            s.add_all(rows)

    def score_history(self, crm: str, lead_id: str, limit: int | None = None) -> list[ScoreRecord]:
        """A lead's scores, newest first (at most `limit`)."""
        query = (
            select(ScoreRow)
            .where(ScoreRow.crm == crm, ScoreRow.lead_id == lead_id)
            .order_by(ScoreRow.scored_at.desc(), ScoreRow.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self.session() as s:
            return [to_record(ScoreRecord, row) for row in s.scalars(query)]


def _score_fields(score: ScoreRecord) -> dict[str, Any]:
    return {name: getattr(score, name) for name in ScoreRecord.__dataclass_fields__}


def check_probabilities(probabilities: Sequence[float | None], scores: Sequence[ScoreRecord]) -> None:
    """Refuse a NaN or infinite score probability, naming the lead (None means "no probability")."""
    for probability, score in zip(probabilities, scores, strict=True):
        if probability is not None and not math.isfinite(probability):
            raise ValueError(
                f"score of lead {score.lead_id} ({score.crm}) has probability {probability!r}; a probability "
                "must be a finite number or None: fix the scorer's output before storing it"
            )
