"""add browsers and identity rules

The browsers identified as contacts and the identity changes on contacts' timelines (two new
tables), the account's identity rules, the earlier views' mark on page views and the site's
verified-identify secret. New columns are nullable or have constant defaults, so adding them
rewrites no rows on PostgreSQL 11 or later (page_views included, partitioned or not).

Revision ID: 493f41eddba7
Revises: f00325151918
Create Date: 2026-12-02 10:22:03.604567

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '493f41eddba7'
down_revision = 'f00325151918'
branch_labels = None
depends_on = None


def _create_anonymous_visitor_index():
    """The partial index of anonymous views by visitor. On PostgreSQL it is built CONCURRENTLY
    (outside the migration's transaction), so a populated page_views keeps taking writes; a table
    already partitioned by month cannot, and gets a plain CREATE INDEX."""
    where = sa.text('contact_id IS NULL')
    columns = ['site_id', 'visitor_id', 'received_at']
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        op.create_index('ix_page_views_anonymous_visitor', 'page_views', columns, sqlite_where=where)
        return
    partitioned = bind.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'page_views' AND pg_table_is_visible(c.oid))")).scalar()
    if partitioned:
        op.create_index('ix_page_views_anonymous_visitor', 'page_views', columns, postgresql_where=where)
        return
    with op.get_context().autocommit_block():
        op.create_index('ix_page_views_anonymous_visitor', 'page_views', columns, postgresql_where=where,
                        postgresql_concurrently=True, if_not_exists=True)


def upgrade():
    op.create_table('browsers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('visitor_id', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('forwarded_contact_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('device', sa.String(length=10), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('forgotten_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_browsers_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_browsers_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['forwarded_contact_id'], ['contacts.id'], name=op.f('fk_browsers_forwarded_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['tracking_sites.id'], name=op.f('fk_browsers_site_id_tracking_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_browsers'))
    )
    with op.batch_alter_table('browsers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_browsers_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_browsers_contact_seen', ['contact_id', 'last_seen_at'], unique=False)
        batch_op.create_index('ix_browsers_forwarded', ['forwarded_contact_id'], unique=False)
        batch_op.create_index('ix_browsers_site_visitor', ['site_id', 'visitor_id'], unique=True)

    op.create_table('identity_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('browser_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('other_contact_id', sa.Integer(), nullable=True),
    sa.Column('device', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_identity_changes_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['browser_id'], ['browsers.id'], name=op.f('fk_identity_changes_browser_id_browsers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_identity_changes_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['other_contact_id'], ['contacts.id'], name=op.f('fk_identity_changes_other_contact_id_contacts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_changes'))
    )
    with op.batch_alter_table('identity_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_changes_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_identity_changes_contact_at', ['contact_id', 'at'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('browsers_per_contact', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('attach_earlier_visits', sa.Boolean(), server_default=sa.text('false'), nullable=False))

    with op.batch_alter_table('page_views', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attached_at', sa.DateTime(), nullable=True))
    _create_anonymous_visitor_index()

    with op.batch_alter_table('tracking_sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identify_secret', sa.String(length=64), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('tracking_sites', schema=None) as batch_op:
        batch_op.drop_column('identify_secret')

    op.drop_index('ix_page_views_anonymous_visitor', table_name='page_views')
    with op.batch_alter_table('page_views', schema=None) as batch_op:
        batch_op.drop_column('attached_at')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('attach_earlier_visits')
        batch_op.drop_column('browsers_per_contact')

    with op.batch_alter_table('identity_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_changes_contact_at')
        batch_op.drop_index(batch_op.f('ix_identity_changes_account_id'))

    op.drop_table('identity_changes')
    with op.batch_alter_table('browsers', schema=None) as batch_op:
        batch_op.drop_index('ix_browsers_site_visitor')
        batch_op.drop_index('ix_browsers_forwarded')
        batch_op.drop_index('ix_browsers_contact_seen')
        batch_op.drop_index(batch_op.f('ix_browsers_account_id'))

    op.drop_table('browsers')
