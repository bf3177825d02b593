"""Registry watch: register events with their evidence, and how far each source was read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("evidence_key", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("severe", sa.Boolean(), nullable=False),
        sa.Column("notice_id", sa.String(length=64), nullable=True),
        sa.Column("snapshot_before_id", _ID, nullable=True),
        sa.Column("snapshot_after_id", _ID, nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("customer_ids", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(["snapshot_before_id"], ["registry_snapshot.id"],
                                name=op.f("fk_registry_event_snapshot_before_id_registry_snapshot")),
        sa.ForeignKeyConstraint(["snapshot_after_id"], ["registry_snapshot.id"],
                                name=op.f("fk_registry_event_snapshot_after_id_registry_snapshot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_event")),
        sa.UniqueConstraint("siren", "event_type", "evidence_key", name="uq_registry_event_evidence"),
    )
    op.create_index("ix_registry_event_siren", "registry_event", ["siren"])
    op.create_index("ix_registry_event_detected_at", "registry_event", ["detected_at"])
    op.create_table(
        "source_watermark",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("source", "scope", name=op.f("pk_source_watermark")),
    )


def downgrade() -> None:
    op.drop_table("source_watermark")
    op.drop_index("ix_registry_event_detected_at", table_name="registry_event")
    op.drop_index("ix_registry_event_siren", table_name="registry_event")
    op.drop_table("registry_event")
