"""The inbound ERP API: bearer tokens (hashed), Idempotency-Key records, and the outbox's
feed position for the pull feed.

Revision ID: f3a9c2e7b1d4
Revises: e5b8d1c4a7f2
Create Date: 2026-11-26 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3a9c2e7b1d4'
down_revision = 'e5b8d1c4a7f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('erp_api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_api_tokens')),
    sa.UniqueConstraint('prefix', name=op.f('uq_erp_api_tokens_prefix'))
    )
    op.create_table('erp_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['erp_api_tokens.id'], name=op.f('fk_erp_idempotency_keys_token_id_erp_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_idempotency_keys')),
    sa.UniqueConstraint('token_id', 'key', name='uq_erp_idempotency_token_key')
    )
    with op.batch_alter_table('erp_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erp_idempotency_keys_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_position', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_events_feed_position'), ['feed_position'])


def downgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_outbox_events_feed_position'), type_='unique')
        batch_op.drop_column('feed_position')

    with op.batch_alter_table('erp_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erp_idempotency_keys_created_at'))

    op.drop_table('erp_idempotency_keys')
    op.drop_table('erp_api_tokens')
