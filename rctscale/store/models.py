"""The tables. Times are naive UTC (``utc_now``) so SQLite and PostgreSQL store the same thing.

Identified data live in one column only: ``Invitation.respondent_label`` (a name or record
number a clinician typed). Everything else is ids, hashes, answers and times.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "clinician", "researcher")
MODES = ("public", "invitations")
ADMINISTRATION_STATUSES = ("open", "closed")
RESPONSE_STATUSES = ("in_progress", "submitted")

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
          "pk": "pk_%(table_name)s"}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'clinician', 'researcher')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class Administration(Base):
    __tablename__ = "administrations"
    __table_args__ = (CheckConstraint("mode IN ('public', 'invitations')", name="mode"),
                      CheckConstraint("status IN ('open', 'closed')", name="status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(200))
    form_hash: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    referent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    # The public link's key is not a secret (anyone holding the link may answer anonymously),
    # so it is kept in clear to show the link again; invitation tokens are hashed.
    public_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Adaptive administration (CAT): each calibrated scale asked one item at a time. The rules
    # (JSON of rctscale.adaptive.AdaptiveRules) and the item calibrations (JSON: bank id ->
    # calibration document) are kept here, not referred to by path, so a recalibration on disk
    # never changes an administration under way nor the scores of its responses.
    adaptive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cat_rules: Mapped[str | None] = mapped_column(Text, nullable=True)
    calibration: Mapped[str | None] = mapped_column(Text, nullable=True)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    respondent_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'submitted')", name="status"),
        # Exactly one way in: an invitation or a public-session key. Each is unique, so one
        # invitation or one browser session can never hold two responses.
        CheckConstraint("(invitation_id IS NULL) <> (respondent_key_hash IS NULL)", name="one_origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True, nullable=True)
    respondent_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    form_hash: Mapped[str] = mapped_column(String(100))
    # Sent with every page of this response and checked on every POST: the respondent's CSRF
    # token and the submission nonce that makes a repeated submit recognisable.
    nonce: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    answers: Mapped[list[Answer]] = relationship(order_by="Answer.item_id", lazy="raise")


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (CheckConstraint("(value IS NULL) = declined", name="value_or_declined"),)

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    declined: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Append-only (triggers refuse UPDATE and DELETE). ``detail`` holds ids and counts, never identifiers."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)


__all__ = ["ADMINISTRATION_STATUSES", "Administration", "Answer", "AuditEntry", "Base", "Invitation", "MODES",
           "RESPONSE_STATUSES", "ROLES", "Response", "StaffSession", "User", "utc_now"]
