"""Task bodies of `kyc_onboarding`: each reads Airflow's context and delegates to the domain core."""

from __future__ import annotations

import logging
from typing import Any

from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def request_conf(params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """What the run asks for: customer ids (a conf by reference, see `kyc_airflow.intake`), else the form or batch."""
    from kyc_core.customers.intake import CUSTOMER_IDS, REJECTED_FIELDS
    from kyc_core.customers.request import conf_from_params

    run_conf = getattr(context.get("dag_run"), "conf", None) or {}
    by_reference = {k: run_conf[k] for k in (CUSTOMER_IDS, REJECTED_FIELDS) if run_conf.get(k)}
    return by_reference or conf_from_params(params)


def validate_request(conf: dict[str, Any], context: dict[str, Any]) -> int:
    """Validate the trigger's conf; on failure record `input_rejected` and fail without retry."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.customers.intake import CUSTOMER_IDS, REJECTED_FIELDS, referenced_ids
    from kyc_core.customers.registration import record_rejection
    from kyc_core.customers.request import InvalidRequest, parse_request
    from kyc_core.store.db import session_scope

    def refuse(errors: list[dict[str, str]], message: str) -> None:
        for item in errors:
            log.error("rejected field %s: %s", item["field"], item["message"])
        raise AirflowFailException(message)

    if conf.get(REJECTED_FIELDS):  # refused at intake, where its `input_rejected` event was recorded
        error = InvalidRequest(conf[REJECTED_FIELDS])
        refuse(error.errors, str(error))
    try:
        if CUSTOMER_IDS in conf:
            with session_scope(kyc_database_url()) as session:
                count = len(referenced_ids(session, conf))
        else:
            count = len(parse_request(conf).customers)
    except InvalidRequest as error:
        with session_scope(kyc_database_url()) as session:
            record_rejection(session, error, actor=actor_for(context), run_id=run_id_of(context))
        refuse(error.errors, str(error))
    log.info("request valid: %d customer(s)", count)
    return count


def register_customers(conf: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """Persist every customer of the request (idempotent) and return their ids; ids given by reference as they are."""
    from kyc_core.customers.intake import CUSTOMER_IDS, referenced_ids
    from kyc_core.customers.registration import register_batch
    from kyc_core.customers.request import parse_request
    from kyc_core.store.db import session_scope

    if CUSTOMER_IDS in conf:
        with session_scope(kyc_database_url()) as session:
            return referenced_ids(session, conf)
    request = parse_request(conf)
    with session_scope(kyc_database_url()) as session:
        registered = register_batch(session, request, actor=actor_for(context), run_id=run_id_of(context))
    for item in registered:
        log.info("customer %s %s", item.customer_id, "created" if item.created else ("updated" if item.changed else "unchanged"))
    return [item.customer_id for item in registered]


def assessment_context(context: dict[str, Any]) -> Any:
    """Where the assessment reads and writes, from Airflow connections and the core's settings."""
    from kyc_core.onboarding.pipeline import AssessmentContext
    from kyc_core.settings import get_settings

    from kyc_airflow.hooks.sources import registry_endpoints

    try:
        endpoints = registry_endpoints()
    except Exception as exc:  # noqa: BLE001 - a missing connection is reported, and fails closed
        log.error("register connections not usable (%s): entities will be decided as source_unavailable", type(exc).__name__)
        endpoints = None
    ti = context.get("ti")
    return AssessmentContext(
        database_url=kyc_database_url(),
        run_id=run_id_of(context) or "manual",
        actor=actor_for(context),
        task_id=f"{getattr(ti, 'task_id', '?')}[{getattr(ti, 'map_index', -1)}]",
        redis_url=get_settings().redis_url,
        endpoints=endpoints,
    )


def _label(context: dict[str, Any], customer_id: str) -> None:
    """Label the mapped instance in the grid with the customer's external reference (never a name)."""
    from kyc_core.store import customers as customer_repo
    from kyc_core.store.db import session_scope

    context["customer_label"] = customer_id[:8]
    with session_scope(kyc_database_url()) as session:
        customer = customer_repo.get(session, customer_id)
        if customer is not None:
            context["customer_label"] = customer.customer_ref


def run_stage(customer_id: str, stage: str, context: dict[str, Any], sources: list[str] | None = None) -> dict[str, Any]:
    """One stage of a customer's assessment in this run (fetch, resolve, screen, score, paid, decide)."""
    from kyc_core.onboarding.pipeline import run_stage as run

    _label(context, customer_id)
    result = run(assessment_context(context), customer_id, stage, sources)
    log.info("customer %s: %s done", customer_id, stage)
    return result


def decide(customer_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """The proposed decision of one customer: **the** place integrators read it (this task's return value)."""
    summary = run_stage(customer_id, "decide", context)
    log.info("customer %s: %s (%s)", customer_id, summary["outcome"], summary["status"])
    return summary


def notify(summary: dict[str, Any], context: dict[str, Any]) -> bool:
    """E-mail compliance for EDD, reject and strong sanctions hits; True when a message was sent."""
    from kyc_core.notify import needs_notice

    from kyc_airflow.notifiers.compliance import ComplianceNotifier

    context["customer_label"] = summary.get("reference") or summary["customer_id"][:8]
    if not needs_notice(summary):
        log.info("customer %s: %s, no notice needed", summary["customer_id"], summary["outcome"])
        return False
    ComplianceNotifier(summary=summary).notify(context)
    log.info("customer %s: notice sent to compliance", summary["customer_id"])
    return True
