"""emails carry their from name

An automation step's email is delivered by its own job, later: the sender's name travels with
the row. Safe on a populated database: NOT NULL with a constant default, which PostgreSQL adds
without rewriting the table.

Revision ID: be3c2cefe250
Revises: 9e55a4cda098
Create Date: 2026-12-01 20:54:49.468357

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'be3c2cefe250'
down_revision = '9e55a4cda098'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_name', sa.String(length=100), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_column('from_name')

