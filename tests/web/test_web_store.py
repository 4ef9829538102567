"""The store on SQLite and on a real PostgreSQL: migrations, idempotent writes, hashed tokens, the audit log."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rctscale.store import Repository, StoreError, hash_token, upgrade_database
from rctscale.store.database import schema_is_current


def _administration(repository: Repository, mode: str = "invitations"):  # type: ignore[no-untyped-def]
    return repository.create_administration(form_id="intake", form_hash="sha256:x", title="T", referent=None,
                                            mode=mode)


def test_upgrade_is_idempotent_and_reaches_head(migrated_url: str, repository: Repository) -> None:
    assert upgrade_database(migrated_url) == "0002"
    assert schema_is_current(repository.engine)


def test_sqlite_is_durable(sqlite_url: str) -> None:
    from rctscale.store import make_engine

    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_tokens_are_stored_only_as_hashes(repository: Repository) -> None:
    administration = _administration(repository)
    [(invitation, token)] = repository.add_invitations(administration.id, ["P"], expires_in=dt.timedelta(days=1))
    assert len(token) >= 43  # 32 random bytes
    with repository.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM invitations")).scalar_one()
    assert stored == hash_token(token) and token not in stored


def test_one_response_per_invitation_under_concurrent_starts(repository: Repository) -> None:
    administration = _administration(repository)
    [(_invitation, token)] = repository.add_invitations(administration.id, [None], expires_in=dt.timedelta(days=1))
    link = repository.resolve_invitation(token)
    ids: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ids.append(repository.start_response(link).id)  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(ids)) == 1
    assert repository.count_responses() == 1


def test_answers_upsert_and_submit_once(repository: Repository) -> None:
    administration = _administration(repository, "public")
    link = repository.resolve_public(administration.public_key, None)  # type: ignore[arg-type]
    response = repository.start_response(link, respondent_key="k" * 43)  # type: ignore[arg-type]
    again = repository.start_response(link, respondent_key="k" * 43)  # type: ignore[arg-type]
    assert again.id == response.id
    assert repository.save_answers(response.id, response.nonce, {"con03": 2, "con09": None}) == "saved"
    assert repository.save_answers(response.id, response.nonce, {"con03": 5}) == "saved"
    assert repository.answers(response.id) == {"con03": 5, "con09": None}
    assert repository.save_answers(response.id, "wrong", {"con03": 1}) == "invalid"
    assert repository.submit_response(response.id, "wrong") == "invalid"
    assert repository.submit_response(response.id, response.nonce) == "submitted"
    assert repository.submit_response(response.id, response.nonce) == "already"
    assert repository.save_answers(response.id, response.nonce, {"con03": 1}) == "submitted"
    assert repository.answers(response.id)["con03"] == 5
    assert repository.count_responses(status="submitted") == 1


def test_used_expired_revoked_and_closed_links_resolve_to_nothing(repository: Repository) -> None:
    administration = _administration(repository)
    created = repository.add_invitations(administration.id, [None, None, None], expires_in=dt.timedelta(days=1))
    (used, used_token), (revoked, revoked_token), (_ok, ok_token) = created
    response = repository.start_response(repository.resolve_invitation(used_token))  # type: ignore[arg-type]
    repository.submit_response(response.id, response.nonce)
    assert repository.resolve_invitation(used_token) is None
    assert repository.revoke_invitation(revoked.id) == administration.id
    assert repository.resolve_invitation(revoked_token) is None
    assert repository.resolve_invitation("not-a-token") is None
    [(_late, late_token)] = repository.add_invitations(administration.id, [None], expires_in=dt.timedelta(seconds=-1))
    assert repository.resolve_invitation(late_token) is None
    assert repository.resolve_invitation(ok_token) is not None
    assert repository.close_administration(administration.id)
    assert repository.resolve_invitation(ok_token) is None


def test_answer_rows_refuse_a_value_and_a_decline_together(repository: Repository) -> None:
    administration = _administration(repository, "public")
    link = repository.resolve_public(administration.public_key, None)  # type: ignore[arg-type]
    response = repository.start_response(link, respondent_key="a" * 43)  # type: ignore[arg-type]
    with pytest.raises(DBAPIError), repository.engine.begin() as connection:
        connection.execute(text("INSERT INTO answers (response_id, item_id, value, declined, answered_at) "
                                "VALUES (:r, 'con03', 3, :d, :t)"),
                           {"r": response.id, "d": True, "t": dt.datetime(2025, 1, 1)})


def test_response_needs_exactly_one_origin(repository: Repository) -> None:
    administration = _administration(repository)
    with pytest.raises(DBAPIError), repository.engine.begin() as connection:
        connection.execute(text("INSERT INTO responses (administration_id, status, form_hash, nonce, started_at, "
                                "updated_at) VALUES (:a, 'in_progress', 'h', 'n', :t, :t)"),
                           {"a": administration.id, "t": dt.datetime(2025, 1, 1)})


def test_audit_log_is_append_only(repository: Repository) -> None:
    repository.audit("export", user_id=1, target_type="administration", target_id=2, detail="shape=wide")
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), repository.engine.begin() as connection:
            connection.execute(text(statement))
    assert [e.action for e in repository.audit_entries()][0] == "export"


def test_users_passwords_are_argon2_and_checked(repository: Repository) -> None:
    user = repository.add_user("dana", "clinician", "a long enough password")
    assert user.password_hash.startswith("$argon2")
    assert repository.authenticate("dana", "a long enough password") is not None
    assert repository.authenticate("dana", "wrong password here") is None
    assert repository.authenticate("nobody", "a long enough password") is None
    with pytest.raises(StoreError, match="exists already"):
        repository.add_user("dana", "admin", "another long password")
    with pytest.raises(StoreError, match="role"):
        repository.add_user("eve", "superuser", "another long password")
    with pytest.raises(StoreError, match="12 characters"):
        repository.add_user("eve", "admin", "short")
