"""the message outbox and opt-outs kept by address

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

import portal.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.String(length=40), nullable=True),
        sa.Column("event_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_messages_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_messages_shipment_id_shipments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("order_id", "step", "channel", "scope", name=op.f("uq_messages_order_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        # The dispatcher's query (status = 'scheduled' AND due_at <= now ORDER BY due_at, id) is a range scan
        # of this index, in the index's order.
        batch_op.create_index("ix_messages_status_due", ["status", "due_at", "id"], unique=False)
        batch_op.create_index("ix_messages_recipient_due", ["recipient", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_shipment_id"), ["shipment_id"], unique=False)

    op.create_table(
        "message_suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_suppressions")),
        sa.UniqueConstraint("channel", "address", "kind", name=op.f("uq_message_suppressions_channel")),
    )


def downgrade():
    op.drop_table("message_suppressions")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_shipment_id"))
        batch_op.drop_index("ix_messages_recipient_due")
        batch_op.drop_index("ix_messages_status_due")
    op.drop_table("messages")
