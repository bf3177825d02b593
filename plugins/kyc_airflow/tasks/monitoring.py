"""Task bodies of `kyc_source_sla_monitor` and `kyc_source_cost_monitor`; each delegates to `kyc_core.monitoring`."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def run_link(context: dict[str, Any]) -> str | None:
    """This run in the Airflow UI (`[api] base_url`)."""
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback=None)
    dag_run = context.get("dag_run")
    if not base or dag_run is None:
        return None
    return f"{base.rstrip('/')}/dags/{dag_run.dag_id}/runs/{quote(dag_run.run_id, safe='')}"


def _probe_targets(sources: list[str]) -> list:
    """Probe targets of the configured sources whose connection is usable (others are left unmeasured)."""
    from kyc_core.monitoring.probe import list_targets, register_targets

    targets = []
    try:
        from kyc_airflow.hooks.sources import registry_endpoints

        targets += [t for t in register_targets(registry_endpoints()) if t.source in sources]
    except Exception as exc:  # noqa: BLE001 - reported; the registers then show as unknown, never healthy
        log.error("register connections not usable for probes (%s)", type(exc).__name__)
    try:
        targets += list_targets({s: u for s, u in _list_urls().items() if s in sources})
    except Exception as exc:  # noqa: BLE001
        log.error("sanctions list connection not usable for probes (%s)", type(exc).__name__)
    return targets


def _list_urls() -> dict[str, str]:
    """First file URL of each enabled list, keyed by guard source."""
    from kyc_core.lists.sources import enabled_lists, resolve_source

    from kyc_airflow.hooks.sources import SanctionsListHook

    hook = SanctionsListHook()
    base_url = hook.get_endpoint().base_url
    extra = hook.get_connection(hook.conn_id).extra_dejson
    urls: dict[str, str] = {}
    for key in enabled_lists(extra):
        source = resolve_source(key, base_url, extra)
        urls.setdefault(source.source, source.files[0].url)
    return urls


def probe_sources(context: dict[str, Any]) -> dict[str, str]:
    """One canary probe per source, recorded in the call ledger; the outcome per source."""
    from kyc_core.monitoring.config import load_sla
    from kyc_core.monitoring.probe import run_probes
    from kyc_core.resilience.ledger import CallContext, CallLedger

    sources = list(load_sla().config.sources)
    targets = _probe_targets(sources)
    ti = context.get("ti")
    records = asyncio.run(
        run_probes(targets, context=CallContext(run_id_of(context), getattr(ti, "task_id", None)))
    )
    ledger = CallLedger(kyc_database_url())
    for record in records:
        ledger.record(record)
    ledger.flush()
    outcomes = {r.source: f"{r.outcome} {r.http_status or ''}".strip() for r in records}
    log.info("probes: %s", ", ".join(f"{s}={o}" for s, o in sorted(outcomes.items())) or "none possible")
    return outcomes


def breaker_states(sources: list[str]) -> dict[str, str | None]:
    """Breaker state per source as every worker sees it (Redis); None without Redis, or with Redis unreachable."""
    from kyc_core.resilience import InfrastructureUnavailable, get_backend
    from kyc_core.settings import get_settings

    if not get_settings().redis_url:
        return {s: None for s in sources}
    backend = get_backend()

    async def read() -> dict[str, str | None]:
        try:
            return {s: (await backend.breaker_snapshot(s)).state for s in sources}
        finally:
            await backend.aclose()

    try:
        return asyncio.run(read())
    except InfrastructureUnavailable as exc:
        # The Redis incident says so; the sources are judged without their breaker meanwhile.
        log.error("breaker states unreadable: %s", exc)
        return {s: None for s in sources}


def _sla_or_none():
    """The SLA configuration from its file, or None when the file is refused (the fallback alert still goes)."""
    from kyc_core.errors import UserError
    from kyc_core.monitoring.config import load_sla

    try:
        return load_sla().config
    except UserError as exc:
        log.error("SLA file refused (%s): infrastructure checks use their defaults", exc)
        return None


def _send_direct(mail, recipients: list[str], key: str) -> None:
    """One alert straight through `kyc_smtp`, when the KYC database (and its outbox) cannot be used."""
    from kyc_airflow.notifiers.mail import send_mail

    send_mail(to=recipients, subject=mail.subject, text=mail.text, html=mail.html, idempotency_key=key)


def check_infrastructure(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Probe Redis (PING) and the KYC database (SELECT 1); the probes, for `evaluate`.

    The KYC database unreachable: on-call is e-mailed directly (deduplicated through Redis when it answers,
    see `kyc_core.monitoring.infrastructure.alert_unrecorded`) and the task fails without retry, so the run
    shows red; its failure e-mail is not sent on top of that alert.
    """
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.monitoring.infrastructure import KYC_DATABASE, REDIS, alert_unrecorded, probe_all
    from kyc_core.settings import get_settings

    from kyc_airflow.notifiers.failure import oncall_recipients

    config = _sla_or_none()
    redis_url = get_settings().redis_url
    probes = probe_all(kyc_database_url(), redis_url, config.infrastructure if config is not None else None)
    for probe in probes.values():
        (log.error if probe.down else log.info)("%s: %s", probe.component, probe.describe())
    database = probes[KYC_DATABASE]
    if database.down:
        result = alert_unrecorded(
            database,
            config=config,
            fallback_recipients=oncall_recipients() if config is None else [],
            send=_send_direct,
            redis_url=redis_url,
            redis_probe=probes[REDIS],
            run_link=run_link(context),
        )
        log.error("on-call %s: %s (%s)", "e-mailed" if result.sent else "not e-mailed again", result.subject, result.note)
        failure = AirflowFailException(
            f"KYC database unreachable ({database.error_class}): on-call "
            f"{'e-mailed' if result.sent else 'e-mailed before'}, {result.note}"
        )
        # Read by the failure notifier: this alert is the e-mail on-call needs, no second one.
        setattr(failure, "oncall_alerted", True)  # noqa: B010
        raise failure
    return {component: probe.as_dict() for component, probe in probes.items()}


def _infrastructure_probes(context: dict[str, Any]):
    """The probes `check_infrastructure` returned in this run; None when it did not succeed."""
    from kyc_core.monitoring.infrastructure import Probe

    ti = context.get("ti")
    found = ti.xcom_pull(task_ids="check_infrastructure") if ti is not None else None
    if not found:
        return None
    return {component: Probe.from_dict(data) for component, data in found.items()}


def evaluate(context: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every source and our infrastructure, store it, update incidents and queue alerts; the statuses."""
    from airflow.sdk.exceptions import AirflowSkipException
    from kyc_core.monitoring.config import load_sla
    from kyc_core.monitoring.infrastructure import REDIS, clear_unrecorded, read_unrecorded
    from kyc_core.monitoring.monitor import run_monitor
    from kyc_core.settings import get_settings

    probes = _infrastructure_probes(context)
    if probes is None:
        # check_infrastructure failed (the KYC database unreachable: it alerted) or did not run.
        raise AirflowSkipException("check_infrastructure did not pass: nothing can be evaluated")
    try:
        sources = list(load_sla().config.sources)
    except Exception:  # noqa: BLE001 - the monitor falls back to the configuration in force and says so
        sources = []
    redis_url = get_settings().redis_url
    redis_up = probes[REDIS].state == "up"
    unrecorded = read_unrecorded(redis_url) if redis_up else None
    result = run_monitor(
        kyc_database_url(),
        load_sla,
        breakers=breaker_states(sources) if redis_up else {s: None for s in sources},
        run_id=run_id_of(context),
        run_link=run_link(context),
        infrastructure=probes,
        unrecorded=unrecorded,
    )
    if unrecorded is not None:
        clear_unrecorded(redis_url)
    if result.config_error:
        log.error(
            "SLA file refused, previous configuration %s in force: %s",
            result.config_hash[:12],
            result.config_error,
        )
    log.info(
        "statuses: %s; infrastructure: %s; alerts queued: %d",
        result.statuses,
        result.infrastructure,
        len(result.alerts_created),
    )
    return {
        "statuses": result.statuses,
        "infrastructure": result.infrastructure,
        "alerts_queued": len(result.alerts_created),
        "config_hash": result.config_hash,
    }


def _send(alert) -> None:
    """Send one outbox row through `kyc_smtp`, with its attachments."""
    from kyc_airflow.notifiers.mail import Attachment, send_mail

    files = [
        Attachment(a["filename"], base64.b64decode(a["content_b64"]), inline_cid=a.get("cid"))
        for a in alert.attachments or []
    ]
    send_mail(
        to=alert.recipients,
        subject=alert.subject,
        text=alert.body_text,
        html=alert.body_html,
        attachments=files,
        headers={"X-KYC-Alert-Key": alert.alert_key},
    )


def send_alerts(context: dict[str, Any], only_keys: list[str] | None = None) -> dict[str, int]:
    """Send every pending alert (or only `only_keys`); fail (and retry) while any stays pending."""
    from airflow.sdk.exceptions import AirflowException
    from kyc_core.monitoring.monitor import send_pending

    sent, failed = send_pending(
        kyc_database_url(), _send, actor=actor_for(context), run_id=run_id_of(context), only_keys=only_keys
    )
    for key in sent:
        log.info("alert sent: %s", key)
    if failed:
        # Pending alerts stay in the outbox: this retry, or the next run, sends them (once).
        raise AirflowException(f"{len(failed)} alert(s) not sent, kept pending: {', '.join(failed)}")
    return {"sent": len(sent)}


def notify_delta_screening(context: dict[str, Any]) -> dict[str, Any]:
    """One compliance e-mail per delta-screening run listing the flagged customer ids and hit counts (once)."""
    from kyc_core.monitoring.delta_notice import queue_delta_notice
    from kyc_core.settings import get_settings

    run_id = run_id_of(context) or "manual"
    key = queue_delta_notice(
        kyc_database_url(), run_id, recipients=[get_settings().compliance_email], link=run_link(context)
    )
    if key is None:
        log.info("no customer flagged: no compliance e-mail")
        return {"sent": 0}
    return send_alerts(context, only_keys=[key])


def cost_check(context: dict[str, Any], report_month: str | None = None) -> dict[str, Any]:
    """Spend this month against budgets; queue threshold alerts, and the monthly report on the 1st (or when asked)."""
    from datetime import UTC, datetime

    from kyc_core.monitoring.config import load_budget
    from kyc_core.monitoring.cost import month_bounds, previous_month, run_cost_monitor

    now = datetime.now(UTC)
    if report_month:
        month_bounds(report_month)  # refuses a malformed month before anything is written
    elif now.day == 1:
        report_month = previous_month(now)
    result = run_cost_monitor(
        kyc_database_url(),
        load_budget,
        now=now,
        run_id=run_id_of(context),
        run_link=run_link(context),
        report_month=report_month,
    )
    if result.config_error:
        log.error(
            "budget file refused, previous configuration %s in force: %s",
            result.config_hash[:12],
            result.config_error,
        )
    log.info(
        "month %s: total spend %.2f EUR; alerts queued: %s",
        result.month,
        result.total_spend,
        result.alerts_created,
    )
    return {
        "month": result.month,
        "total_spend_eur": round(result.total_spend, 2),
        "alerts_queued": len(result.alerts_created),
        "report_month": result.report_month,
    }
