"""Fixtures for the web and store tests: databases (SQLite always, PostgreSQL when provided), apps, clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from webtools import POSTGRES_MISSING, new_client, skip_or_fail

from rctscale.store import Repository, make_engine, upgrade_database
from rctscale.web import create_app


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rctscale-test.db'}"


@pytest.fixture()
def postgres_url() -> str:
    url = os.environ.get("RCTSCALE_TEST_POSTGRES_URL")
    if not url:
        skip_or_fail(POSTGRES_MISSING)
    reset_postgres(url)  # type: ignore[arg-type]
    return url  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture()
def migrated_url(database_url: str) -> str:
    upgrade_database(database_url)
    return database_url


@pytest.fixture()
def repository(migrated_url: str) -> Iterator[Repository]:
    from rctscale.store import make_engine

    store = Repository(make_engine(migrated_url))
    yield store
    store.engine.dispose()


@pytest.fixture()
def app(sqlite_url: str) -> Iterator[FastAPI]:
    upgrade_database(sqlite_url)
    application = create_app(sqlite_url, secure_cookies=True)
    yield application
    application.state.repository.engine.dispose()


@pytest.fixture()
def any_db_app(migrated_url: str) -> Iterator[FastAPI]:
    application = create_app(migrated_url, secure_cookies=True)
    yield application
    application.state.repository.engine.dispose()


@pytest.fixture()
def client(app: FastAPI) -> TestClient:
    return new_client(app)


