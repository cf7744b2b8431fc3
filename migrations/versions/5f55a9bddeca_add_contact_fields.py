"""add contact fields

The account's own contact fields (a new table), the built-in company, birthday and anniversary
columns and the custom values document on contacts, and an import's column mapping. The new
contacts columns have constant defaults, so adding them rewrites no rows on PostgreSQL 11 or
later: a populated contacts table stays available.

Revision ID: 5f55a9bddeca
Revises: 493f41eddba7
Create Date: 2026-12-02 17:09:01.687417

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '5f55a9bddeca'
down_revision = '493f41eddba7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contact_fields',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('default', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_contact_fields_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_fields')),
    sa.UniqueConstraint('account_id', 'key', name=op.f('uq_contact_fields_account_id'))
    )
    with op.batch_alter_table('contact_fields', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_fields_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping', sa.JSON(), nullable=True))

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('birthday', sa.String(length=10), server_default='', nullable=False))
        batch_op.add_column(sa.Column('anniversary', sa.String(length=10), server_default='', nullable=False))
        batch_op.add_column(sa.Column('custom', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False))



def downgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('custom')
        batch_op.drop_column('anniversary')
        batch_op.drop_column('birthday')
        batch_op.drop_column('company')

    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.drop_column('mapping')

    with op.batch_alter_table('contact_fields', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_fields_account_id'))

    op.drop_table('contact_fields')
