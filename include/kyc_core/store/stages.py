"""Assessment-stage repository: the only writer of `assessment_stage` (working state of one assessment).

A stage's row is replaced when the stage runs again (a cleared task); the decision, not this table, is the
record: its lineage keeps what the decision was made from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.store.models import AssessmentStage


def save(session: Session, *, decision_id: str, customer_id: str, run_id: str, stage: str, payload: dict[str, Any],
         moment: datetime) -> None:
    """Store (or replace) what a stage found."""
    row = session.scalar(select(AssessmentStage).where(AssessmentStage.decision_id == decision_id,
                                                       AssessmentStage.stage == stage))
    if row is None:
        session.add(AssessmentStage(decision_id=decision_id, customer_id=customer_id, run_id=run_id, stage=stage,
                                    payload=payload, updated_at=moment))
    else:
        row.payload, row.updated_at = payload, moment
    session.flush()


def load(session: Session, decision_id: str) -> dict[str, dict[str, Any]]:
    """Every stored stage of an assessment: stage name -> payload."""
    rows = session.scalars(select(AssessmentStage).where(AssessmentStage.decision_id == decision_id))
    return {row.stage: dict(row.payload) for row in rows}
