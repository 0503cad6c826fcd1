"""The ledger names the outbox item carrying each planned value (`ledger.outbox_id`).

A field planned with an item reads as written once the item is done, so a landed send no longer rewrites
its ledger rows (~870k row updates at 100k leads). Existing rows get NULL: their stored state stays what
it says, as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A nullable column without a default: ALTER TABLE ADD COLUMN on both backends, no table copy.
    op.add_column("ledger", sa.Column("outbox_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Rows that read as written through their item would read as planned without it: settle them first.
    op.execute(
        "UPDATE ledger SET state = 'written', written_value = new_value, last_error = NULL, "
        "written_at = (SELECT o.updated_at FROM outbox o WHERE o.id = ledger.outbox_id), "
        "updated_at = (SELECT o.updated_at FROM outbox o WHERE o.id = ledger.outbox_id) "
        "WHERE state IN ('planned', 'sent', 'retryable') AND EXISTS "
        "(SELECT 1 FROM outbox o WHERE o.id = ledger.outbox_id AND o.state = 'done')"
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_column("outbox_id")
