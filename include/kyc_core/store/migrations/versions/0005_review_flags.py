"""Review flags: why a customer is queued for re-review (delta screening, a register event, a manual flag).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_flag",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_review_flag_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_flag")),
    )
    op.create_index("ix_review_flag_customer_id", "review_flag", ["customer_id"])
    # Selection of flagged customers reads the open flags only.
    op.create_index("ix_review_flag_open", "review_flag", ["cleared_at", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_review_flag_open", table_name="review_flag")
    op.drop_index("ix_review_flag_customer_id", table_name="review_flag")
    op.drop_table("review_flag")
