"""Initial schema: tracking, logged models and the model registry; default experiment "0".

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiments',
    sa.Column('experiment_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workspace', sa.String(length=63), server_default='default', nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('artifact_location', sa.String(length=1000), nullable=False),
    sa.Column('lifecycle_stage', sa.String(length=32), nullable=False),
    sa.Column('creation_time', sa.BigInteger(), nullable=False),
    sa.Column('last_update_time', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('experiment_id'),
    sa.UniqueConstraint('workspace', 'name', name='uq_experiments_workspace_name')
    )
    op.create_table('latest_metrics',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('run_uuid', 'key', name='pk_latest_metrics')
    )
    op.create_index('ix_latest_metrics_key_value', 'latest_metrics', ['key', 'value'], unique=False)
    op.create_table('metrics',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=True),
    sa.Column('dataset_name', sa.String(length=500), nullable=True),
    sa.Column('dataset_digest', sa.String(length=36), nullable=True)
    )
    op.create_index('ix_metrics_run_key_step', 'metrics', ['run_uuid', 'key', 'step', 'timestamp'], unique=False)
    op.create_index('ix_metrics_model', 'metrics', ['model_id', 'key'], unique=False,
                    postgresql_where=sa.text('model_id IS NOT NULL'), sqlite_where=sa.text('model_id IS NOT NULL'))
    op.create_table('model_version_tags',
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('model_pk', 'version', 'key', name='pk_model_version_tags')
    )
    op.create_table('registered_models',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workspace', sa.String(length=63), server_default='default', nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('creation_timestamp', sa.BigInteger(), nullable=False),
    sa.Column('last_updated_timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace', 'name', name='uq_registered_models_workspace_name')
    )
    op.create_table('datasets',
    sa.Column('dataset_uuid', sa.String(length=36), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('digest', sa.String(length=36), nullable=False),
    sa.Column('source_type', sa.String(length=36), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('schema', sa.Text(), nullable=True),
    sa.Column('profile', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.experiment_id'], ),
    sa.PrimaryKeyConstraint('dataset_uuid'),
    sa.UniqueConstraint('experiment_id', 'name', 'digest', name='uq_datasets_experiment_name_digest')
    )
    op.create_table('experiment_tags',
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.experiment_id'], ),
    sa.PrimaryKeyConstraint('experiment_id', 'key', name='pk_experiment_tags')
    )
    op.create_table('logged_models',
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('artifact_location', sa.String(length=1000), nullable=False),
    sa.Column('creation_timestamp_ms', sa.BigInteger(), nullable=False),
    sa.Column('last_updated_timestamp_ms', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=32), nullable=False),
    sa.Column('model_type', sa.String(length=500), nullable=True),
    sa.Column('source_run_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.experiment_id'], ),
    sa.PrimaryKeyConstraint('model_id')
    )
    op.create_index('ix_logged_models_experiment', 'logged_models', ['experiment_id', 'creation_timestamp_ms'], unique=False)
    op.create_index('ix_logged_models_source_run', 'logged_models', ['source_run_id', 'name'], unique=False)
    op.create_index('ix_logged_models_experiment_name', 'logged_models', ['experiment_id', 'name'], unique=False)
    op.create_table('model_versions',
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('creation_timestamp', sa.BigInteger(), nullable=False),
    sa.Column('last_updated_timestamp', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('user_id', sa.String(length=256), nullable=True),
    sa.Column('current_stage', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('storage_location', sa.String(length=1000), nullable=True),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('run_link', sa.String(length=1000), nullable=True),
    sa.Column('model_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('deleted', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['model_pk'], ['registered_models.id'], ),
    sa.PrimaryKeyConstraint('model_pk', 'version', name='pk_model_versions')
    )
    op.create_index('ix_model_versions_run', 'model_versions', ['run_id'], unique=False)
    op.create_table('registered_model_aliases',
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['model_pk'], ['registered_models.id'], ),
    sa.PrimaryKeyConstraint('model_pk', 'alias', name='pk_registered_model_aliases')
    )
    op.create_table('registered_model_tags',
    sa.Column('model_pk', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['model_pk'], ['registered_models.id'], ),
    sa.PrimaryKeyConstraint('model_pk', 'key', name='pk_registered_model_tags')
    )
    op.create_table('runs',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), server_default='', nullable=False),
    sa.Column('user_id', sa.String(length=256), server_default='', nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('start_time', sa.BigInteger(), nullable=False),
    sa.Column('end_time', sa.BigInteger(), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=20), nullable=False),
    sa.Column('artifact_uri', sa.String(length=1000), nullable=False),
    sa.Column('deleted_time', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.experiment_id'], ),
    sa.PrimaryKeyConstraint('run_uuid')
    )
    op.create_index('ix_runs_experiment_start', 'runs', ['experiment_id', 'start_time', 'run_uuid'], unique=False)
    op.create_table('logged_model_params',
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['logged_models.model_id'], ),
    sa.PrimaryKeyConstraint('model_id', 'key', name='pk_logged_model_params')
    )
    op.create_table('logged_model_tags',
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['logged_models.model_id'], ),
    sa.PrimaryKeyConstraint('model_id', 'key', name='pk_logged_model_tags')
    )
    op.create_table('params',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_uuid'], ['runs.run_uuid'], ),
    sa.PrimaryKeyConstraint('run_uuid', 'key', name='pk_params')
    )
    op.create_index('ix_params_key_value', 'params', ['key', 'run_uuid'], unique=False)
    op.create_table('run_inputs',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('dataset_uuid', sa.String(length=36), nullable=False),
    sa.Column('tags', sa.Text(), server_default='[]', nullable=False),
    sa.ForeignKeyConstraint(['dataset_uuid'], ['datasets.dataset_uuid'], ),
    sa.ForeignKeyConstraint(['run_uuid'], ['runs.run_uuid'], ),
    sa.PrimaryKeyConstraint('run_uuid', 'dataset_uuid', name='pk_run_inputs')
    )
    op.create_table('run_outputs',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['logged_models.model_id'], ),
    sa.ForeignKeyConstraint(['run_uuid'], ['runs.run_uuid'], ),
    sa.PrimaryKeyConstraint('run_uuid', 'model_id', name='pk_run_outputs')
    )
    op.create_table('tags',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_uuid'], ['runs.run_uuid'], ),
    sa.PrimaryKeyConstraint('run_uuid', 'key', name='pk_tags')
    )
    op.create_index('ix_tags_key', 'tags', ['key', 'run_uuid'], unique=False)
    op.create_table('run_model_inputs',
    sa.Column('run_uuid', sa.String(length=32), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_uuid'], ['runs.run_uuid'], ),
    sa.PrimaryKeyConstraint('run_uuid', 'model_id', name='pk_run_model_inputs')
    )
    now = int(time.time() * 1000)
    experiments = sa.table("experiments", sa.column("experiment_id"), sa.column("workspace"),
                           sa.column("name"), sa.column("artifact_location"),
                           sa.column("lifecycle_stage"), sa.column("creation_time"),
                           sa.column("last_update_time"))
    op.bulk_insert(experiments, [{"experiment_id": 0, "workspace": "default", "name": "Default",
                                  "artifact_location": "mlflow-artifacts:/0",
                                  "lifecycle_stage": "active", "creation_time": now,
                                  "last_update_time": now}])


def downgrade() -> None:
    op.drop_index('ix_tags_key', table_name='tags')
    op.drop_table('tags')
    op.drop_table('run_outputs')
    op.drop_table('run_inputs')
    op.drop_index('ix_params_key_value', table_name='params')
    op.drop_table('params')
    op.drop_table('logged_model_tags')
    op.drop_table('logged_model_params')
    op.drop_index('ix_runs_experiment_start', table_name='runs')
    op.drop_table('runs')
    op.drop_table('registered_model_tags')
    op.drop_table('registered_model_aliases')
    op.drop_index('ix_model_versions_run', table_name='model_versions')
    op.drop_table('model_versions')
    op.drop_index('ix_logged_models_source_run', table_name='logged_models')
    op.drop_index('ix_logged_models_experiment', table_name='logged_models')
    op.drop_table('logged_models')
    op.drop_table('experiment_tags')
    op.drop_table('datasets')
    op.drop_table('run_model_inputs')
    op.drop_table('registered_models')
    op.drop_table('model_version_tags')
    op.drop_index('ix_metrics_run_key_step', table_name='metrics')
    op.drop_table('metrics')
    op.drop_index('ix_latest_metrics_key_value', table_name='latest_metrics')
    op.drop_table('latest_metrics')
    op.drop_table('experiments')
