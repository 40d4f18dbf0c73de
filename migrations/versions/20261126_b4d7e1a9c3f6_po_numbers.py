"""PO numbers: the account's and each end customer's PO number schedule, and the end
customer's PO number on each invoice line.

Lines issued before this revision carry no PO number of their own (NULL), as do the lines of
end customers with none.

Revision ID: b4d7e1a9c3f6
Revises: a4d7e2c9f1b8
Create Date: 2026-11-26 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d7e1a9c3f6'
down_revision = 'a4d7e2c9f1b8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'purchase_order_numbers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('end_customer_id', sa.Integer(), nullable=True),
        sa.Column('number', sa.String(length=40), nullable=True),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("number IS NULL OR number <> ''",
                           name=op.f('ck_purchase_order_numbers_number_not_empty')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_purchase_order_numbers_account_id_accounts')),
        sa.ForeignKeyConstraint(['end_customer_id'], ['end_customers.id'],
                                name=op.f('fk_purchase_order_numbers_end_customer_id_end_customers')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_purchase_order_numbers_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_numbers')),
    )
    with op.batch_alter_table('purchase_order_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_numbers_schedule',
                              ['account_id', 'effective_from'], unique=False)
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('po_number', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_column('po_number')
    with op.batch_alter_table('purchase_order_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_numbers_schedule')
    op.drop_table('purchase_order_numbers')
