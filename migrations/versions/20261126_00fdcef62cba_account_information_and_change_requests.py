"""Account information and change requests: the trading name and billing contact of an
account; change requests with their documents and timeline, one draft and one open request
of each type per account (partial unique indexes).

Revision ID: 00fdcef62cba
Revises: 7a3c9e2b5d10
Create Date: 2026-11-26 17:21:58.654037

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '00fdcef62cba'
down_revision = '7a3c9e2b5d10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('change_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=True),
    sa.Column('type', sa.Enum('legal_name', 'address', 'tax', name='changetype', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'in_review', 'approved', 'rejected', 'cancelled', name='changestatus', native_enum=False, length=20), nullable=False),
    sa.Column('step', sa.Enum('scope', 'values', 'documents', 'review', name='step', native_enum=False, length=20), nullable=False),
    sa.Column('parts', sa.JSON(), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('attested_by_id', sa.Integer(), nullable=True),
    sa.Column('attested_name', sa.String(length=120), nullable=True),
    sa.Column('attestation_text', sa.Text(), nullable=True),
    sa.Column('attested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_ip', sa.String(length=45), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('effective_date', sa.Date(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_change_requests_account_id_accounts')),
    sa.ForeignKeyConstraint(['attested_by_id'], ['users.id'], name=op.f('fk_change_requests_attested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_change_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_change_requests_submitted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests')),
    sa.UniqueConstraint('reference', name=op.f('uq_change_requests_reference'))
    )
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.create_index('ix_change_requests_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('uq_change_requests_one_draft', ['account_id', 'type'], unique=True, sqlite_where=sa.text("status IN ('draft')"), postgresql_where=sa.text("status IN ('draft')"))
        batch_op.create_index('uq_change_requests_one_open', ['account_id', 'type'], unique=True, sqlite_where=sa.text("status IN ('submitted', 'in_review')"), postgresql_where=sa.text("status IN ('submitted', 'in_review')"))

    op.create_table('change_request_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['change_requests.id'], name=op.f('fk_change_request_documents_request_id_change_requests')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_change_request_documents_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request_documents')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_change_request_documents_storage_key'))
    )
    with op.batch_alter_table('change_request_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_request_documents_request_id'), ['request_id'], unique=False)

    op.create_table('change_request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['change_requests.id'], name=op.f('fk_change_request_events_request_id_change_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request_events'))
    )
    with op.batch_alter_table('change_request_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_request_events_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trading_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('billing_contact_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('billing_contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('billing_contact_phone', sa.String(length=40), nullable=True))



def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('billing_contact_phone')
        batch_op.drop_column('billing_contact_email')
        batch_op.drop_column('billing_contact_name')
        batch_op.drop_column('trading_name')

    with op.batch_alter_table('change_request_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_request_events_request_id'))

    op.drop_table('change_request_events')
    with op.batch_alter_table('change_request_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_request_documents_request_id'))

    op.drop_table('change_request_documents')
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_change_requests_one_open', sqlite_where=sa.text("status IN ('submitted', 'in_review')"), postgresql_where=sa.text("status IN ('submitted', 'in_review')"))
        batch_op.drop_index('uq_change_requests_one_draft', sqlite_where=sa.text("status IN ('draft')"), postgresql_where=sa.text("status IN ('draft')"))
        batch_op.drop_index('ix_change_requests_account_created')

    op.drop_table('change_requests')
