"""Initial schema: every table of the state store.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 17:02:09.898308
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=True),
        sa.Column("object", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=True),
        sa.Column("old", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("new", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at_id"), ["at", "id"], unique=False)

    op.create_table(
        "cursors",
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("crm", "object", name=op.f("pk_cursors")),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.CheckConstraint("source IN ('outcome', 'review')", name=op.f("ck_labels_source")),
        sa.CheckConstraint("label IN (0, 1)", name=op.f("ck_labels_label")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_crm_at"), ["crm", "at"], unique=False)

    op.create_table(
        "ledger",
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("old_value", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("new_value", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("written_value", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('planned', 'sent', 'written', 'rejected', 'retryable', 'parked')",
            name=op.f("ck_ledger_state"),
        ),
        sa.PrimaryKeyConstraint("crm", "object", "record_id", "field", name=op.f("pk_ledger")),
    )
    op.create_table(
        "model_index",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('champion', 'challenger', 'retired')", name=op.f("ck_model_index_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_index")),
        sa.UniqueConstraint("crm", "version", name=op.f("uq_model_index_crm_version")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('field_update', 'task', 'note')", name=op.f("ck_outbox_kind")),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'done', 'failed', 'parked')", name=op.f("ck_outbox_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_state_crm_id"), ["state", "crm", "id"], unique=False)

    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
    )
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_overrides_crm_lead_id_set_at"), ["crm", "lead_id", "set_at"], unique=False
        )

    op.create_table(
        "review_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'completed', 'escalated', 'cancelled')", name=op.f("ck_review_tasks_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_tasks")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_review_tasks_idempotency_key")),
    )
    with op.batch_alter_table("review_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_tasks_crm_lead_id"), ["crm", "lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_tasks_crm_state"), ["crm", "state"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "score_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("contributions", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_history")),
    )
    with op.batch_alter_table("score_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_score_history_crm_lead_id_scored_at"),
            ["crm", "lead_id", "scored_at"],
            unique=False,
        )

    op.create_table(
        "snapshots",
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("values", sa.JSON().with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("crm", "object", "record_id", name=op.f("pk_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
    with op.batch_alter_table("score_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_history_crm_lead_id_scored_at"))

    op.drop_table("score_history")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_started_at"))

    op.drop_table("runs")
    with op.batch_alter_table("review_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_tasks_crm_state"))
        batch_op.drop_index(batch_op.f("ix_review_tasks_crm_lead_id"))

    op.drop_table("review_tasks")
    with op.batch_alter_table("overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_overrides_crm_lead_id_set_at"))

    op.drop_table("overrides")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_state_crm_id"))

    op.drop_table("outbox")
    op.drop_table("model_index")
    op.drop_table("ledger")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_crm_at"))

    op.drop_table("labels")
    op.drop_table("cursors")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at_id"))

    op.drop_table("audit_log")
