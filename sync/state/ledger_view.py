"""How a ledger row reads: its stored state, or `written` through the outbox item that carried its plan.

A planned field names its outbox item (`ledger.outbox_id`). When the item is done the field's value
landed, and the row reads as `written` with `new_value` as the written value, the item's last update as
the time, and no error, without the row being rewritten: at 100k leads that is ~870k row updates a full
cycle no longer makes. Only rows still waiting on their item read this way (`planned`, `sent`,
`retryable`): a field parked (a person changed it) or written by a statement of its own says so itself.

Every statement that moves a row on first folds what its item says into the row (`folded`), so the last
value that landed is never lost when the row is planned again or parked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Table,
    and_,
    case,
    exists,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from sync.state.models import LedgerRow, OutboxRow
from sync.state.records import LedgerEntry

WAITING = ("planned", "sent", "retryable")
"""Ledger states in which a row reads through its outbox item."""

LEDGER: Table = LedgerRow.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


def joined() -> FromClause:
    """The ledger with each row's outbox item (if any) beside it."""
    return LEDGER.outerjoin(OUTBOX, OUTBOX.c.id == LEDGER.c.outbox_id)


def waiting() -> ColumnElement[bool]:
    """The row's state is one of `WAITING`: spelled as constants in the SQL text, so that one statement
    serves an executemany (an expanding IN parameter cannot)."""
    return or_(*(LEDGER.c.state == literal_column(f"'{state}'") for state in WAITING))


def item_done() -> ColumnElement[bool]:
    """The outbox item beside the row (in a join, or a subquery over the outbox) is done."""
    return OUTBOX.c.state == literal_column("'done'")


def _landed_through_item() -> ColumnElement[bool]:
    """In a read over `joined()`: the row waits on an item that is done."""
    return and_(waiting(), item_done())


def entry_columns() -> list[ColumnElement[Any]]:
    """The columns of a `LedgerEntry`, in its field order, as the row reads (select them from `joined()`)."""
    landed = _landed_through_item()
    derived: dict[str, ColumnElement[Any]] = {
        "state": case((landed, literal_column("'written'")), else_=LEDGER.c.state),
        "written_value": case((landed, LEDGER.c.new_value), else_=LEDGER.c.written_value),
        "written_at": case((landed, OUTBOX.c.updated_at), else_=LEDGER.c.written_at),
        "last_error": case((landed, None), else_=LEDGER.c.last_error),
        "updated_at": case((landed, OUTBOX.c.updated_at), else_=LEDGER.c.updated_at),
    }
    columns: list[ColumnElement[Any]] = []
    for name in LedgerEntry._fields:
        column: KeyedColumnElement[Any] = LEDGER.c[name]
        if name in derived:
            # Each read with its column's own type, so a cell reads back as the stored column would.
            columns.append(type_coerce(derived[name], column.type).label(name))
        else:
            columns.append(column)
    return columns


# The changed row's item, named by the table's own name: inside an upsert's SET a subquery over the
# `ledger` Table would get a FROM of its own (SQLAlchemy correlates only to a SELECT or UPDATE around it)
# and look at every row of the ledger instead of the one being changed.
_THIS_ROW_ITEM: ColumnElement[int] = literal_column(f"{LEDGER.name}.outbox_id", Integer())


def _landed_in_place() -> ColumnElement[bool]:
    """In a statement over the ledger alone (UPDATE, upsert): the existing row waits on a done item."""
    done = exists(select(OUTBOX.c.id).where(OUTBOX.c.id == _THIS_ROW_ITEM, item_done()))
    return and_(waiting(), done)


def folded() -> dict[str, ColumnElement[Any]]:
    """SET clauses that keep what the row's item says landed (the written value and when), for any UPDATE
    or upsert that moves a row on: the right-hand sides see the row as it was."""
    landed = _landed_in_place()
    item_time = select(OUTBOX.c.updated_at).where(OUTBOX.c.id == _THIS_ROW_ITEM).scalar_subquery()
    return {
        "written_value": type_coerce(
            case((landed, LEDGER.c.new_value), else_=LEDGER.c.written_value), LEDGER.c.written_value.type
        ),
        "written_at": type_coerce(
            case((landed, item_time), else_=LEDGER.c.written_at), LEDGER.c.written_at.type
        ),
    }
