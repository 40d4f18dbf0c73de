"""Banner dismissals: the dashboard's announcements each user dismissed, and when.

Revision ID: a4d7e2c9f1b8
Revises: 7c2e4f9a1b3d
Create Date: 2026-11-26 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4d7e2c9f1b8'
down_revision = '7c2e4f9a1b3d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'banner_dismissals',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=120), nullable=False),
        sa.Column('dismissed_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_banner_dismissals_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'slug', name=op.f('pk_banner_dismissals')),
    )


def downgrade():
    op.drop_table('banner_dismissals')
