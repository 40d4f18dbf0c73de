"""The webhook endpoint a stand-in ERP (`flask erp simulate`) provisions for the deliverers.

Revision ID: 7a3c9e2b5d10
Revises: f3a9c2e7b1d4
Create Date: 2026-11-26 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3c9e2b5d10'
down_revision = 'f3a9c2e7b1d4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('erp_webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('provisioned_by', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_webhook_endpoints'))
    )


def downgrade():
    op.drop_table('erp_webhook_endpoints')
