"""Engines and migrations.

SQLite (the default, a file ``rctscale.db`` in the working directory) runs in WAL mode with
``synchronous=FULL``: a response acknowledged to the browser has reached the disk and
survives a crash or a power cut. Write transactions start with ``BEGIN IMMEDIATE`` so two
concurrent writers queue on the busy timeout instead of failing on a lock upgrade.
PostgreSQL (``postgresql+psycopg://...``) is for several app processes sharing one database.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from rctscale.errors import RctscaleError

DEFAULT_DATABASE_URL = "sqlite:///rctscale.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def database_url_from_env(database_url: str | None = None) -> str:
    """The URL given, else ``RCTSCALE_DATABASE_URL``, else ``rctscale.db`` in the working directory."""
    return database_url or os.environ.get("RCTSCALE_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(database_url: str | None = None, *, pool_size: int = 10) -> Engine:
    url = make_url(database_url_from_env(database_url))
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _make_sqlite_durable(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    raise RctscaleError(f"database URL scheme '{url.drivername}' is not supported; use sqlite:///PATH or "
                        "postgresql+psycopg://USER@HOST/DB")


def _make_sqlite_durable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling would defer BEGIN; take it over (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(database_url: str | None = None):  # type: ignore[no-untyped-def]
    """An Alembic Config built in code: the scripts ship inside the package, no alembic.ini needed."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", database_url_from_env(database_url).replace("%", "%%"))
    return config


def upgrade_database(database_url: str | None = None, revision: str = "head") -> str:
    """Bring the database schema to ``revision`` (creating it when empty); return the revision reached."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        config = alembic_config(database_url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        with engine.connect() as connection:
            return str(MigrationContext.configure(connection).get_current_revision())
    finally:
        engine.dispose()


def schema_is_current(engine: Engine) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
