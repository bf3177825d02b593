"""Personal data stays out of Airflow's records: an onboarding run is stored with customer ids only.

Whatever creates a `kyc_onboarding` run with customers in its conf (the UI's trigger form, Airflow's REST API, the
intake endpoint of the workspace), the customers are validated and registered in the KYC database first, and the
run's conf (and the audit-log entry of the trigger request) keep `{"customer_ids": [...]}`, or the rejected fields
of an invalid request with its `input_rejected` event recorded. This runs in the process that creates the run,
inside Airflow's own transaction (a listener on its ORM sessions, installed by the plugin): when the KYC database
cannot be reached, the trigger fails (HTTP 500, to be retried) and no run holding personal data is stored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

#: The DAG whose runs carry customers.
DAG_ID = "kyc_onboarding"
_CACHE = "kyc_intake_by_reference"
_installed = False


def _replacement(session: Any, conf: Any, *, actor: str, run_id: str | None) -> dict[str, Any] | None:
    """The conf by reference for a conf holding customers (None when it holds none); one registration per conf."""
    from kyc_core.customers.intake import by_reference, carries_personal_data
    from kyc_core.store.db import session_scope

    from kyc_airflow.runtime import kyc_database_url

    if not carries_personal_data(conf):
        return None
    key = json.dumps(conf, sort_keys=True, default=str)
    cache = session.info.setdefault(_CACHE, {})
    if key not in cache:
        with session_scope(kyc_database_url()) as kyc:
            cache[key] = by_reference(kyc, conf, actor=actor, run_id=run_id)
        log.info("onboarding run %s: customers registered, the run keeps their ids only", run_id)
    return dict(cache[key])


def _scrub(session: Any, flush_context: Any, instances: Any) -> None:
    """Before Airflow writes a new onboarding run or its trigger's audit-log entry: customers become ids."""
    new = list(session.new)
    if not new:
        return
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log

    for obj in new:
        if isinstance(obj, DagRun) and obj.dag_id == DAG_ID:
            replaced = _replacement(session, obj.conf, actor=f"user:{obj.triggering_user_name}" if obj.triggering_user_name
                                    else "airflow:kyc_onboarding", run_id=obj.run_id)
            if replaced is not None:
                obj.conf = replaced
        elif isinstance(obj, Log) and obj.dag_id == DAG_ID and obj.extra:
            try:
                extra = json.loads(obj.extra)
            except ValueError:
                continue
            if isinstance(extra, dict) and isinstance(extra.get("conf"), dict):
                replaced = _replacement(session, extra["conf"], actor=f"user:{obj.owner}", run_id=obj.run_id)
                if replaced is not None:
                    obj.extra = json.dumps({**extra, "conf": replaced})


def _forget(session: Any, *args: Any) -> None:
    session.info.pop(_CACHE, None)


def install() -> None:
    """Listen to Airflow's ORM sessions in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "before_flush", _scrub)
    event.listen(Session, "after_commit", _forget)
    event.listen(Session, "after_rollback", _forget)
    _installed = True


def uninstall() -> None:
    """Stop listening (tests)."""
    global _installed
    if not _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.remove(Session, "before_flush", _scrub)
    event.remove(Session, "after_commit", _forget)
    event.remove(Session, "after_rollback", _forget)
    _installed = False
