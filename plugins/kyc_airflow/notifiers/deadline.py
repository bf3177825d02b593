"""The Deadline Alert of `kyc_onboarding`: a run without a final decision by the policy's deadline e-mails compliance."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)


async def decision_deadline_missed(context: dict[str, Any] | None = None, **_: Any) -> str:
    """Runs in the triggerer when the scheduler finds the deadline missed; returns the subject sent."""
    return await asyncio.to_thread(_send, context or {})


def _send(context: dict[str, Any]) -> str:
    from urllib.parse import quote

    from airflow.sdk.configuration import conf
    from kyc_core.monitoring.deadlines import deadline_mail, run_customers
    from kyc_core.notify import DEADLINE_MISSED, notice_key, send_once
    from kyc_core.settings import get_settings
    from kyc_core.store.db import session_scope

    from kyc_airflow.notifiers.mail import send_mail
    from kyc_airflow.runtime import kyc_database_url

    # The deadline context carries the run as the REST API shows it: `dag_run_id`, not `run_id`.
    dag_run = context.get("dag_run") or {}
    dag_id = dag_run.get("dag_id", "kyc_onboarding")
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id") or "?"
    database_url = kyc_database_url()
    with session_scope(database_url) as session:
        customers = run_customers(session, run_id)
    base = conf.get("api", "base_url", fallback=None)
    link = f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}" if base else None
    deadline_time = (context.get("deadline") or {}).get("deadline_time", "?")
    mail = deadline_mail(dag_id=dag_id, run_id=run_id, deadline_time=deadline_time, customers=customers, link=link)
    to = [get_settings().compliance_email]
    key = notice_key(DEADLINE_MISSED, dag_id, run_id, deadline_time)
    sent = send_once(
        database_url, key, kind=DEADLINE_MISSED, subject=mail.subject, recipients=to,
        send=lambda: send_mail(to=to, subject=mail.subject, text=mail.text, html=mail.html, idempotency_key=key),
        actor="airflow:deadline", run_id=run_id,
    )
    log.warning("decision deadline missed: %s (%s)", mail.subject, "e-mailed" if sent else "already e-mailed")
    return mail.subject


def decision_deadline_alert(interval: timedelta | None):
    """The DAG's `deadline=`: queued time + the policies' shortest final-decision SLA (None: no deadline)."""
    if interval is None:
        return None
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        callback=AsyncCallback(decision_deadline_missed),
        name="final decision",
    )
