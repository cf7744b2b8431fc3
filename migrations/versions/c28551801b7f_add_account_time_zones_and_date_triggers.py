"""add account time zones and date triggers

Accounts get a time zone (UTC until chosen); automation runs get the occurrence (the year) of the
date that started them, unique per automation and contact, so a date trigger starts a contact once
a year. Safe on a populated database: a column with a constant default and a nullable column
rewrite nothing on PostgreSQL 11+, existing runs keep NULL (outside the partial index), and
PostgreSQL builds the index concurrently, without blocking writes.

Revision ID: c28551801b7f
Revises: ccbea0b796b6
Create Date: 2026-12-03 07:46:05.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c28551801b7f'
down_revision = 'ccbea0b796b6'
branch_labels = None
depends_on = None

COLUMNS = ['automation_id', 'contact_id', 'occurrence']


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))

    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence', sa.String(length=10), nullable=True))

    where = sa.text("occurrence IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index('uq_automation_runs_occurrence', 'automation_runs', COLUMNS, unique=True,
                            postgresql_where=where, postgresql_concurrently=True)
    else:
        op.create_index('uq_automation_runs_occurrence', 'automation_runs', COLUMNS, unique=True,
                        sqlite_where=where)


def downgrade():
    op.drop_index('uq_automation_runs_occurrence', table_name='automation_runs')
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.drop_column('occurrence')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
