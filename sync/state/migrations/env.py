"""Alembic environment: run by `sync.state.migrate.upgrade` with a live connection, or by the CLI with a URL.

Logging configuration is deliberately not touched: the daemon owns it.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine

from sync.state.columns import PortableJSON, UTCDateTime
from sync.state.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import application code that may change later; spell our types in plain
    # SQLAlchemy (see sync.state.columns for why JSON is TEXT on SQLite).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, PortableJSON):
        return 'sa.JSON().with_variant(sa.Text(), "sqlite")'
    return False


def _run(connection: Connection) -> None:
    # Batch mode lets later revisions alter columns on SQLite, which has almost no ALTER TABLE.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the connection passed in `config.attributes`, else over `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url given to the leadq migrations")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("leadq migrations run online only (StateStore.open migrates automatically)")
run_migrations_online()
