"""automation runs remember the page view that started them

A nullable column and a unique index (automation, page view) over the runs that have one: a page
view handed to the automation triggers again (its batch retried after a failed handler) starts no
second run. Safe on a populated database: adding a nullable column rewrites nothing, existing
runs keep NULL (outside the partial index), and PostgreSQL builds the index concurrently,
without blocking writes.

Revision ID: 9e55a4cda098
Revises: e7e696db5005
Create Date: 2026-12-01 20:52:13.275061

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e55a4cda098'
down_revision = 'e7e696db5005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_view_id', sa.Integer(), nullable=True))
    where = sa.text("page_view_id IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index('uq_automation_runs_automation_page_view', 'automation_runs',
                            ['automation_id', 'page_view_id'], unique=True, postgresql_where=where,
                            postgresql_concurrently=True)
    else:
        op.create_index('uq_automation_runs_automation_page_view', 'automation_runs',
                        ['automation_id', 'page_view_id'], unique=True, sqlite_where=where)


def downgrade():
    op.drop_index('uq_automation_runs_automation_page_view', table_name='automation_runs')
    with op.batch_alter_table('automation_runs', schema=None) as batch_op:
        batch_op.drop_column('page_view_id')

