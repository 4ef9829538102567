"""Alembic environment: run by ``rctscale db upgrade`` (rctscale.store.upgrade_database).

The caller passes an open connection in ``config.attributes["connection"]``; without one
(``alembic`` run by hand with this directory as script_location) an engine is built from
``sqlalchemy.url`` the rctscale way, with the SQLite durability settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from rctscale.store.database import make_engine
from rctscale.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "postgresql":
        # Several app processes may start at once; one migrates, the others wait here.
        connection.execute(text("SELECT pg_advisory_xact_lock(7311001)"))
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as own_connection:
        run_migrations(own_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `rctscale db upgrade`")
run_migrations_online()
