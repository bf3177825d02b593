"""One batch of a perpetual-review run through the onboarding assessment, and the run's summary.

Each customer is assessed with the run's reason as its purpose and `write_unchanged=False`: an assessment
that finds the same outcome, risk level and open hits as the customer's latest decision writes no decision,
only a `customer_reviewed` event, and moves the next review date. The flags the review acted on (those open
when the run selected the customer) are cleared only once the assessment is stored, in one transaction with
the customer's `review_item`; a flag raised since stays open for the next run. A re-run of a batch skips the
customers already marked reviewed and finds the decision of any it assessed before it stopped (one decision
id per customer and run), so each customer is assessed once per run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from kyc_core.errors import KycError
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.perpetual.selection import PURPOSES
from kyc_core.resilience.config import load_source_config
from kyc_core.store import flags as flag_repo
from kyc_core.store import reviews as review_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import SourceCall

log = logging.getLogger(__name__)

#: Reason code of a decision proposed because a mandatory source could not be consulted.
SOURCE_UNAVAILABLE = "source_unavailable"


@dataclass(frozen=True)
class ReviewSettings:
    """How a batch is reviewed: log progress every `progress_every` customers."""

    progress_every: int = 50


def _item_view(item: Any) -> dict[str, Any]:
    return {"customer_id": item.customer_id, "purpose": item.purpose, "flag_up_to": item.flag_up_to,
            "reviewed": item.reviewed_at is not None, "decision_id": item.decision_id, "outcome": item.outcome,
            "decision_written": item.decision_written}


def _review_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """What the review opener needs of a decision (ids and codes only)."""
    return {"customer_id": summary["customer_id"], "decision_id": summary["decision_id"], "outcome": summary["outcome"],
            "requires_review": True, "approvals_required": summary.get("approvals_required", 0),
            "review_run_id": summary.get("review_run_id")}


def _store_review(ctx: AssessmentContext, item: dict[str, Any], summary: dict[str, Any]) -> int:
    """Mark the customer reviewed and clear the flags acted on, in one transaction; flags cleared."""
    moment = datetime.now(UTC)
    customer_id = item["customer_id"]
    with session_scope(ctx.database_url) as session:
        first = review_repo.mark_reviewed(session, ctx.run_id, customer_id, decision_id=summary["decision_id"],
                                          outcome=summary["outcome"], decision_written=bool(summary.get("decision_written", True)),
                                          moment=moment)
        if not first or item["flag_up_to"] is None:
            return 0
        cleared = flag_repo.clear(session, customer_id, cleared_by=ctx.run_id, moment=moment, up_to_id=item["flag_up_to"])
        if cleared:
            append_event(session, EventType.REVIEW_FLAGS_CLEARED, actor=ctx.actor, customer_id=customer_id,
                         case_id=summary["decision_id"], run_id=ctx.run_id,
                         payload={"cleared": cleared, "up_to_flag_id": item["flag_up_to"], "purpose": item["purpose"]},
                         idempotency_key=f"review_flags_cleared:{ctx.run_id}:{customer_id}")
        return cleared


def review_batch(ctx: AssessmentContext, batch_no: int, *, settings: ReviewSettings | None = None,
                 assess: Callable[[AssessmentContext, str], dict[str, Any]] = assess_customer) -> dict[str, Any]:
    """Assess every customer of one batch of the run `ctx.run_id`; the batch's counts and the reviews to open.

    A customer whose assessment raised is left unreviewed (its flags stay open) and named in `failed`;
    the caller fails the task so that a retry reviews only those.
    """
    settings = settings or ReviewSettings()
    with session_scope(ctx.database_url) as session:
        items = [_item_view(i) for i in review_repo.batch(session, ctx.run_id, batch_no)]
    if not items:
        raise KycError(f"run {ctx.run_id} has no batch {batch_no}")
    outcomes: Counter[str] = Counter()
    purposes: Counter[str] = Counter()
    reviews: list[dict[str, Any]] = []
    failed: list[str] = []
    written = unchanged = skipped = unavailable = cleared = 0
    started = time.monotonic()
    for number, item in enumerate(items, 1):
        customer_id = item["customer_id"]
        purposes[item["purpose"]] += 1
        if item["reviewed"] and not item["decision_written"]:
            # Reviewed by an earlier try, nothing changed: no decision to look up, no review to open.
            skipped += 1
            unchanged += 1
            outcomes[item["outcome"]] += 1
            continue
        try:
            # A decision written by an earlier try is found by its id: returned at once, nothing fetched again.
            summary = assess(replace(ctx, purpose=item["purpose"], write_unchanged=False), customer_id)
        except Exception as exc:  # noqa: BLE001 - one customer's failure must not hide the others' reviews
            log.error("batch %d: customer %s not reviewed (%s: %s)", batch_no, customer_id, type(exc).__name__, exc)
            failed.append(customer_id)
            continue
        if item["reviewed"]:
            skipped += 1
        else:
            cleared += _store_review(ctx, item, summary)
        outcomes[summary["outcome"]] += 1
        if summary.get("decision_written", True):
            written += 1
            if summary.get("requires_review"):
                reviews.append(_review_entry(summary))
        else:
            unchanged += 1
        if any(r.get("code") == SOURCE_UNAVAILABLE for r in summary.get("top_reasons") or ()):
            unavailable += 1
        if number % settings.progress_every == 0 or number == len(items):
            elapsed = time.monotonic() - started
            log.info("batch %d: %d/%d customers (%.1f/s)", batch_no, number, len(items), number / elapsed if elapsed else 0.0)
    return {
        "batch": batch_no,
        "customers": len(items),
        "purposes": {p: purposes[p] for p in PURPOSES if purposes[p]},
        "outcomes": dict(sorted(outcomes.items())),
        "decisions_written": written,
        "unchanged": unchanged,
        "already_reviewed": skipped,
        "source_unavailable": unavailable,
        "flags_cleared": cleared,
        "reviews": reviews,
        "failed": failed,
    }


def source_usage(database_url: str, run_id: str) -> dict[str, dict[str, Any]]:
    """Per source, this run's register calls made and answered from the cache, their cost and the cache's savings."""
    with session_scope(database_url) as session:
        rows = session.execute(
            select(SourceCall.source, SourceCall.cache_hit, func.count(), func.coalesce(func.sum(SourceCall.cost), 0.0))
            .where(SourceCall.run_id == run_id, SourceCall.operation != "probe")
            .group_by(SourceCall.source, SourceCall.cache_hit)
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for source, cache_hit, count, cost in rows:
        entry = out.setdefault(source, {"calls": 0, "cached": 0, "cost_eur": 0.0, "saved_eur": 0.0})
        if cache_hit:
            entry["cached"] += int(count)
            # What the cache saved, at the first tier's price (the cost monitor prices the month's tiers exactly).
            entry["saved_eur"] = round(int(count) * load_source_config(source).price_of(1), 4)
        else:
            entry["calls"] += int(count)
        entry["cost_eur"] = round(entry["cost_eur"] + float(cost), 4)
    return dict(sorted(out.items()))


def run_summary(database_url: str, run_id: str, batches: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run's counts: customers per reason and per outcome, decisions written, unchanged, register calls and cost."""
    with session_scope(database_url) as session:
        stored = review_repo.counts(session, run_id)
        reasons = review_repo.reasons_of(session, run_id)
    batches = [b for b in batches or [] if b]
    usage = source_usage(database_url, run_id)
    return {
        "run_id": run_id,
        "customers": stored["customers"],
        "reasons": {p: reasons.get(p, 0) for p in PURPOSES},
        "purposes": stored["by_purpose"],
        "reviewed": stored["reviewed"],
        "outcomes": stored["outcomes"],
        "decisions_written": stored["decisions_written"],
        "unchanged": stored["unchanged"],
        "source_unavailable": sum(b.get("source_unavailable", 0) for b in batches),
        "flags_cleared": sum(b.get("flags_cleared", 0) for b in batches),
        "reviews_opened": sum(len(b.get("reviews") or ()) for b in batches),
        "register_calls": usage,
        "cost_eur": round(sum(u["cost_eur"] for u in usage.values()), 4),
        "saved_eur": round(sum(u["saved_eur"] for u in usage.values()), 4),
    }
