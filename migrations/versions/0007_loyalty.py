"""loyalty: points ledger, allocations, tier changes, redemptions, profiles

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "loyalty_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("birthday_set_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_expiry_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_loyalty_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_loyalty_profiles")),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_from", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_item_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("spend", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("spend_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("debt_points", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_loyalty_entries_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_loyalty_entries_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_loyalty_entries_order_id_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_loyalty_entries_order_item_id_order_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint("source_key", name=op.f("uq_loyalty_entries_source_key")),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_entries_customer_created", ["customer_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_loyalty_entries_expires", ["expires_at"], unique=False)
        batch_op.create_index("ix_loyalty_entries_order_item", ["order_item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loyalty_entries_order_id"), ["order_id"], unique=False)
    op.create_table(
        "loyalty_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debit_id", sa.Integer(), nullable=False),
        sa.Column("credit_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_allocations_points_positive")),
        sa.ForeignKeyConstraint(
            ["credit_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_allocations_credit_id_loyalty_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["debit_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_allocations_debit_id_loyalty_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_allocations")),
    )
    with op.batch_alter_table("loyalty_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loyalty_allocations_credit_id"), ["credit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loyalty_allocations_debit_id"), ["debit_id"], unique=False)
    op.create_table(
        "loyalty_tier_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("previous_tier", sa.String(length=40), nullable=True),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("qualifying_spend", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_loyalty_tier_changes_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier_changes")),
    )
    with op.batch_alter_table("loyalty_tier_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_tier_changes_customer_at", ["customer_id", "at", "id"], unique=False
        )
    op.create_table(
        "loyalty_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_loyalty_redemptions_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_redemptions_entry_id_loyalty_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_redemptions")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_loyalty_redemptions_code_hash")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_loyalty_redemptions_entry_id")),
    )
    with op.batch_alter_table("loyalty_redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loyalty_redemptions_customer_id"), ["customer_id"], unique=False)


def downgrade():
    op.drop_table("loyalty_redemptions")
    op.drop_table("loyalty_tier_changes")
    op.drop_table("loyalty_allocations")
    op.drop_table("loyalty_entries")
    op.drop_table("loyalty_profiles")
