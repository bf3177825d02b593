"""One SLA monitor evaluation over the KYC database: health rows, incidents and the alert outbox.

Exactly once: an alert row is inserted with a key unique per incident and transition, in the same
transaction as the incident change, and sent later by :func:`send_pending`. Evaluations are
serialised (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so racing runs see each
other's incidents; the unique key makes a re-run a no-op. A failed send leaves the row pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kyc_core.errors import UserError
from kyc_core.monitoring.alerts import AlertFacts, Rendered, render
from kyc_core.monitoring.config import Loaded, SlaConfig, from_raw
from kyc_core.monitoring.incidents import OpenIncident, apply_change, decide
from kyc_core.monitoring.infrastructure import Probe, Unrecorded, apply_infrastructure
from kyc_core.monitoring.status import SEVERITY_RANK, Evaluation, evaluate
from kyc_core.monitoring.windows import last_answer_at, ledger_stats, utc
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import (
    AuditEvent,
    Decision,
    MonitorAlert,
    MonitorConfig,
    SourceCall,
    SourceHealth,
    SourceIncident,
)

logger = logging.getLogger(__name__)

# Any fixed 64-bit key: one monitor evaluation at a time on PostgreSQL.
_PG_MONITOR_LOCK = 0x4B5943_4D4F4E
#: Sources whose freshness is the time since their last successful download (probes excluded).
LIST_SOURCES = ("ofac", "eu", "un")
SAMPLE_SIZE = 5


def lock_monitoring(session: Session) -> None:
    """Serialise monitor and cost evaluations for the transaction (PostgreSQL; SQLite writers already are)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MONITOR_LOCK})


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- configuration in force ----------------------------------------------------------------------------


def config_in_force(
    session: Session, kind: str, load: Callable[[], Loaded], now: datetime
) -> tuple[Loaded, str | None]:
    """The file's configuration when it validates (and remember it); else the last good one and the error."""
    try:
        loaded = load()
    except UserError as exc:
        previous = session.scalars(
            select(MonitorConfig)
            .where(MonitorConfig.kind == kind)
            .order_by(MonitorConfig.loaded_at.desc())
            .limit(1)
        ).first()
        if previous is None:
            raise
        logger.error(
            "%s configuration refused, previous version %s stays in force: %s", kind, previous.version, exc
        )
        return from_raw(kind, previous.content, f"stored {kind} configuration"), str(exc)
    stored = session.get(MonitorConfig, loaded.content_hash)
    if stored is None:
        session.add(
            MonitorConfig(
                content_hash=loaded.content_hash,
                kind=kind,
                version=loaded.config.version,
                content=loaded.raw,
                loaded_at=now,
            )
        )
    else:
        stored.loaded_at = now
    session.flush()
    return loaded, None


# --- evaluation ----------------------------------------------------------------------------------------


def evaluate_sources(
    session: Session,
    config: SlaConfig,
    *,
    now: datetime,
    breakers: dict[str, str | None],
    extra_windows: Iterable[float] = (),
) -> list[Evaluation]:
    """Every configured source judged at `now` from the ledger and its breaker state (plus figures over `extra_windows`)."""
    stats = ledger_stats(session, config.sources, now, sorted(set(config.windows) | set(extra_windows)))
    registers = [s for s in config.sources if s not in LIST_SOURCES]
    lists = [s for s in config.sources if s in LIST_SOURCES]
    last = last_answer_at(session, registers, now)
    last.update(last_download_at(session, lists, now))
    evaluations = []
    for source in config.sources:
        seen = last.get(source)
        freshness = (now - seen).total_seconds() if seen is not None else None
        evaluations.append(
            evaluate(
                source,
                stats[source],
                breaker_state=breakers.get(source),
                freshness_s=freshness,
                config=config,
            )
        )
    return evaluations


def last_download_at(session: Session, sources: list[str], now: datetime) -> dict[str, datetime | None]:
    """Last successful list download per source: a probe says the publisher is up, not that our copy is fresh."""
    return last_answer_at(session, sources, now, include_probes=False)


def store_evaluations(
    session: Session, evaluations: Iterable[Evaluation], sla: Loaded, *, now: datetime, run_id: str | None
) -> dict[str, SourceHealth]:
    """One `source_health` row per evaluation."""
    rows = {}
    for ev in evaluations:
        row = SourceHealth(
            source=ev.source,
            evaluated_at=now,
            tier=sla.config.tier,
            status=ev.status,
            severity=ev.severity,
            breaker_state=ev.breaker_state,
            freshness_s=ev.freshness_s,
            metrics=ev.metrics(),
            config_hash=sla.content_hash,
            run_id=run_id,
        )
        session.add(row)
        rows[ev.source] = row
    session.flush()
    return rows


# --- incidents -----------------------------------------------------------------------------------------


def error_samples(
    session: Session, source: str, since: datetime, limit: int = SAMPLE_SIZE
) -> list[dict[str, Any]]:
    """The last failed calls of a source: time, operation, outcome, HTTP status, error class (nothing else)."""
    rows = session.execute(
        select(
            SourceCall.started_at,
            SourceCall.operation,
            SourceCall.outcome,
            SourceCall.http_status,
            SourceCall.error_class,
        )
        .where(
            SourceCall.source == source,
            SourceCall.started_at >= since,
            SourceCall.outcome.in_(("error", "timeout")),
        )
        .order_by(SourceCall.started_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "at": utc(r[0]).strftime("%Y-%m-%d %H:%M:%S"),
            "operation": r[1],
            "outcome": r[2],
            "http_status": r[3],
            "error_class": r[4],
        }
        for r in rows
    ]


def decisions_affected(session: Session, source: str, since: datetime) -> int:
    """Onboarding decisions `review` with the source recorded unavailable for the same customer and run, since `since`."""
    marker = f'"source":"{source}"'
    unavailable = (
        select(AuditEvent.customer_id, AuditEvent.run_id)
        .where(
            AuditEvent.event_type == EventType.SOURCE_UNAVAILABLE.value,
            AuditEvent.occurred_at >= since,
            AuditEvent.payload.contains(marker),
        )
        .subquery()
    )
    return int(
        session.scalar(
            select(func.count(func.distinct(Decision.id)))
            .join(
                unavailable,
                (unavailable.c.customer_id == Decision.customer_id)
                & (unavailable.c.run_id == Decision.run_id),
            )
            .where(Decision.outcome == "review", Decision.created_at >= since)
        )
        or 0
    )


def _wanted(ev: Evaluation, kind: str) -> str | None:
    if kind == "credentials":
        return "critical" if ev.auth_failures else None
    return ev.severity


@dataclass(frozen=True)
class MonitorResult:
    """What one evaluation did."""

    statuses: dict[str, str]
    alerts_created: list[str]
    config_hash: str
    config_error: str | None = None
    #: Redis and the KYC database: `up`, `unreachable`, `unavailable`, `recovering`, `recovered`, `not_probed`.
    infrastructure: dict[str, str] = field(default_factory=dict)


def apply_incidents(
    session: Session,
    sla: Loaded,
    evaluations: Iterable[Evaluation],
    health: dict[str, SourceHealth],
    *,
    now: datetime,
    run_id: str | None,
    run_link: str | None,
) -> list[str]:
    """Open, change, remind or resolve incidents; queue one alert per alerting transition. The alert keys."""
    config = sla.config
    created = []
    for ev in evaluations:
        for kind in ("sla", "credentials"):
            row = session.scalars(
                select(SourceIncident)
                .where(
                    SourceIncident.source == ev.source,
                    SourceIncident.kind == kind,
                    SourceIncident.status == "open",
                )
                .with_for_update()
            ).first()
            current = _open_state(row) if row is not None else None
            for change in decide(
                current,
                _wanted(ev, kind),
                now,
                reminder_after_s=config.reminder_after,
                emergency_after_s=config.emergency_after,
            ):
                row = _apply(session, row, change, ev, kind, now, health[ev.source])
                if change.alert:
                    key = f"incident:{row.id}:{change.key}"
                    if _queue(
                        session, row, change.alert, key, ev, sla, now=now, run_id=run_id, run_link=run_link
                    ):
                        created.append(key)
    return created


def _open_state(row: SourceIncident) -> OpenIncident:
    critical = row.detail.get("critical_since")
    return OpenIncident(
        id=row.id,
        severity=row.severity,
        peak_severity=row.peak_severity,
        opened_at=utc(row.opened_at),
        reminders=row.reminders,
        critical_since=datetime.fromisoformat(critical) if critical else None,
    )


def _apply(
    session: Session, row, change, ev: Evaluation, kind: str, now: datetime, health: SourceHealth
) -> SourceIncident:
    row = apply_change(session, row, change, source=ev.source, kind=kind, now=now)
    detail = dict(row.detail or {})
    detail["status"] = ev.status
    detail["breaches"] = [b.describe() for b in ev.breaches]
    if SEVERITY_RANK.get(row.severity, 0) >= SEVERITY_RANK["critical"] and not detail.get("critical_since"):
        detail["critical_since"] = now.isoformat()
    row.detail = detail
    row.last_health_id = health.id
    session.flush()
    return row


def _queue(
    session: Session,
    row: SourceIncident,
    transition: str,
    key: str,
    ev: Evaluation,
    sla: Loaded,
    *,
    now,
    run_id,
    run_link,
) -> bool:
    """Insert the alert unless its key exists already; True when inserted."""
    since = utc(row.opened_at)
    severity = row.peak_severity if transition == "resolved" else row.severity
    facts = AlertFacts(
        transition=transition,
        incident_kind=row.kind,
        incident_id=row.id,
        source=ev.source,
        severity=severity,
        status=row.detail.get("status", ev.status) if transition != "resolved" else ev.status,
        since=since,
        now=now,
        breaches=[b.describe() for b in ev.breaches],
        windows=ev.metrics()["windows"],
        breaker_state=ev.breaker_state,
        freshness_s=ev.freshness_s,
        samples=error_samples(session, ev.source, since - timedelta(seconds=sla.config.status_window)),
        decisions_affected=decisions_affected(
            session, ev.source, since - timedelta(seconds=sla.config.status_window)
        ),
        run_link=run_link,
        sla_met=ev.sla,
    )
    mail = render(facts)
    return enqueue(
        session,
        key=key,
        kind=f"incident_{transition}" if row.kind == "sla" else f"credentials_{transition}",
        severity=severity if transition != "resolved" else "resolved",
        source=ev.source,
        incident_id=row.id,
        recipients=sla.config.recipients.for_severity(severity),
        mail=mail,
        now=now,
        run_id=run_id,
    )


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    severity: str,
    source: str | None,
    recipients: list[str],
    mail: Rendered,
    now: datetime,
    run_id: str | None,
    incident_id: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> bool:
    """Queue an alert in the outbox under a unique key; False when that key was queued before."""
    statement = (
        _insert(session)(MonitorAlert.__table__)
        .values(
            alert_key=key,
            kind=kind,
            severity=severity,
            source=source,
            incident_id=incident_id,
            recipients=recipients,
            subject=mail.subject,
            body_text=mail.text,
            body_html=mail.html,
            attachments=attachments or [],
            created_at=now,
            sent_at=None,
            attempts=0,
            run_id=run_id,
        )
        .on_conflict_do_nothing(index_elements=["alert_key"])
        .returning(MonitorAlert.__table__.c.id)
    )
    # No row back: the key was queued before (by this run earlier, or by a racing one).
    return session.execute(statement).first() is not None


def run_monitor(
    database_url: str,
    load_sla: Callable[[], Loaded],
    *,
    breakers: dict[str, str | None],
    now: datetime | None = None,
    run_id: str | None = None,
    run_link: str | None = None,
    infrastructure: dict[str, Probe] | None = None,
    unrecorded: Unrecorded | None = None,
) -> MonitorResult:
    """Evaluate every source, store the evaluations, update incidents and queue their alerts, in one transaction.

    `infrastructure` holds this run's live probes of Redis and the KYC database; with or without them the
    `infrastructure_unavailable` events since the last check are taken in (:mod:`kyc_core.monitoring.infrastructure`);
    `unrecorded` is an outage of the KYC database alerted while it could not be recorded.
    """
    now = now or datetime.now(UTC)
    with session_scope(database_url) as session:
        lock_monitoring(session)
        sla, error = config_in_force(session, "sla", load_sla, now)
        evaluations = evaluate_sources(session, sla.config, now=now, breakers=breakers)
        health = store_evaluations(session, evaluations, sla, now=now, run_id=run_id)
        created = apply_incidents(
            session, sla, evaluations, health, now=now, run_id=run_id, run_link=run_link
        )
        infra = apply_infrastructure(
            session, sla, infrastructure, now=now, run_id=run_id, run_link=run_link, unrecorded=unrecorded
        )
        created += infra.alerts_created
    for ev in evaluations:
        logger.info(
            "%s: %s%s",
            ev.source,
            ev.status,
            f" ({'; '.join(b.describe() for b in ev.breaches)})" if ev.breaches else "",
        )
    return MonitorResult(
        {ev.source: ev.status for ev in evaluations}, created, sla.content_hash, error, infra.statuses
    )


# --- the outbox ----------------------------------------------------------------------------------------


def pending_ids(session: Session, only_keys: Iterable[str] | None = None) -> list[int]:
    """Alerts not yet sent (of `only_keys` when given), oldest first."""
    query = select(MonitorAlert.id).where(MonitorAlert.sent_at.is_(None)).order_by(MonitorAlert.id)
    if only_keys is not None:
        query = query.where(MonitorAlert.alert_key.in_(list(only_keys)))
    return list(session.scalars(query))


def send_pending(
    database_url: str,
    send: Callable[[MonitorAlert], None],
    *,
    actor: str,
    run_id: str | None = None,
    only_keys: Iterable[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Send every pending alert, each in its own transaction holding its row; (sent keys, failed keys).

    A row another process is sending is skipped (PostgreSQL ``SKIP LOCKED``; SQLite serialises
    writers). A failed send records the error and stays pending for the next run.
    """
    sent: list[str] = []
    failed: list[str] = []
    with session_scope(database_url) as session:
        ids = pending_ids(session, only_keys)
    for alert_id in ids:
        with session_scope(database_url) as session:
            alert = session.scalars(
                select(MonitorAlert)
                .where(MonitorAlert.id == alert_id, MonitorAlert.sent_at.is_(None))
                .with_for_update(skip_locked=True)
            ).first()
            if alert is None:
                continue
            alert.attempts += 1
            try:
                send(alert)
            except Exception as exc:  # noqa: BLE001 - any failure leaves the alert pending
                alert.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                failed.append(alert.alert_key)
                logger.warning(
                    "alert %s not sent (attempt %d): %s", alert.alert_key, alert.attempts, alert.last_error
                )
                continue
            alert.sent_at = datetime.now(UTC)
            alert.last_error = None
            append_event(
                session,
                EventType.NOTIFICATION_SENT,
                actor=actor,
                run_id=run_id,
                payload={
                    "channel": "email",
                    "alert_key": alert.alert_key,
                    "kind": alert.kind,
                    "severity": alert.severity,
                    "source": alert.source,
                    "incident_id": alert.incident_id,
                    "recipients": len(alert.recipients),
                },
                idempotency_key=f"monitor_alert:{alert.alert_key}",
            )
            sent.append(alert.alert_key)
    return sent, failed
