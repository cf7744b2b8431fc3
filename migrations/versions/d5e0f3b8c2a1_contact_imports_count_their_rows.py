"""contact imports count their rows: progress while running, what was kept when stopped

contact_imports.rows_read (rows after the header read and committed so far) and rows_total (the
file's lines counted on upload). Safe on a populated database: two integer columns with a
constant server default (on PostgreSQL 11+ a change to the catalogue only, no table rewrite).

Revision ID: d5e0f3b8c2a1
Revises: c4d9e2a7b1f0
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d5e0f3b8c2a1"
down_revision = "c4d9e2a7b1f0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rows_read', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('rows_total', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.drop_column('rows_total')
        batch_op.drop_column('rows_read')
