"""Task bodies of `kyc_case_review`: each reads Airflow's context and delegates to the domain core."""

from __future__ import annotations

import logging
from typing import Any

from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def plan_review(decision_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """Which review the decision needs (ids and codes only); a decision that needs none skips the run."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.cases.review import FourEyesViolation, plan_of
    from kyc_core.store.db import session_scope

    try:
        with session_scope(kyc_database_url()) as session:
            plan = plan_of(session, decision_id)
    except FourEyesViolation as exc:
        # A wrong decision id in a manual trigger: retrying cannot fix it.
        raise AirflowFailException(str(exc)) from None
    log.info("decision %s: %s review, open stages %s", decision_id, plan.kind, list(plan.open_stages))
    return plan.to_xcom()


def finalize(plan: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The final decision from the answers (the reviewers are its actor); the integrator reads this return value."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.cases.review import FourEyesViolation
    from kyc_core.cases.review import finalize as finalize_decision
    from kyc_core.store.db import session_scope

    decision_id = plan["decision_id"]
    try:
        with session_scope(kyc_database_url()) as session:
            state = finalize_decision(session, decision_id, actor=actor_for(context), run_id=run_id_of(context))
    except FourEyesViolation as exc:
        raise AirflowFailException(str(exc)) from None
    log.info("decision %s final: %s (reviewers %s)", decision_id, state.outcome, ", ".join(state.reviewers) or "-")
    return {"decision_id": decision_id, "customer_id": plan["customer_id"], "proposed": state.proposed,
            "outcome": state.outcome, "status": state.status, "reviewers": list(state.reviewers)}


def await_sources(plan: dict[str, Any], context: dict[str, Any]) -> Any:
    """Poke: a decision waiting for a register is re-assessed once the register answers; the plan to review."""
    from dataclasses import replace
    from datetime import timedelta

    from airflow.sdk import PokeReturnValue
    from kyc_core.cases.review import plan_of
    from kyc_core.onboarding.reassess import REASSESSED, WAITING, reassess_when_sources_answer
    from kyc_core.settings import get_settings
    from kyc_core.store.db import session_scope

    from kyc_airflow.tasks.onboarding import assessment_context

    ctx = assessment_context(context)
    ctx = replace(ctx, run_id=f"{ctx.run_id}:reassessment")
    result = reassess_when_sources_answer(ctx, plan["decision_id"],
                                          deadline=timedelta(seconds=get_settings().source_retry_deadline_s))
    if result["status"] == WAITING:
        log.info("decision %s waits for %s", plan["decision_id"], ", ".join(result["missing"]))
        return PokeReturnValue(is_done=False)
    if result["status"] != REASSESSED:
        return PokeReturnValue(is_done=True, xcom_value=plan)
    with session_scope(kyc_database_url()) as session:
        new_plan = plan_of(session, result["decision_id"]).to_xcom()
    log.info("decision %s superseded by %s (%s)", plan["decision_id"], result["decision_id"], result["outcome"])
    return PokeReturnValue(is_done=True, xcom_value=new_plan)
