"""The outbox's delivery: schema version and account number of each event, its delivery
state, next attempt, lease, last error and dead-letter time.

Revision ID: 5e0b7c4a91d2
Revises: c3f1a7d2e9b4
Create Date: 2026-11-27 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e0b7c4a91d2'
down_revision = 'c3f1a7d2e9b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schema_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('account_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('state', sa.Enum('pending', 'delivered', 'dead', name='deliverystate', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))

    # Events written before: version 1, delivered when they have a delivery time, due now.
    op.execute("UPDATE outbox_events SET schema_version = 1, next_attempt_at = created_at, "
               "state = CASE WHEN delivered_at IS NULL THEN 'pending' ELSE 'delivered' END")
    op.execute("UPDATE outbox_events SET account_number = (SELECT accounts.number FROM accounts "
               "WHERE accounts.id = outbox_events.account_id)")

    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.alter_column('schema_version', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('state', existing_type=sa.Enum('pending', 'delivered', 'dead', name='deliverystate', native_enum=False, length=20), nullable=False)
        batch_op.alter_column('next_attempt_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_outbox_events_due', ['state', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_events_due')
        batch_op.drop_column('dead_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('leased_until')
        batch_op.drop_column('lease_token')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('state')
        batch_op.drop_column('account_number')
        batch_op.drop_column('schema_version')
