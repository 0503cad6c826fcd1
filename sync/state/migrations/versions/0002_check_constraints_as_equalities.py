"""CHECK constraints of enumerated columns spelled as equalities joined by OR instead of `IN (...)`.

SQLite evaluates a CHECK's `IN` list of more than two constants by building a temporary index of the list,
once per statement execution, which an executemany repeats for every row: it was about half the cost of
inserting a ledger or outbox row. The two spellings accept exactly the same values (the columns are NOT
NULL strings), so no stored row changes. SQLite cannot alter a constraint in place: batch mode copies each
table; PostgreSQL drops and adds the constraint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:55:00.000000
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# (table, column, allowed values) as revision 0001 created them.
_ENUMERATED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ledger", "state", ("planned", "sent", "written", "rejected", "retryable", "parked")),
    ("outbox", "kind", ("field_update", "task", "note")),
    ("outbox", "state", ("pending", "sent", "done", "failed", "parked")),
    ("review_tasks", "state", ("open", "completed", "escalated", "cancelled")),
    ("labels", "source", ("outcome", "review")),
    ("model_index", "role", ("champion", "challenger", "retired")),
)


def _equalities(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{v}'" for v in values)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _rewrite(spell: str) -> None:
    tables = dict.fromkeys(table for table, _, _ in _ENUMERATED)
    for table in tables:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, values in ((t, c, v) for t, c, v in _ENUMERATED if t == table):
                constraint = op.f(f"ck_{name}_{column}")  # the final name: no naming convention again
                condition = _equalities(column, values) if spell == "or" else _in_list(column, values)
                batch_op.drop_constraint(constraint, type_="check")
                batch_op.create_check_constraint(constraint, condition)


def upgrade() -> None:
    _rewrite("or")


def downgrade() -> None:
    _rewrite("in")
