"""Analyst judgements on screening hits: new rows, never edits; the latest per pair wins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.store.models import MatchJudgement


class JudgementRow(NamedTuple):
    """One judgement as screening applies it (the fields of `kyc_core.screening.model.Judgement`)."""

    subject_key: str
    list_key: str
    entry_id: str
    entry_hash: str
    verdict: str


def for_customers(session: Session, customer_ids: Iterable[str], *, book_keys: bool = False) -> list[JudgementRow]:
    """Every judgement on these customers, oldest first; `book_keys` prefixes subject keys with the customer id."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    rows = session.scalars(
        select(MatchJudgement).where(MatchJudgement.customer_id.in_(ids)).order_by(MatchJudgement.created_at, MatchJudgement.id)
    )
    return [
        JudgementRow(f"{j.customer_id}|{j.subject_key}" if book_keys else j.subject_key, j.list_key, j.native_id, j.entry_hash, j.verdict)
        for j in rows
    ]
