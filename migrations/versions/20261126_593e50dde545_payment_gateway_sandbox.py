"""The sandbox payment gateway's own tables: card setups, cards (last 4 only), bank accounts
(account numbers encrypted), charges, settlement and return events, its clock, and simulated
timeouts.

Revision ID: 593e50dde545
Revises: 8abdccd33aac
Create Date: 2026-11-26 12:07:21.755995

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '593e50dde545'
down_revision = '8abdccd33aac'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_bank_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('customer', sa.String(length=60), nullable=False),
    sa.Column('holder_name', sa.String(length=100), nullable=False),
    sa.Column('routing_number', sa.String(length=9), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('account_number_encrypted', sa.Text(), nullable=False),
    sa.Column('account_type', sa.Enum('checking', 'savings', name='bankaccounttype', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('new', 'pending_verification', 'verified', 'verification_failed', name='bankaccountstatus', native_enum=False, length=20), nullable=False),
    sa.Column('micro_deposit_1', sa.Numeric(precision=4, scale=2), nullable=True),
    sa.Column('micro_deposit_2', sa.Numeric(precision=4, scale=2), nullable=True),
    sa.Column('micro_deposits_sent_on', sa.Date(), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('failed_attempts >= 0', name=op.f('ck_sandbox_bank_accounts_failed_attempts_positive')),
    sa.CheckConstraint('length(last4) = 4', name=op.f('ck_sandbox_bank_accounts_last4_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_bank_accounts')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_bank_accounts_reference'))
    )
    with op.batch_alter_table('sandbox_bank_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_bank_accounts_customer'), ['customer'], unique=False)

    op.create_table('sandbox_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('customer', sa.String(length=60), nullable=False),
    sa.Column('brand', sa.String(length=30), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('behaviour', sa.Enum('succeeds', 'declined', 'insufficient_funds', name='cardbehaviour', native_enum=False, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('exp_month BETWEEN 1 AND 12', name=op.f('ck_sandbox_cards_exp_month_range')),
    sa.CheckConstraint('length(last4) = 4', name=op.f('ck_sandbox_cards_last4_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_cards')),
    sa.UniqueConstraint('token', name=op.f('uq_sandbox_cards_token'))
    )
    with op.batch_alter_table('sandbox_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_cards_customer'), ['customer'], unique=False)

    op.create_table('sandbox_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('method_kind', sa.Enum('card', 'ach', name='methodkind', native_enum=False, length=20), nullable=False),
    sa.Column('method_reference', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('succeeded', 'failed', 'processing', 'unknown', 'returned', name='chargestatus', native_enum=False, length=20), nullable=False),
    sa.Column('decline_code', sa.String(length=40), nullable=True),
    sa.Column('return_code', sa.String(length=3), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('settles_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_sandbox_charges_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_charges')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_sandbox_charges_idempotency_key')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_charges_reference'))
    )
    with op.batch_alter_table('sandbox_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_charges_method_reference'), ['method_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_charges_settles_on'), ['settles_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_charges_status'), ['status'], unique=False)

    op.create_table('sandbox_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('today', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_clock'))
    )
    op.create_table('sandbox_faults',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('timeout_charged', 'timeout_no_charge', name='faultkind', native_enum=False, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_faults'))
    )
    op.create_table('sandbox_card_setups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('customer', sa.String(length=60), nullable=False),
    sa.Column('return_url', sa.String(length=2000), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['sandbox_cards.id'], name=op.f('fk_sandbox_card_setups_card_id_sandbox_cards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_card_setups')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_card_setups_reference'))
    )
    op.create_table('sandbox_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('type', sa.Enum('charge.settled', 'charge.returned', name='eventtype', native_enum=False, length=20), nullable=False),
    sa.Column('charge_id', sa.Integer(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('return_code', sa.String(length=3), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['charge_id'], ['sandbox_charges.id'], name=op.f('fk_sandbox_events_charge_id_sandbox_charges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_events')),
    sa.UniqueConstraint('reference', name=op.f('uq_sandbox_events_reference'))
    )
    with op.batch_alter_table('sandbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_events_acknowledged_at'), ['acknowledged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_events_charge_id'), ['charge_id'], unique=False)



def downgrade():
    with op.batch_alter_table('sandbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_events_charge_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_events_acknowledged_at'))

    op.drop_table('sandbox_events')
    op.drop_table('sandbox_card_setups')
    op.drop_table('sandbox_faults')
    op.drop_table('sandbox_clock')
    with op.batch_alter_table('sandbox_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_charges_status'))
        batch_op.drop_index(batch_op.f('ix_sandbox_charges_settles_on'))
        batch_op.drop_index(batch_op.f('ix_sandbox_charges_method_reference'))

    op.drop_table('sandbox_charges')
    with op.batch_alter_table('sandbox_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_cards_customer'))

    op.drop_table('sandbox_cards')
    with op.batch_alter_table('sandbox_bank_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_bank_accounts_customer'))

    op.drop_table('sandbox_bank_accounts')
