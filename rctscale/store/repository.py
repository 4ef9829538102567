"""Every query the web and the CLI run, one short transaction each.

The repository never logs; its callers log ids only. Link tokens and respondent keys come
in as clear text and are hashed here before any lookup, so the clear text never reaches
the database.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rctscale.errors import RctscaleError
from rctscale.store.credentials import hash_password, hash_token, new_token, verify_password
from rctscale.store.models import (
    ROLES,
    Administration,
    Answer,
    AuditEntry,
    Invitation,
    Response,
    StaffSession,
    User,
    utc_now,
)

DECLINED = None  # an answer value of None means "prefer not to answer"
AUDIT_DETAIL_LIMIT = 200


class StoreError(RctscaleError):
    """A request the store cannot carry out as asked (unknown user, duplicate name...)."""


@dataclass(frozen=True)
class LinkState:
    """What a respondent's link opens: an open administration, its invitation, their response so far."""

    administration: Administration
    invitation: Invitation | None
    response: Response | None


@dataclass(frozen=True)
class AdministrationSummary:
    administration: Administration
    n_submitted: int
    n_in_progress: int
    n_invitations: int


@dataclass(frozen=True)
class StoredResponse:
    """A response with its answers (item id -> value, None for "prefer not to answer")."""

    response: Response
    administration: Administration
    respondent_label: str | None
    answers: dict[str, int | None]


@dataclass(frozen=True)
class InvitationStatus:
    invitation: Invitation
    state: str  # pending, in progress, submitted, expired, revoked


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ users and sessions

    def add_user(self, name: str, role: str, password: str) -> User:
        name = name.strip()
        if not name or len(name) > 200:
            raise StoreError("a user name needs 1 to 200 characters")
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
        if len(password) < 12:
            raise StoreError("a password needs at least 12 characters")
        try:
            with self._transaction() as session:
                user = User(name=name, role=role, password_hash=hash_password(password), active=True)
                session.add(user)
                session.flush()
                session.add(AuditEntry(action="user_add", target_type="user", target_id=user.id, detail=role))
                return user
        except IntegrityError as error:
            raise StoreError(f"a user named '{name}' exists already") from error

    def authenticate(self, name: str, password: str) -> User | None:
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
        ok = verify_password(user.password_hash if user else None, password)
        return user if ok and user is not None else None

    def user_id_by_name(self, name: str) -> int | None:
        with self._sessions() as session:
            return session.scalar(select(User.id).where(User.name == name))

    def open_staff_session(self, user_id: int, lifetime: dt.timedelta) -> tuple[str, str]:
        """A new session: (the cookie token, the CSRF token bound to it)."""
        token, csrf_token = new_token(), new_token()
        with self._transaction() as session:
            now = utc_now()
            session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
            session.add(StaffSession(token_hash=hash_token(token), user_id=user_id, csrf_token=csrf_token,
                                     created_at=now, expires_at=now + lifetime))
        return token, csrf_token

    def staff_session(self, token: str) -> tuple[User, str] | None:
        with self._sessions() as session:
            row = session.execute(
                select(User, StaffSession.csrf_token).join(StaffSession, StaffSession.user_id == User.id)
                .where(StaffSession.token_hash == hash_token(token), StaffSession.expires_at > utc_now(),
                       User.active.is_(True))).first()
        return (row[0], row[1]) if row else None

    def close_staff_session(self, token: str) -> None:
        with self._transaction() as session:
            session.execute(delete(StaffSession).where(StaffSession.token_hash == hash_token(token)))

    # ------------------------------------------------------------------ audit log

    def audit(self, action: str, *, user_id: int | None = None, target_type: str | None = None,
              target_id: int | None = None, detail: str | None = None) -> None:
        """Append an audit entry. ``detail`` is for ids, counts and options, never names, tokens or answers."""
        with self._transaction() as session:
            session.add(AuditEntry(user_id=user_id, action=action, target_type=target_type, target_id=target_id,
                                   detail=detail[:AUDIT_DETAIL_LIMIT] if detail else None))

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        with self._sessions() as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))

    # ------------------------------------------------------------------ administrations

    def create_administration(self, *, form_id: str, form_hash: str, title: str, referent: str | None,
                              mode: str, created_by: int | None = None, adaptive: bool = False,
                              cat_rules: str | None = None, calibration: str | None = None) -> Administration:
        """A new open administration. ``cat_rules`` and ``calibration`` are JSON text (see the model)."""
        if mode not in ("public", "invitations"):
            raise StoreError(f"mode must be 'public' or 'invitations', not '{mode}'")
        if adaptive and (cat_rules is None or calibration is None):
            raise StoreError("an adaptive administration needs its CAT rules and item calibrations")
        with self._transaction() as session:
            administration = Administration(
                form_id=form_id, form_hash=form_hash, title=title, referent=referent or None, mode=mode,
                status="open", public_key=secrets.token_urlsafe(16) if mode == "public" else None,
                created_by=created_by, created_at=utc_now(), adaptive=adaptive, cat_rules=cat_rules,
                calibration=calibration)
            session.add(administration)
            session.flush()
            detail = f"form={form_id} mode={mode}" + (" adaptive" if adaptive else "")
            session.add(AuditEntry(user_id=created_by, action="administration_create", target_type="administration",
                                   target_id=administration.id, detail=detail))
            return administration

    def add_invitations(self, administration_id: int, labels: Sequence[str | None], *, expires_in: dt.timedelta,
                        created_by: int | None = None) -> list[tuple[Invitation, str]]:
        """New single-use invitations; returns each with its token, which exists in clear only here."""
        created: list[tuple[Invitation, str]] = []
        with self._transaction() as session:
            administration = session.get(Administration, administration_id)
            if administration is None or administration.mode != "invitations":
                raise StoreError(f"administration {administration_id} does not take invitations")
            now = utc_now()
            for label in labels:
                token = new_token()
                invitation = Invitation(administration_id=administration_id, token_hash=hash_token(token),
                                        respondent_label=(label or "").strip() or None, created_at=now,
                                        expires_at=now + expires_in)
                session.add(invitation)
                created.append((invitation, token))
            session.flush()
            session.add(AuditEntry(user_id=created_by, action="invitations_create", target_type="administration",
                                   target_id=administration_id, detail=f"n={len(labels)}"))
        return created

    def administration(self, administration_id: int) -> Administration | None:
        with self._sessions() as session:
            return session.get(Administration, administration_id)

    def administrations(self) -> list[AdministrationSummary]:
        with self._sessions() as session:
            counts = dict(session.execute(
                select(Response.administration_id, func.count()).where(Response.status == "submitted")
                .group_by(Response.administration_id)).all())
            started = dict(session.execute(
                select(Response.administration_id, func.count()).where(Response.status == "in_progress")
                .group_by(Response.administration_id)).all())
            invited = dict(session.execute(
                select(Invitation.administration_id, func.count()).group_by(Invitation.administration_id)).all())
            rows = session.scalars(select(Administration).order_by(Administration.id.desc())).all()
            return [AdministrationSummary(a, counts.get(a.id, 0), started.get(a.id, 0), invited.get(a.id, 0))
                    for a in rows]

    def count_administrations(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Administration)) or 0)

    def close_administration(self, administration_id: int, *, user_id: int | None = None) -> bool:
        with self._transaction() as session:
            changed = session.execute(
                update(Administration).where(Administration.id == administration_id, Administration.status == "open")
                .values(status="closed", closed_at=utc_now())).rowcount
            if changed:
                session.add(AuditEntry(user_id=user_id, action="administration_close", target_type="administration",
                                       target_id=administration_id))
            return bool(changed)

    def invitations(self, administration_id: int) -> list[InvitationStatus]:
        now = utc_now()
        with self._sessions() as session:
            rows = session.execute(
                select(Invitation, Response.status).outerjoin(Response, Response.invitation_id == Invitation.id)
                .where(Invitation.administration_id == administration_id).order_by(Invitation.id)).all()
        out = []
        for invitation, response_status in rows:
            if response_status == "submitted":
                state = "submitted"
            elif invitation.revoked_at is not None:
                state = "revoked"
            elif invitation.expires_at <= now:
                state = "expired"
            elif response_status == "in_progress":
                state = "in progress"
            else:
                state = "pending"
            out.append(InvitationStatus(invitation, state))
        return out

    def revoke_invitation(self, invitation_id: int, *, user_id: int | None = None) -> int | None:
        """Revoke an unused invitation; returns its administration id, or None when there was nothing to revoke."""
        with self._transaction() as session:
            invitation = session.get(Invitation, invitation_id)
            if invitation is None or invitation.revoked_at is not None or invitation.used_at is not None:
                return None
            invitation.revoked_at = utc_now()
            session.add(AuditEntry(user_id=user_id, action="invitation_revoke", target_type="invitation",
                                   target_id=invitation_id))
            return invitation.administration_id

    # ------------------------------------------------------------------ respondents

    def resolve_invitation(self, token: str) -> LinkState | None:
        """The state behind an invitation link, or None when it is wrong, used, expired, revoked or closed."""
        with self._sessions() as session:
            row = session.execute(
                select(Invitation, Administration)
                .join(Administration, Administration.id == Invitation.administration_id)
                .where(Invitation.token_hash == hash_token(token))).first()
            if row is None:
                return None
            invitation, administration = row
            if (administration.status != "open" or invitation.revoked_at is not None or invitation.used_at is not None
                    or invitation.expires_at <= utc_now()):
                return None
            response = session.scalar(select(Response).where(Response.invitation_id == invitation.id))
            if response is not None and response.status != "in_progress":
                return None
            return LinkState(administration, invitation, response)

    def resolve_public(self, public_key: str, respondent_key: str | None) -> LinkState | None:
        """The state behind a public link and this browser's respondent key (None: the link is not open)."""
        with self._sessions() as session:
            administration = session.scalar(select(Administration).where(
                Administration.public_key == public_key, Administration.mode == "public"))
            if administration is None or administration.status != "open":
                return None
            response = None
            if respondent_key:
                response = session.scalar(select(Response).where(
                    Response.respondent_key_hash == hash_token(respondent_key),
                    Response.administration_id == administration.id, Response.status == "in_progress"))
            return LinkState(administration, None, response)

    def response_behind_link(self, *, invitation_token: str | None = None,
                             respondent_key: str | None = None) -> Response | None:
        """The response a link or public session holds, whatever its state: to recognise a repeated submit."""
        with self._sessions() as session:
            if invitation_token is not None:
                return session.scalar(select(Response).join(Invitation, Invitation.id == Response.invitation_id)
                                      .where(Invitation.token_hash == hash_token(invitation_token)))
            if respondent_key:
                key_hash = hash_token(respondent_key)
                return session.scalar(select(Response).where(Response.respondent_key_hash == key_hash))
            return None

    def start_response(self, link: LinkState, *, respondent_key: str | None = None) -> Response:
        """The response of this invitation or public session, created at most once whatever the races."""
        if (link.invitation is None) == (respondent_key is None):
            raise StoreError("a response starts from an invitation or from a public respondent key")
        now = utc_now()
        values = {"administration_id": link.administration.id, "status": "in_progress",
                  "form_hash": link.administration.form_hash, "nonce": new_token(), "started_at": now,
                  "updated_at": now}
        if link.invitation is not None:
            values["invitation_id"] = link.invitation.id
            key_column, key_value = Response.invitation_id, link.invitation.id
            conflict = ["invitation_id"]
        else:
            values["respondent_key_hash"] = hash_token(respondent_key or "")
            key_column, key_value = Response.respondent_key_hash, values["respondent_key_hash"]
            conflict = ["respondent_key_hash"]
        with self._transaction() as session:
            session.execute(self._insert(Response).values(**values).on_conflict_do_nothing(index_elements=conflict))
            return session.scalars(select(Response).where(key_column == key_value)).one()

    def save_answers(self, response_id: int, nonce: str, answers: dict[str, int | None], *,
                     answered_before: Collection[str] | None = None) -> str:
        """Upsert answers of an in-progress response: 'saved', 'submitted' (too late) or 'invalid' (bad nonce).

        With ``answered_before`` (the items the caller saw answered when it chose what to ask), the
        answers are saved only if that is still so, else 'stale': an adaptive form's next item
        depends on every earlier answer, so a second tab must not slip an answer in between.
        """
        with self._transaction() as session:
            response = session.get(Response, response_id, with_for_update=True)
            if response is None or not secrets.compare_digest(response.nonce, nonce):
                return "invalid"
            if response.status != "in_progress":
                return "submitted"
            if answered_before is not None:
                stored = set(session.scalars(select(Answer.item_id).where(Answer.response_id == response_id)))
                if stored != set(answered_before):
                    return "stale"
            now = utc_now()
            if answers:
                rows = [{"response_id": response_id, "item_id": item_id, "value": value, "declined": value is None,
                         "answered_at": now} for item_id, value in answers.items()]
                statement = self._insert(Answer).values(rows)
                session.execute(statement.on_conflict_do_update(
                    index_elements=["response_id", "item_id"],
                    set_={"value": statement.excluded.value, "declined": statement.excluded.declined,
                          "answered_at": statement.excluded.answered_at}))
            response.updated_at = now
            return "saved"

    def submit_response(self, response_id: int, nonce: str) -> str:
        """Submit once: 'submitted', 'already' (a repeat of the same submission) or 'invalid'."""
        with self._transaction() as session:
            response = session.get(Response, response_id, with_for_update=True)
            if response is None or not secrets.compare_digest(response.nonce, nonce):
                return "invalid"
            if response.status == "submitted":
                return "already"
            now = utc_now()
            response.status, response.submitted_at, response.updated_at = "submitted", now, now
            if response.invitation_id is not None:
                session.execute(update(Invitation).where(Invitation.id == response.invitation_id)
                                .values(used_at=now))
            return "submitted"

    def answers(self, response_id: int) -> dict[str, int | None]:
        with self._sessions() as session:
            rows = session.scalars(select(Answer).where(Answer.response_id == response_id))
            return {answer.item_id: answer.value for answer in rows}

    # ------------------------------------------------------------------ staff views and exports

    def responses(self, administration_id: int, *, submitted_only: bool = False) -> list[StoredResponse]:
        with self._sessions() as session:
            query = (select(Response, Invitation.respondent_label)
                     .outerjoin(Invitation, Invitation.id == Response.invitation_id)
                     .where(Response.administration_id == administration_id).order_by(Response.id))
            if submitted_only:
                query = query.where(Response.status == "submitted")
            rows = session.execute(query).all()
            administration = session.get(Administration, administration_id)
            answers = self._answers_of(session, [r.id for r, _ in rows])
        return [StoredResponse(r, administration, label, answers.get(r.id, {})) for r, label in rows]  # type: ignore[arg-type]

    def response(self, response_id: int) -> StoredResponse | None:
        with self._sessions() as session:
            row = session.execute(
                select(Response, Administration, Invitation.respondent_label)
                .join(Administration, Administration.id == Response.administration_id)
                .outerjoin(Invitation, Invitation.id == Response.invitation_id).where(Response.id == response_id)
            ).first()
            if row is None:
                return None
            answers = self._answers_of(session, [response_id])
        return StoredResponse(row[0], row[1], row[2], answers.get(response_id, {}))

    def previous_response(self, current: StoredResponse) -> StoredResponse | None:
        """The same respondent's (same label) last submitted response to the same form before this one."""
        if not current.respondent_label or current.response.submitted_at is None:
            return None
        with self._sessions() as session:
            previous_id = session.scalar(
                select(Response.id).join(Invitation, Invitation.id == Response.invitation_id)
                .join(Administration, Administration.id == Response.administration_id)
                .where(Invitation.respondent_label == current.respondent_label,
                       Administration.form_id == current.administration.form_id,
                       Response.form_hash == current.response.form_hash,
                       Response.status == "submitted", Response.submitted_at < current.response.submitted_at)
                .order_by(Response.submitted_at.desc()).limit(1))
        return self.response(previous_id) if previous_id is not None else None

    def submitted_answers_for_form(self, form_id: str, form_hash: str, limit: int = 5000) -> dict[int, dict]:
        """Answers of the latest submitted responses to one form version: the sample an SEM is taken from."""
        with self._sessions() as session:
            ids = list(session.scalars(
                select(Response.id).join(Administration, Administration.id == Response.administration_id)
                .where(Administration.form_id == form_id, Response.form_hash == form_hash,
                       Response.status == "submitted").order_by(Response.id.desc()).limit(limit)))
            return self._answers_of(session, ids)

    @staticmethod
    def _answers_of(session: Session, response_ids: list[int]) -> dict[int, dict[str, int | None]]:
        out: dict[int, dict[str, int | None]] = {rid: {} for rid in response_ids}
        for start in range(0, len(response_ids), 500):
            chunk = response_ids[start:start + 500]
            for answer in session.scalars(select(Answer).where(Answer.response_id.in_(chunk))):
                out[answer.response_id][answer.item_id] = answer.value
        return out

    def count_responses(self, *, status: str | None = None) -> int:
        with self._sessions() as session:
            query = select(func.count()).select_from(Response)
            if status:
                query = query.where(Response.status == status)
            return int(session.scalar(query) or 0)
