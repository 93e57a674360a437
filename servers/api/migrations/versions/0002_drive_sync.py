"""Google Drive sync: watched folders, synced files, page tokens

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drive_folders',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('drive_id', sa.String(length=200), nullable=True),
    sa.Column('added_by', sa.String(length=32), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('drive_files',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('folder_id', sa.String(length=200), nullable=False),
    sa.Column('shortcut_id', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('mime_type', sa.String(length=200), nullable=False),
    sa.Column('revision', sa.String(length=100), nullable=True),
    sa.Column('material_id', sa.String(length=64), nullable=True),
    sa.Column('web_link', sa.String(length=2048), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('drive_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drive_files_folder_id'), ['folder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drive_files_shortcut_id'), ['shortcut_id'], unique=False)
    op.create_table('drive_state',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('drive_state')
    with op.batch_alter_table('drive_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drive_files_shortcut_id'))
        batch_op.drop_index(batch_op.f('ix_drive_files_folder_id'))
    op.drop_table('drive_files')
    op.drop_table('drive_folders')
