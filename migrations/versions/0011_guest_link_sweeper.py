"""guest links: an index on expires_at for the sweeper that re-queues links whose job never reached Redis

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_guest_links_expires_at", "guest_links", ["expires_at"])


def downgrade():
    op.drop_index("ix_guest_links_expires_at", table_name="guest_links")
