"""The first schema: users, administrations, invitations, responses, answers, staff sessions, audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("role IN ('admin', 'clinician', 'researcher')", name="ck_users_role"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "administrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("form_hash", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("referent", sa.String(300), nullable=True),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", name="fk_administrations_created_by"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=True),
        sa.CheckConstraint("mode IN ('public', 'invitations')", name="ck_administrations_mode"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_administrations_status"),
        sa.UniqueConstraint("public_key", name="uq_administrations_public_key"),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("administration_id", sa.Integer,
                  sa.ForeignKey("administrations.id", name="fk_invitations_administration_id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("respondent_label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("used_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_administration_id", "invitations", ["administration_id"])
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("administration_id", sa.Integer,
                  sa.ForeignKey("administrations.id", name="fk_responses_administration_id"), nullable=False),
        sa.Column("invitation_id", sa.Integer, sa.ForeignKey("invitations.id", name="fk_responses_invitation_id"),
                  nullable=True),
        sa.Column("respondent_key_hash", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("form_hash", sa.String(100), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=True),
        sa.CheckConstraint("status IN ('in_progress', 'submitted')", name="ck_responses_status"),
        sa.CheckConstraint("(invitation_id IS NULL) <> (respondent_key_hash IS NULL)", name="ck_responses_one_origin"),
        sa.UniqueConstraint("invitation_id", name="uq_responses_invitation_id"),
        sa.UniqueConstraint("respondent_key_hash", name="uq_responses_respondent_key_hash"),
    )
    op.create_index("ix_responses_administration_id", "responses", ["administration_id"])
    op.create_table(
        "answers",
        sa.Column("response_id", sa.Integer,
                  sa.ForeignKey("responses.id", name="fk_answers_response_id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.String(50), nullable=False),
        sa.Column("value", sa.SmallInteger, nullable=True),
        sa.Column("declined", sa.Boolean, nullable=False),
        sa.Column("answered_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("response_id", "item_id", name="pk_answers"),
        sa.CheckConstraint("(value IS NULL) = declined", name="ck_answers_value_or_declined"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer,
                  sa.ForeignKey("users.id", name="fk_staff_sessions_user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target_type", sa.String(50), nullable=True),
        sa.Column("target_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    _make_audit_log_append_only()


def _make_audit_log_append_only() -> None:
    """The database itself refuses to change or delete an audit entry, whatever the app does."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION rctscale_audit_log_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;
            $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION rctscale_audit_log_append_only()""")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS rctscale_audit_log_append_only()")
    for table in ("audit_log", "staff_sessions", "answers", "responses", "invitations", "administrations", "users"):
        op.drop_table(table)
