"""The CHECK constraints of enumerated columns (spelled as equalities since revision 0002): the database
accepts every allowed value and refuses anything else, on a fresh database and on one upgraded from 0001
with its rows kept, and the migrated constraints are the models' own."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint, Engine, create_engine, insert, inspect, text
from sqlalchemy.exc import DataError, IntegrityError

from sync.state import StateStore, current_revision, head_revision
from sync.state.base import prepare_sqlite
from sync.state.migrate import upgrade
from sync.state.models import Base, LabelRow, LedgerRow, ModelRow, OutboxRow, ReviewTaskRow
from sync.state.records import KINDS, LABEL_SOURCES, LEDGER_STATES, MODEL_ROLES, OUTBOX_STATES, REVIEW_STATES
from tests.sync.test_state_support import BACKENDS, database_url

AT = datetime(2025, 3, 1, tzinfo=UTC)
_ids = iter(range(10**9))


def _row(table: str, column: str, value: str) -> dict[str, Any]:
    """A valid row of `table` with `column` set to `value`."""
    n = next(_ids)
    rows: dict[str, dict[str, Any]] = {
        "ledger": {"crm": "salesforce", "object": "Lead", "record_id": f"r{n}", "field": "F", "state": "planned",
                   "attempts": 0, "updated_at": AT},
        "outbox": {"crm": "salesforce", "kind": "task", "object": "Lead", "payload": {}, "state": "pending",
                   "idempotency_key": f"k{n}", "attempts": 0, "created_at": AT, "updated_at": AT},
        "review_tasks": {"crm": "salesforce", "lead_id": "00Q1", "idempotency_key": f"k{n}", "state": "open",
                         "created_at": AT},
        "labels": {"crm": "salesforce", "lead_id": "00Q1", "label": 1, "source": "outcome", "at": AT},
        "model_index": {"version": f"v{n}", "crm": "salesforce", "segment": "all", "path": "p", "created_at": AT,
                        "role": "challenger"},
    }  # fmt: skip
    return {**rows[table], column: value}


ENUMERATED = [
    (LedgerRow, "state", LEDGER_STATES),
    (OutboxRow, "state", OUTBOX_STATES),
    (OutboxRow, "kind", KINDS),
    (ReviewTaskRow, "state", REVIEW_STATES),
    (LabelRow, "source", LABEL_SOURCES),
    (ModelRow, "role", MODEL_ROLES),
]
NOT_ALLOWED = st.one_of(
    st.sampled_from(["", "Planned", "planned ", "PENDING", "'", "planned' OR 1 --", "plan\x00ned"]),
    st.text(max_size=12),
).filter(lambda v: all(v not in values for _, _, values in ENUMERATED))


def _inserts(engine: Engine, model: Any, row: dict[str, Any]) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(insert(model.__table__), row)
    except (IntegrityError, DataError):  # PostgreSQL refuses a NUL byte in text before any constraint
        return False
    return True


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=NOT_ALLOWED)
def test_each_enumerated_column_takes_its_values_and_refuses_others(
    backend: str, tmp_path_factory: pytest.TempPathFactory, bad: str
) -> None:
    with database_url(backend, tmp_path_factory.mktemp("db")) as url:
        store = StateStore.open(url)
        try:
            for model, column, values in ENUMERATED:
                table = str(model.__tablename__)
                for value in values:
                    assert _inserts(store.engine, model, _row(table, column, value)), (table, value)
                assert not _inserts(store.engine, model, _row(table, column, bad)), (table, bad)
        finally:
            store.close()


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace("(", " ").replace(")", " ")).strip().lower()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_check_constraints_are_the_models(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        store = StateStore.open(url)
        try:
            inspector = inspect(store.engine)
            for table in Base.metadata.sorted_tables:
                wanted = {
                    str(c.name): _normal(str(c.sqltext))
                    for c in table.constraints
                    if isinstance(c, CheckConstraint)
                }
                found = {
                    str(c["name"]): _normal(c["sqltext"]) for c in inspector.get_check_constraints(table.name)
                }
                if backend == "sqlite":
                    assert found == wanted, table.name
                else:  # PostgreSQL gives the expression back in its own form (an IN list as `= ANY (ARRAY[`)
                    assert set(found) == set(wanted), table.name
                    enumerated = {f"ck_{m.__tablename__}_{column}" for m, column, _ in ENUMERATED}
                    assert not any("any" in sql for name, sql in found.items() if name in enumerated), found
        finally:
            store.close()


def test_upgrading_from_0001_keeps_the_rows_and_the_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadq.db'}"
    engine = create_engine(url)
    prepare_sqlite(engine)
    upgrade(engine, "0001")
    tables = [(LedgerRow, "state", "written"), (OutboxRow, "state", "done"), (ReviewTaskRow, "state", "open"),
              (LabelRow, "source", "review"), (ModelRow, "role", "champion")]  # fmt: skip
    for model, column, value in tables:
        assert _inserts(engine, model, _row(str(model.__tablename__), column, value))

    def dump() -> tuple[dict[str, list[Any]], list[Any]]:
        with engine.connect() as conn:
            rows = {
                str(m.__tablename__): conn.execute(text(f"SELECT * FROM {m.__tablename__}")).all()
                for m, _, _ in tables
            }
            indexes = conn.execute(
                text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
            ).all()
        return {k: [tuple(r) for r in v] for k, v in rows.items()}, [tuple(r) for r in indexes]

    before = dump()
    upgrade(engine, "head")
    assert current_revision(engine) == head_revision() != "0001"
    after = dump()
    # Revision 0003 adds the ledger's link to the outbox, NULL for rows planned before it.
    assert after[0]["ledger"] == [(*row, None) for row in before[0]["ledger"]]
    assert {**after[0], "ledger": before[0]["ledger"]} == before[0] and after[1] == before[1]
    with engine.connect() as conn:
        ledger_sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ledger'")).scalar_one()
    assert "state = 'parked'" in ledger_sql and " IN (" not in ledger_sql
    assert not _inserts(engine, LedgerRow, _row("ledger", "state", "bogus"))
    engine.dispose()
