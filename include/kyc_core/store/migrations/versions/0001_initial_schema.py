"""Initial schema: customers, registry snapshots, lists, hits, judgements, decisions, audit, source calls.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=48), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_audit_event_event_id')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_event_hash')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_audit_event_idempotency_key'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_event_type'), ['event_type'], unique=False)

    op.create_table('customer',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_ref', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('siren', sa.String(length=9), nullable=True),
    sa.Column('identifiers', sa.JSON(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('flagged_for_review', sa.Boolean(), nullable=False),
    sa.Column('next_review_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('customer_ref', name=op.f('uq_customer_customer_ref'))
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_next_review_date'), ['next_review_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_siren'), ['siren'], unique=False)

    op.create_table('list_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('list_key', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_format', sa.String(length=32), nullable=False),
    sa.Column('source_uri', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('previous_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('delta_added', sa.Integer(), nullable=False),
    sa.Column('delta_changed', sa.Integer(), nullable=False),
    sa.Column('delta_removed', sa.Integer(), nullable=False),
    sa.Column('delta', sa.JSON(), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['previous_version_id'], ['list_version.id'], name=op.f('fk_list_version_previous_version_id_list_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_version'))
    )
    with op.batch_alter_table('list_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_version_content_hash'), ['content_hash'], unique=False)
        batch_op.create_index('ix_list_version_key_status', ['list_key', 'status'], unique=False)

    op.create_table('source_call',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('cache_hit', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error_class', sa.String(length=64), nullable=True),
    sa.Column('request_key', sa.String(length=128), nullable=True),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.Column('task_id', sa.String(length=250), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_call'))
    )
    with op.batch_alter_table('source_call', schema=None) as batch_op:
        batch_op.create_index('ix_source_call_source_started', ['source', 'started_at'], unique=False)

    op.create_table('decision',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('contributions', sa.JSON(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('lineage', sa.JSON(), nullable=False),
    sa.Column('policy_version', sa.String(length=64), nullable=True),
    sa.Column('next_review_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_decision_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision')),
    sa.UniqueConstraint('customer_id', 'run_id', name='uq_decision_customer_run')
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_customer_id'), ['customer_id'], unique=False)

    op.create_table('list_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('list_key', sa.String(length=32), nullable=False),
    sa.Column('native_id', sa.String(length=64), nullable=False),
    sa.Column('entry_type', sa.String(length=16), nullable=False),
    sa.Column('primary_name', sa.Text(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['list_version.id'], name=op.f('fk_list_entry_version_id_list_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_entry')),
    sa.UniqueConstraint('version_id', 'native_id', name='uq_list_entry_version_native')
    )
    with op.batch_alter_table('list_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_entry_version_id'), ['version_id'], unique=False)

    op.create_table('match_judgement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('list_key', sa.String(length=32), nullable=False),
    sa.Column('native_id', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('analyst', sa.String(length=128), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_match_judgement_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_judgement'))
    )
    with op.batch_alter_table('match_judgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_judgement_customer_id'), ['customer_id'], unique=False)

    op.create_table('registry_snapshot',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('request_key', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('from_cache', sa.Boolean(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_registry_snapshot_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_snapshot')),
    sa.UniqueConstraint('source', 'request_key', 'content_hash', name='uq_registry_snapshot_content')
    )
    with op.batch_alter_table('registry_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_snapshot_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_snapshot_request_key'), ['request_key'], unique=False)

    op.create_table('screening_hit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('subject_role', sa.String(length=16), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('list_key', sa.String(length=32), nullable=False),
    sa.Column('native_id', sa.String(length=64), nullable=False),
    sa.Column('list_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('matched_name', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('matcher_version', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_screening_hit_customer_id_customer')),
    sa.ForeignKeyConstraint(['list_version_id'], ['list_version.id'], name=op.f('fk_screening_hit_list_version_id_list_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_hit')),
    sa.UniqueConstraint('customer_id', 'subject_key', 'list_key', 'native_id', 'entry_hash', 'run_id', name='uq_screening_hit_once')
    )
    with op.batch_alter_table('screening_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_hit_customer_id'), ['customer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('screening_hit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_hit_customer_id'))

    op.drop_table('screening_hit')
    with op.batch_alter_table('registry_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_snapshot_request_key'))
        batch_op.drop_index(batch_op.f('ix_registry_snapshot_customer_id'))

    op.drop_table('registry_snapshot')
    with op.batch_alter_table('match_judgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_judgement_customer_id'))

    op.drop_table('match_judgement')
    with op.batch_alter_table('list_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_entry_version_id'))

    op.drop_table('list_entry')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_customer_id'))

    op.drop_table('decision')
    with op.batch_alter_table('source_call', schema=None) as batch_op:
        batch_op.drop_index('ix_source_call_source_started')

    op.drop_table('source_call')
    with op.batch_alter_table('list_version', schema=None) as batch_op:
        batch_op.drop_index('ix_list_version_key_status')
        batch_op.drop_index(batch_op.f('ix_list_version_content_hash'))

    op.drop_table('list_version')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_siren'))
        batch_op.drop_index(batch_op.f('ix_customer_next_review_date'))

    op.drop_table('customer')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_event_type'))
        batch_op.drop_index(batch_op.f('ix_audit_event_customer_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_case_id'))

    op.drop_table('audit_event')
