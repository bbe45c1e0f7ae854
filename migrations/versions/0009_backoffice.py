"""backoffice: shop setting overrides, stopped sequences, indexes for staff search

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shop_setting_overrides",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_shop_setting_overrides_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shop_setting_overrides")),
    )
    op.create_table(
        "sequence_stops",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("stopped_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stopped_by_id", sa.Integer(), nullable=True),
        sa.Column("stopped_by_label", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_sequence_stops_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stopped_by_id"],
            ["users.id"],
            name=op.f("fk_sequence_stops_stopped_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_sequence_stops")),
    )
    op.create_index(
        "ix_orders_customer_name_lower", "orders", [sa.text("lower(customer_name)")], unique=False
    )
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"], unique=False)
    op.create_index("ix_shipments_shipped_at", "shipments", ["shipped_at"], unique=False)
    op.create_index("ix_shipments_delivered_at", "shipments", ["delivered_at"], unique=False)


def downgrade():
    op.drop_index("ix_shipments_delivered_at", table_name="shipments")
    op.drop_index("ix_shipments_shipped_at", table_name="shipments")
    op.drop_index("ix_orders_placed_at", table_name="orders")
    op.drop_index("ix_orders_customer_name_lower", table_name="orders")
    op.drop_table("sequence_stops")
    op.drop_table("shop_setting_overrides")
