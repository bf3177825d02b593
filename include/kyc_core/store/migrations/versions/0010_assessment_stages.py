"""Assessment stages: what each stage of an onboarding assessment found, so a cleared stage re-runs alone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assessment_stage",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_assessment_stage_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_stage")),
        sa.UniqueConstraint("decision_id", "stage", name="uq_assessment_stage_decision_stage"),
    )


def downgrade() -> None:
    op.drop_table("assessment_stage")
