"""returns: returns (RMA), their lines, status history and label PDFs

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rma", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=False),
        sa.Column("exchange_wish", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refund_amount", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("credit_bonus", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("review_rule", sa.String(length=32), nullable=True),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'label_ready', 'in_transit', 'received', 'refunded', "
            "'credited', 'rejected', 'cancelled')",
            name=op.f("ck_returns_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_returns_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_returns_requested_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returns")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_returns_idempotency_key")),
        sa.UniqueConstraint("rma", name=op.f("uq_returns_rma")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_returns_tracking_number")),
    )
    op.create_index(op.f("ix_returns_order_id"), "returns", ["order_id"], unique=False)
    op.create_index("ix_returns_status_created", "returns", ["status", "created_at"], unique=False)
    op.create_table(
        "return_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_return_events_return_id_returns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_events")),
    )
    op.create_index(
        "ix_return_events_return_time", "return_events", ["return_id", "occurred_at"], unique=False
    )
    op.create_table(
        "return_labels",
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("requested_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("generated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'rendering', 'ready', 'failed')", name=op.f("ck_return_labels_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_return_labels_return_id_returns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("return_id", name=op.f("pk_return_labels")),
    )
    op.create_index("ix_return_labels_state_claimed", "return_labels", ["state", "claimed_at"], unique=False)
    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_return_lines_order_item_id_order_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_return_lines_return_id_returns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
        sa.UniqueConstraint("return_id", "order_item_id", name=op.f("uq_return_lines_return_id")),
    )
    op.create_index(op.f("ix_return_lines_order_item_id"), "return_lines", ["order_item_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_return_lines_order_item_id"), table_name="return_lines")
    op.drop_table("return_lines")
    op.drop_index("ix_return_labels_state_claimed", table_name="return_labels")
    op.drop_table("return_labels")
    op.drop_index("ix_return_events_return_time", table_name="return_events")
    op.drop_table("return_events")
    op.drop_index("ix_returns_status_created", table_name="returns")
    op.drop_index(op.f("ix_returns_order_id"), table_name="returns")
    op.drop_table("returns")
