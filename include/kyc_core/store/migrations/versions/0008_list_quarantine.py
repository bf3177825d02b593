"""Sanctions list quarantine: no schema change.

A quarantined or rejected version is a `list_version.status` value (a String(16) column, no constraint to
widen), its quarantine reason sits in `refusal_reason`, and who decided, when and why is in the audit trail.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
