"""Perpetual review: the customers each review run selected, its batches and what each review found.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FLAG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_item",
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("flag_up_to", _FLAG_ID, nullable=True),
        sa.Column("selected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_written", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_review_item_customer_id_customer")),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_review_item")),
    )
    # A mapped batch reads its own customers only.
    op.create_index("ix_review_item_run_batch", "review_item", ["run_id", "batch_no"])


def downgrade() -> None:
    op.drop_index("ix_review_item_run_batch", table_name="review_item")
    op.drop_table("review_item")
