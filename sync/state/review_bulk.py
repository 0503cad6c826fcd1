"""Set-at-a-time review task and task outcome methods of `StateStore`.

A model change can ask for review on a quarter of the leads at once (24k tasks at 100k leads): recording
the tasks, remembering the ids the CRM gave them and settling their outbox items one ORM round trip each
was most of such a cycle's write phase. These do the same in a few statements per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import cast

from sqlalchemy import Table, bindparam, insert, update

from sync.state.bulk_exec import ExecMixin, column
from sync.state.columns import Columns, JSONValue, Same
from sync.state.models import OutboxRow, ReviewTaskRow


@dataclass(frozen=True)
class NewReviewTask:
    """A review task to record (state `open`), as `add_review_task` takes it."""

    lead_id: str
    idempotency_key: str
    reviewer: str | None = None
    due: datetime | None = None
    detail: JSONValue = None


class ReviewBulkMixin(ExecMixin):
    """Many review tasks, their CRM ids and their outbox outcomes in a few statements."""

    def add_review_tasks(self, crm: str, tasks: Sequence[NewReviewTask]) -> int:
        """`add_review_task` for many: each key not recorded yet becomes an open task (the first of a key
        given twice wins); returns how many were added."""
        new = self._unstored(ReviewTaskRow.idempotency_key, tasks)
        if not new:
            return 0
        columns: Columns = {
            name: column(new, attrgetter(name))
            for name in ("lead_id", "idempotency_key", "reviewer", "detail")
        }
        columns |= {
            "crm": Same(crm),
            "due": [None if t.due is None else self._at(t.due) for t in new],
            "state": Same("open"),
            "task_id": Same(None),
            "created_at": Same(self.now()),
        }
        self._execute_columns(insert(cast(Table, ReviewTaskRow.__table__)), columns)
        return len(new)

    def set_review_task_ids(self, created: Sequence[tuple[str, str]]) -> None:
        """Remember the CRM ids of sent review tasks, as (idempotency key, task id); keys of no review task
        (notes, drift alerts) match nothing and are ignored."""
        if not created:
            return
        table = cast(Table, ReviewTaskRow.__table__)
        statement = (
            update(table)
            .where(table.c.idempotency_key == bindparam("b_key"))
            .values(task_id=bindparam("b_task_id", type_=table.c.task_id.type))
        )
        self._execute_columns(
            statement, {"b_key": column(created, itemgetter(0)), "b_task_id": column(created, itemgetter(1))}
        )

    def mark_done_with_results(self, done: Sequence[tuple[int, JSONValue]]) -> None:
        """`mark_done(item_id, result)` for many sent items, as (item id, result)."""
        if not done:
            return
        table = cast(Table, OutboxRow.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                state="done",
                last_error=None,
                result=bindparam("b_result", type_=table.c.result.type),
                updated_at=self.now(),
            )
        )
        self._execute_columns(
            statement, {"b_id": column(done, itemgetter(0)), "b_result": column(done, itemgetter(1))}
        )
