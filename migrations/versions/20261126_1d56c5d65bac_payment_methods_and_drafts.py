"""Payment methods (cards and US bank accounts with their verification state and CCD debit
authorisation), payment drafts of the pay flow (the server-issued idempotency key), and on
payments the method charged, the gateway idempotency key and the R01 retry link.

Revision ID: 1d56c5d65bac
Revises: b91ff9e77936
Create Date: 2026-11-26 14:13:19.496818

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1d56c5d65bac'
down_revision = 'b91ff9e77936'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('card', 'ach', name='methodkind', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('pending_verification', 'verified', 'locked', 'expired', 'disabled', name='methodstatus', native_enum=False), nullable=False),
    sa.Column('gateway_reference', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('brand', sa.String(length=30), nullable=True),
    sa.Column('exp_month', sa.Integer(), nullable=True),
    sa.Column('exp_year', sa.Integer(), nullable=True),
    sa.Column('holder_name', sa.String(length=100), nullable=True),
    sa.Column('routing_number', sa.String(length=9), nullable=True),
    sa.Column('account_type', sa.Enum('checking', 'savings', name='bankaccounttype', native_enum=False, length=20), nullable=True),
    sa.Column('failed_verifications', sa.Integer(), nullable=False),
    sa.Column('verification_expires_on', sa.Date(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('authorisation_text', sa.Text(), nullable=True),
    sa.Column('authorised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('authorised_by_id', sa.Integer(), nullable=True),
    sa.Column('authorised_ip', sa.String(length=45), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind <> 'ach' OR authorisation_text IS NOT NULL", name=op.f('ck_payment_methods_ach_has_authorisation')),
    sa.CheckConstraint('failed_verifications >= 0', name=op.f('ck_payment_methods_failed_verifications_positive')),
    sa.CheckConstraint('length(last4) = 4', name=op.f('ck_payment_methods_last4_length')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_payment_methods_account_id_accounts')),
    sa.ForeignKeyConstraint(['authorised_by_id'], ['users.id'], name=op.f('fk_payment_methods_authorised_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payment_methods_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_methods')),
    sa.UniqueConstraint('gateway_reference', name=op.f('uq_payment_methods_gateway_reference'))
    )
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_methods_account_id'), ['account_id'], unique=False)
        batch_op.create_index('uq_payment_methods_default', ['account_id'], unique=True, sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))

    op.create_table('payment_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=True),
    sa.Column('apply_credit', sa.Boolean(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_payment_drafts_account_id_accounts')),
    sa.ForeignKeyConstraint(['method_id'], ['payment_methods.id'], name=op.f('fk_payment_drafts_method_id_payment_methods')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_drafts_payment_id_payments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payment_drafts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_drafts')),
    sa.UniqueConstraint('key', name=op.f('uq_payment_drafts_key'))
    )
    with op.batch_alter_table('payment_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_drafts_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('retry_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payments_method_id'), ['method_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_retry_of_id'), ['retry_of_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_payments_idempotency_key'), ['idempotency_key'])
        batch_op.create_foreign_key(batch_op.f('fk_payments_retry_of_id_payments'), 'payments', ['retry_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_payments_method_id_payment_methods'), 'payment_methods', ['method_id'], ['id'])



def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payments_method_id_payment_methods'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_payments_retry_of_id_payments'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_payments_idempotency_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_payments_retry_of_id'))
        batch_op.drop_index(batch_op.f('ix_payments_method_id'))
        batch_op.drop_column('retry_of_id')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('method_id')

    with op.batch_alter_table('payment_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_drafts_account_id'))

    op.drop_table('payment_drafts')
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_methods_default', sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
        batch_op.drop_index(batch_op.f('ix_payment_methods_account_id'))

    op.drop_table('payment_methods')
