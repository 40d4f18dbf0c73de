"""Late billing data: what each invoice line's amount is made of (its span of days), the
lines of credit notes issued by the billing run, and the date from which a subscription waits
to be re-rated after a late report.

Lines issued before this revision keep no span (NULL); the billing run re-rates a subscription
only from lines that have one.

Revision ID: 7c2e4f9a1b3d
Revises: 00fdcef62cba
Create Date: 2026-11-26 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2e4f9a1b3d'
down_revision = '00fdcef62cba'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('span_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rebill_from', sa.Date(), nullable=True))
        batch_op.create_index('ix_subscriptions_rebill', ['account_id', 'rebill_from'])
    op.create_table(
        'credit_note_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_note_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('description', sa.String(length=300), nullable=False),
        sa.Column('quantity', sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column('unit_price', sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('tax', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('service_start', sa.Date(), nullable=False),
        sa.Column('service_end', sa.Date(), nullable=False),
        sa.Column('span_days', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'],
                                name=op.f('fk_credit_note_lines_credit_note_id_credit_notes')),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                                name=op.f('fk_credit_note_lines_subscription_id_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_note_lines')),
    )
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_note_lines_credit_note_id'),
                              ['credit_note_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_note_lines_subscription_id'),
                              ['subscription_id'], unique=False)


def downgrade():
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_note_lines_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_credit_note_lines_credit_note_id'))
    op.drop_table('credit_note_lines')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_rebill')
        batch_op.drop_column('rebill_from')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_column('span_days')
