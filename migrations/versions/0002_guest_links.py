"""guest links, and a case-insensitive index on order numbers for the guest lookup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('guest_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_guest_links_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guest_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_guest_links_token_hash'))
    )
    with op.batch_alter_table('guest_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guest_links_order_id'), ['order_id'], unique=False)

    # An expression index: PostgreSQL and SQLite both use it for `upper(number) = upper(:value)`.
    op.create_index('ix_orders_number_upper', 'orders', [sa.text('upper(number)')], unique=False)


def downgrade():
    op.drop_index('ix_orders_number_upper', table_name='orders')
    with op.batch_alter_table('guest_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guest_links_order_id'))

    op.drop_table('guest_links')
