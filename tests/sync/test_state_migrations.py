"""The schema comes from the packaged Alembic revisions, and they match the models exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from sync.state import StateStore, current_revision, default_url, head_revision
from sync.state.migrate import MIGRATIONS
from sync.state.models import Base
from tests.sync.test_state_support import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_migrates_a_fresh_database_to_head(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        store = StateStore.open(url)
        try:
            assert head_revision() is not None
            assert current_revision(store.engine) == head_revision()
            tables = set(inspect(store.engine).get_table_names())
            assert set(Base.metadata.tables) | {"alembic_version"} == tables
        finally:
            store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_equals_the_models(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        store = StateStore.open(url)
        try:
            with store.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, Base.metadata)
            assert diff == []
            # The comparison does see differences: against empty metadata every table is extra.
            with store.engine.connect() as conn:
                context = MigrationContext.configure(conn)
                assert len(compare_metadata(context, MetaData())) >= len(Base.metadata.tables)
        finally:
            store.close()


def test_opening_twice_is_a_no_op_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadq.db'}"
    first = StateStore.open(url)
    first.set_cursor("salesforce", "Lead", {"value": "2025-01-01T00:00:00Z"})
    first.close()
    second = StateStore.open(url)
    try:
        assert second.get_cursor("salesforce", "Lead") == {"value": "2025-01-01T00:00:00Z"}
        assert current_revision(second.engine) == head_revision()
    finally:
        second.close()


def test_migrate_false_leaves_the_database_empty(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}", migrate=False)
    try:
        assert current_revision(store.engine) is None
        assert inspect(store.engine).get_table_names() == []
    finally:
        store.close()


def test_default_url_is_a_sqlite_file_next_to_the_config(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "leadq.yaml"
    url = default_url(config)
    assert url == f"sqlite:///{(tmp_path / 'conf' / 'leadq.db').resolve()}"
    engine = create_engine(url)
    assert engine.url.database is not None
    assert Path(engine.url.database).parent == (tmp_path / "conf").resolve()


def test_migrations_ship_as_a_package() -> None:
    # Python modules inside packages are included in the wheel by setuptools' package discovery.
    assert (MIGRATIONS / "__init__.py").is_file()
    assert (MIGRATIONS / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS / "env.py").is_file()
    assert any(MIGRATIONS.joinpath("versions").glob("0001_*.py"))
