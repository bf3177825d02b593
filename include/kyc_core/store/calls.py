"""Reads of the source-call ledger (`source_call`, written by `kyc_core.resilience.ledger`: in batches, paid rows at once)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc_core.store.models import SourceCall


def spent_since(session: Session, sources: Iterable[str], start: datetime) -> float:
    """What calls to these sources cost since `start` (EUR)."""
    total = session.scalar(
        select(func.coalesce(func.sum(SourceCall.cost), 0.0)).where(SourceCall.source.in_(list(sources)), SourceCall.started_at >= start)
    )
    return float(total or 0.0)


def billable_calls(session: Session, sources: Iterable[str], start: datetime) -> int:
    """Paid calls to these sources since `start`: what a register's own request count must reconcile with."""
    total = session.scalar(
        select(func.count()).select_from(SourceCall).where(
            SourceCall.source.in_(list(sources)), SourceCall.started_at >= start, SourceCall.cost > 0
        )
    )
    return int(total or 0)
