"""Storage of administrations, invitations, responses, staff users and the audit log.

SQLAlchemy 2 models (:mod:`rctscale.store.models`), the engine set-up that makes an
acknowledged answer durable (:mod:`rctscale.store.database`), Alembic migrations shipped in
``migrations/`` and one repository class with every query the web and the CLI need
(:mod:`rctscale.store.repository`). Imports nothing of the project but the bank and errors.
"""

from rctscale.store.credentials import hash_password, hash_token, new_token, verify_password
from rctscale.store.database import DEFAULT_DATABASE_URL, database_url_from_env, make_engine, upgrade_database
from rctscale.store.repository import LinkState, Repository, StoreError

__all__ = [
    "DEFAULT_DATABASE_URL", "LinkState", "Repository", "StoreError", "database_url_from_env", "hash_password",
    "hash_token", "make_engine", "new_token", "upgrade_database", "verify_password",
]
