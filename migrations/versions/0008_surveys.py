"""surveys tables: invitations and responses

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_survey_invitations_customer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_survey_invitations_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
        sa.UniqueConstraint("order_id", name=op.f("uq_survey_invitations_order_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_invitations_token_hash")),
    )
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_invitations_customer_created", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_survey_invitations_email_created", ["email", "created_at"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("responded_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("commented_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "nps IS NULL OR (nps >= 0 AND nps <= 10)", name=op.f("ck_survey_responses_nps_range")
        ),
        sa.CheckConstraint(
            "csat IS NULL OR (csat >= 1 AND csat <= 5)", name=op.f("ck_survey_responses_csat_range")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_survey_responses_customer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["survey_invitations.id"],
            name=op.f("fk_survey_responses_invitation_id_survey_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_survey_responses_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_survey_responses_invitation_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_survey_responses_order_id")),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_responses_answered_at"), ["answered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_responses_responded_at"), ["responded_at"], unique=False)


def downgrade():
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_responded_at"))
        batch_op.drop_index(batch_op.f("ix_survey_responses_answered_at"))
    op.drop_table("survey_responses")
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_invitations_email_created")
        batch_op.drop_index("ix_survey_invitations_customer_created")
    op.drop_table("survey_invitations")
