"""Source monitoring: evaluations, incidents, the alert outbox, loaded configurations, a ledger index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_health",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("breaker_state", sa.String(length=16), nullable=True),
        sa.Column("freshness_s", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_health")),
    )
    op.create_index("ix_source_health_source_evaluated", "source_health", ["source", "evaluated_at"])

    op.create_table(
        "source_incident",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("peak_severity", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("last_health_id", _ID, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_health_id"],
            ["source_health.id"],
            name=op.f("fk_source_incident_last_health_id_source_health"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_incident")),
    )
    op.create_index("ix_source_incident_opened_at", "source_incident", ["opened_at"])
    # One open incident per source and kind: two racing monitor runs cannot both open one.
    op.create_index(
        "uq_source_incident_open",
        "source_incident",
        ["source", "kind"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )

    op.create_table(
        "monitor_alert",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("incident_id", _ID, nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["source_incident.id"], name=op.f("fk_monitor_alert_incident_id_source_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alert")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_monitor_alert_alert_key")),
    )
    op.create_index("ix_monitor_alert_incident_id", "monitor_alert", ["incident_id"])
    op.create_index("ix_monitor_alert_sent_at", "monitor_alert", ["sent_at"])

    op.create_table(
        "monitor_config",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_monitor_config")),
    )
    op.create_index("ix_monitor_config_loaded_at", "monitor_config", ["loaded_at"])


def downgrade() -> None:
    op.drop_table("monitor_config")
    op.drop_table("monitor_alert")
    op.drop_table("source_incident")
    op.drop_table("source_health")
