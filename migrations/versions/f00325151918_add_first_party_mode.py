"""add first-party mode

A site served through its own reverse proxy: a flag and the proxy's secret. Both columns have
constant defaults, so adding them rewrites no rows on PostgreSQL 11 or later.

Revision ID: f00325151918
Revises: d5e0f3b8c2a1
Create Date: 2026-12-02 04:20:01.072870

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f00325151918'
down_revision = 'd5e0f3b8c2a1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tracking_sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_party', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('proxy_secret', sa.String(length=64), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('tracking_sites', schema=None) as batch_op:
        batch_op.drop_column('proxy_secret')
        batch_op.drop_column('first_party')

