"""Re-authentication: when each session last confirmed its user's password.

Revision ID: c3f1a7d2e9b4
Revises: 1d56c5d65bac
Create Date: 2026-11-26 09:12:40.118211

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f1a7d2e9b4'
down_revision = '1d56c5d65bac'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reauthenticated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('reauthenticated_at')
