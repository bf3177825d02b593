"""Task bodies of `kyc_onboarding`: each reads Airflow's context and delegates to the domain core."""

from __future__ import annotations

import logging
from typing import Any

from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def validate_request(conf: dict[str, Any], context: dict[str, Any]) -> int:
    """Validate the trigger's conf; on failure record `input_rejected` and fail without retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from kyc_core.onboarding.customers import record_rejection
    from kyc_core.onboarding.request import InvalidRequest, parse_request
    from kyc_core.store.db import session_scope

    try:
        request = parse_request(conf)
    except InvalidRequest as error:
        with session_scope(kyc_database_url()) as session:
            record_rejection(session, error, actor=actor_for(context), run_id=run_id_of(context))
        for item in error.errors:
            log.error("rejected field %s: %s", item["field"], item["message"])
        raise AirflowFailException(str(error)) from None
    log.info("request valid: %d customer(s)", len(request.customers))
    return len(request.customers)


def register_customers(conf: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """Persist every customer of the request (idempotent) and return their ids."""
    from kyc_core.onboarding.customers import register_batch
    from kyc_core.onboarding.request import parse_request
    from kyc_core.store.db import session_scope

    request = parse_request(conf)
    with session_scope(kyc_database_url()) as session:
        registered = register_batch(session, request, actor=actor_for(context), run_id=run_id_of(context))
    for item in registered:
        log.info("customer %s %s", item.customer_id, "created" if item.created else ("updated" if item.changed else "unchanged"))
    return [item.customer_id for item in registered]
