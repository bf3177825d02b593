"""Task bodies of `kyc_perpetual_review` and `kyc_full_rescreen`: each reads Airflow's context and delegates to the core.

XCom carries batch and shard numbers, customer and decision ids and counts only; logs name customers by id.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def review_day(context: dict[str, Any], requested: str | None = None) -> date:
    """The day a run reviews for: the `review_date` param, else the day the run was due (asset runs: now)."""
    if requested:
        try:
            return date.fromisoformat(str(requested))
        except ValueError:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"review_date: expected YYYY-MM-DD, got {requested!r}") from None
    dag_run = context.get("dag_run")
    for moment in (context.get("logical_date"), getattr(dag_run, "run_after", None)):
        if moment is not None:
            return moment.astimezone(UTC).date()
    return datetime.now(UTC).date()


def plan_review(params: dict[str, Any], context: dict[str, Any]) -> list[int]:
    """Select the run's customers once and split them into batches; the batch numbers."""
    from kyc_core.perpetual.selection import plan_run

    day = review_day(context, params.get("review_date"))
    plan = plan_run(kyc_database_url(), run_id_of(context) or "manual", today=day,
                    batch_size=int(params["batch_size"]), actor=actor_for(context))
    log.info("review of %s: %d customer(s) in %d batch(es); per reason %s", day, plan["customers"], len(plan["batches"]),
             plan["reasons"])
    return list(plan["batches"])


def review_batch(batch_no: int, context: dict[str, Any]) -> dict[str, Any]:
    """Re-assess one batch through the onboarding assessment; fails (and is retried) when a customer was not reviewed."""
    from airflow.sdk.exceptions import AirflowException
    from kyc_core.perpetual.review import review_batch as run

    from kyc_airflow.tasks.onboarding import assessment_context

    # The mapped instance is labelled with its batch number, never with customers.
    context["batch_label"] = f"batch {batch_no}"
    summary = run(assessment_context(context), int(batch_no))
    log.info("batch %d: %d customer(s), outcomes %s, %d decision(s) written, %d unchanged, %d source_unavailable, "
             "%d flag(s) cleared, %d review(s) to open", batch_no, summary["customers"], summary["outcomes"],
             summary["decisions_written"], summary["unchanged"], summary["source_unavailable"], summary["flags_cleared"],
             len(summary["reviews"]))
    if summary["failed"]:
        message = f"batch {batch_no}: {len(summary['failed'])} customer(s) not reviewed ({', '.join(summary['failed'][:5])})"
        ti = context.get("ti")
        if ti is not None and ti.try_number <= ti.max_tries:
            raise AirflowException(f"{message}; a retry reviews only those")
        # Last try: the batch's other reviews still go to people; those customers stay due (and their flags open),
        # so the next run takes them, and `summary` fails the run so that on-call hears of it.
        log.error("%s after the last try: left for the next run", message)
    return summary


def reviews_to_open(batches: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every decision of the run's batches that needs a person, for one `kyc_case_review` run each."""
    found = [entry for batch in batches or [] if batch for entry in batch.get("reviews") or ()]
    log.info("%d decision(s) go to human review", len(found))
    return found


def summarize_review(batches: list[dict[str, Any]] | None, context: dict[str, Any]) -> dict[str, Any]:
    """The run's counts per reason and outcome, decisions written, register calls, cache savings and cost."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.perpetual.review import run_summary

    summary = run_summary(kyc_database_url(), run_id_of(context) or "manual", list(batches or []))
    log.info("reviewed %d/%d customer(s); per reason %s; outcomes %s; %d decision(s) written, %d unchanged, "
             "%d source_unavailable; register calls %s; cost %.2f EUR, saved by the cache %.2f EUR",
             summary["reviewed"], summary["customers"], summary["reasons"], summary["outcomes"],
             summary["decisions_written"], summary["unchanged"], summary["source_unavailable"],
             summary["register_calls"], summary["cost_eur"], summary["saved_eur"])
    if summary["reviewed"] < summary["customers"]:
        raise AirflowFailException(f"{summary['customers'] - summary['reviewed']} selected customer(s) were not reviewed "
                                   "(see the review_batch logs); they stay due for the next run")
    return summary


def plan_rescreen(params: dict[str, Any], context: dict[str, Any]) -> list[dict[str, Any]]:
    """Split the book into shards of consecutive customer ids."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.errors import UserError
    from kyc_core.rescreen.full import plan_shards

    if not str(params.get("reason") or "").strip():
        raise AirflowFailException("reason: required (matcher change, policy change, new list...)")
    try:
        shards = plan_shards(kyc_database_url(), int(params["shard_size"]))
    except UserError as exc:
        raise AirflowFailException(str(exc)) from None
    log.info("full rescreen (%s): %d customer(s) in %d shard(s)", params["reason"], sum(s["customers"] for s in shards),
             len(shards))
    return shards


def rescreen_shard(shard: dict[str, Any], params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Screen one shard against the active lists, record hits once, flag customers with new ones."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.errors import UserError
    from kyc_core.rescreen.full import rescreen_shard as run

    context["shard_label"] = f"shard {shard.get('shard')}"
    try:
        return run(kyc_database_url(), shard, run_id=run_id_of(context) or "manual", reason=str(params["reason"]).strip(),
                   actor=actor_for(context))
    except UserError as exc:
        raise AirflowFailException(str(exc)) from None


def summarize_rescreen(shards: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Totals of the run over its shards."""
    from kyc_core.rescreen.full import rescreen_summary

    summary = rescreen_summary(list(shards or []))
    log.info("full rescreen: %d shard(s), %d customer(s), %d subject(s), %d hit(s) (%d new), %d customer(s) flagged",
             summary["shards"], summary["customers"], summary["subjects"], summary["hits"], summary["new_hits"],
             summary["customers_flagged"])
    return summary
