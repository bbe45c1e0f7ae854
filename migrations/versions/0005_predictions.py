"""predictive delivery: lane statistics and shipment risks

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "prediction_lanes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("area", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=False),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("p20", sa.Integer(), nullable=False),
        sa.Column("p50", sa.Integer(), nullable=False),
        sa.Column("p80", sa.Integer(), nullable=False),
        sa.Column("p95", sa.Integer(), nullable=False),
        sa.Column("gap_p95_hours", sa.Float(), nullable=True),
        sa.Column("with_promise", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("computed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_lanes")),
        sa.UniqueConstraint(
            "carrier", "service", "country", "area", "from_status", name=op.f("uq_prediction_lanes_carrier")
        ),
    )
    op.create_table(
        "shipment_risks",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=True),
        sa.Column("stalled", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("last_event_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("flagged_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_risks_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_risks")),
    )
    with op.batch_alter_table("shipment_risks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipment_risks_late"), ["late"], unique=False)
        batch_op.create_index(batch_op.f("ix_shipment_risks_stalled"), ["stalled"], unique=False)


def downgrade():
    with op.batch_alter_table("shipment_risks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_risks_stalled"))
        batch_op.drop_index(batch_op.f("ix_shipment_risks_late"))
    op.drop_table("shipment_risks")
    op.drop_table("prediction_lanes")
