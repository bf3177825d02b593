"""Our own infrastructure watched by the SLA monitor: Redis and the KYC database.

Two signals per component (`redis`, `kyc_database`):

- a **live probe** on every run: Redis ``PING`` (only when `KYC_REDIS_URL` is set: without it there is no
  shared Redis to lose) and ``SELECT 1`` on the KYC database, each with a short timeout and a second try;
- the **`infrastructure_unavailable` audit events** appended since the last check: a register fetch that
  could not use Redis (the registers it did not consult, for which customer and run), the call ledger's
  record of a KYC database outage it lived through (since when, rows written late). "Since the last check"
  is a watermark, the highest audit sequence number the component's latest incident has taken in: events
  are appended under the chain lock, so sequence numbers become visible in order and none is skipped.

Both drive one incident per component (`source_incident`, kind ``infrastructure``, source = the component)
under the SLA incidents' rules (:func:`kyc_core.monitoring.incidents.decide`): opened, severity raised,
reminders, resolved, each alert queued once in the `monitor_alert` outbox under a unique key. Neither is
ever counted against a register: no breaker, no `source_call` row.

When the KYC database itself is unreachable nothing can be recorded in it, outbox included:
:func:`alert_unrecorded` sends the alert directly, deduplicated through Redis when Redis answers (once per
`reminder_after`, keys under ``<prefix>monitor:infrastructure:kyc_database:``), else on every run with a
subject saying it is not deduplicated. Once the database answers again, :func:`apply_infrastructure` takes
that outage into the incident history (the alert already sent recorded as sent) and the recovery e-mail
goes out through the outbox.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Text, cast, func, select, update
from sqlalchemy.orm import Session

from kyc_core.monitoring.alerts import elapsed, hhmm
from kyc_core.monitoring.config import InfrastructureChecks, Loaded, SlaConfig
from kyc_core.monitoring.incidents import (
    OPENED,
    RAISED,
    REMINDER,
    RESOLVED,
    OpenIncident,
    apply_change,
    decide,
)
from kyc_core.monitoring.rendered import Rendered
from kyc_core.monitoring.status import SEVERITY_RANK
from kyc_core.monitoring.windows import utc
from kyc_core.resilience.infra import COMPONENTS, INFRASTRUCTURE_UNAVAILABLE, KYC_DATABASE, REDIS
from kyc_core.store.audit import EventType
from kyc_core.store.models import AuditEvent, Decision, MonitorAlert, SourceIncident

logger = logging.getLogger(__name__)

#: `source_incident.kind` of an infrastructure incident (its source is the component).
KIND = "infrastructure"
#: Probe states.
UP, DOWN, NOT_CONFIGURED = "up", "down", "not_configured"
#: Incident statuses: the probe fails now; the component answers but events came in; quiet, about to resolve.
UNREACHABLE, UNAVAILABLE, RECOVERING = "unreachable", "unavailable", "recovering"
#: Redis keys (after the backend prefix) of an alert sent while the KYC database was unreachable.
FALLBACK_KEYS = "monitor:infrastructure:kyc_database:"
#: How long the fallback state survives in Redis without a monitor run refreshing it.
FALLBACK_TTL_S = 7 * 86400
#: Runs listed by name in an alert (the others are counted).
RUN_EXAMPLES = 5

WHAT = {
    REDIS: "Redis: breaker, rate-limit, cache and usage state shared by every worker",
    KYC_DATABASE: "the KYC database: customers, decisions, audit trail, call ledger and alert outbox",
}


def _first_line(exc: BaseException | None) -> str:
    text = str(getattr(exc, "orig", None) or exc or "").strip().splitlines()
    return (text[0] if text else "")[:200]


# --- live probes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One live check of one component."""

    component: str
    state: str  # up | down | not_configured
    at: datetime
    latency_ms: float | None = None
    error_class: str | None = None
    error: str | None = None

    @property
    def down(self) -> bool:
        """The component could not be used."""
        return self.state == DOWN

    def describe(self) -> str:
        """A line for an e-mail or a log."""
        what = "PING" if self.component == REDIS else "SELECT 1"
        if self.state == NOT_CONFIGURED:
            return f"{what}: not probed (no Redis configured: each worker keeps its own state)"
        if self.state == UP:
            return f"{what} answered in {self.latency_ms or 0:.0f} ms at {hhmm(self.at)}"
        return f"{what} failed at {hhmm(self.at)}: {self.error_class}" + (
            f" ({self.error})" if self.error else ""
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form (XCom, incident detail)."""
        return {
            "component": self.component,
            "state": self.state,
            "at": self.at.isoformat(),
            "latency_ms": self.latency_ms,
            "error_class": self.error_class,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Probe:
        """Back from :meth:`as_dict`."""
        return cls(
            component=data["component"],
            state=data["state"],
            at=datetime.fromisoformat(data["at"]),
            latency_ms=data.get("latency_ms"),
            error_class=data.get("error_class"),
            error=data.get("error"),
        )


def probe_redis(
    url: str | None, *, timeout_s: float = 3.0, attempts: int = 2, now: datetime | None = None
) -> Probe:
    """PING the shared Redis (`not_configured` without a URL); down after `attempts` failed tries."""
    at = now or datetime.now(UTC)
    if not url:
        return Probe(REDIS, NOT_CONFIGURED, at)
    import redis

    error: BaseException | None = None
    for attempt in range(attempts):
        started = time.perf_counter()
        client = None
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
            client.ping()
            return Probe(REDIS, UP, at, latency_ms=round((time.perf_counter() - started) * 1000, 1))
        except Exception as exc:  # noqa: BLE001 - any failure means Redis cannot be used
            error = exc
        finally:
            if client is not None:
                client.close()
        if attempt + 1 < attempts:
            time.sleep(min(0.5, timeout_s))
    return Probe(REDIS, DOWN, at, error_class=type(error).__name__, error=_first_line(error))


def probe_database(
    url: str, *, timeout_s: float = 3.0, attempts: int = 2, now: datetime | None = None
) -> Probe:
    """``SELECT 1`` on the KYC database over a fresh connection (no pool); down after `attempts` failed tries."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from kyc_core.store.db import normalize_url

    at = now or datetime.now(UTC)
    error: BaseException | None = None
    for attempt in range(attempts):
        started = time.perf_counter()
        engine = None
        try:
            key = normalize_url(url)
            if make_url(key).get_backend_name() == "sqlite":
                args: dict[str, Any] = {"timeout": timeout_s}
            else:
                seconds = max(1, math.ceil(timeout_s))
                args = {"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"}
            engine = create_engine(key, poolclass=NullPool, connect_args=args)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return Probe(KYC_DATABASE, UP, at, latency_ms=round((time.perf_counter() - started) * 1000, 1))
        except Exception as exc:  # noqa: BLE001 - any failure means the database cannot be used
            error = exc
        finally:
            if engine is not None:
                engine.dispose()
        if attempt + 1 < attempts:
            time.sleep(min(0.5, timeout_s))
    return Probe(KYC_DATABASE, DOWN, at, error_class=type(error).__name__, error=_first_line(error))


def probe_all(
    database_url: str, redis_url: str | None, checks: InfrastructureChecks | None = None
) -> dict[str, Probe]:
    """Both components, probed now."""
    checks = checks or InfrastructureChecks()
    timeout, attempts = checks.probe_timeout, checks.probe_attempts
    return {
        REDIS: probe_redis(redis_url, timeout_s=timeout, attempts=attempts),
        KYC_DATABASE: probe_database(database_url, timeout_s=timeout, attempts=attempts),
    }


# --- the audit events -----------------------------------------------------------------------------------


def _empty_events() -> dict[str, Any]:
    return {
        "count": 0,
        "first_at": None,
        "last_at": None,
        "operations": {},
        "error_classes": {},
        "registers_not_consulted": {},
        "rows_delayed": 0,
    }


def _bump(counter: dict[str, int], key: Any, by: int = 1) -> None:
    if key:
        counter[str(key)] = counter.get(str(key), 0) + by


@dataclass
class NewEvents:
    """`infrastructure_unavailable` events of one component above a watermark."""

    component: str
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    summary: dict[str, Any] = field(default_factory=_empty_events)


def read_events(session: Session, component: str, *, after_seq: int, since: datetime) -> NewEvents:
    """The component's events with a sequence number above `after_seq` and not older than `since`, summed up."""
    marker = f'"component":"{component}"'  # canonical JSON: sorted keys, no spaces
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.payload)
        .where(
            AuditEvent.event_type == EventType.INFRASTRUCTURE_UNAVAILABLE.value,
            AuditEvent.seq > after_seq,
            AuditEvent.occurred_at >= since,
            AuditEvent.payload.contains(marker),
        )
        .order_by(AuditEvent.seq)
    ).all()
    found = NewEvents(component)
    summary = found.summary
    for seq, occurred_at, payload in rows:
        data = json.loads(payload)
        if data.get("component") != component:
            continue
        at = utc(occurred_at)
        began = at
        if data.get("since"):
            try:
                began = min(at, utc(datetime.fromisoformat(data["since"])))
            except (TypeError, ValueError):
                began = at
        found.count += 1
        found.first_seq = seq if found.first_seq is None else found.first_seq
        found.last_seq = seq
        found.first_at = began if found.first_at is None else min(found.first_at, began)
        found.last_at = at if found.last_at is None else max(found.last_at, at)
        _bump(summary["operations"], data.get("operation"))
        _bump(summary["error_classes"], data.get("error_class"))
        for register in data.get("registers_not_consulted") or []:
            _bump(summary["registers_not_consulted"], register)
        summary["rows_delayed"] += int(data.get("rows_delayed") or 0)
    summary["count"] = found.count
    summary["first_at"] = found.first_at.isoformat() if found.first_at else None
    summary["last_at"] = found.last_at.isoformat() if found.last_at else None
    return found


def merge_events(total: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Two event summaries as one (an incident's running total and this check's new events)."""
    out = {**_empty_events(), **(total or {})}
    out = {**out, **{k: dict(out[k]) for k in ("operations", "error_classes", "registers_not_consulted")}}
    out["count"] += new.get("count", 0)
    for key in ("operations", "error_classes", "registers_not_consulted"):
        for name, count in (new.get(key) or {}).items():
            _bump(out[key], name, count)
    out["rows_delayed"] += new.get("rows_delayed", 0)
    firsts = [v for v in (out["first_at"], new.get("first_at")) if v]
    lasts = [v for v in (out["last_at"], new.get("last_at")) if v]
    out["first_at"] = min(firsts, key=datetime.fromisoformat) if firsts else None
    out["last_at"] = max(lasts, key=datetime.fromisoformat) if lasts else None
    return out


@dataclass(frozen=True)
class Affected:
    """Who the incident's events touched: customers, runs, decisions (counted in the database)."""

    customers: int = 0
    runs: int = 0
    run_examples: tuple[str, ...] = ()
    decisions: int = 0


def affected(session: Session, component: str, from_seq: int, to_seq: int) -> Affected:
    """Distinct customers and runs of the events in (from_seq, to_seq], and the decisions they sent to review.

    A decision counts when its customer and run are an event's and its reasons say infrastructure_unavailable
    (one decision per customer and run).
    """
    if to_seq <= from_seq:
        return Affected()
    where = (
        AuditEvent.event_type == EventType.INFRASTRUCTURE_UNAVAILABLE.value,
        AuditEvent.seq > from_seq,
        AuditEvent.seq <= to_seq,
        AuditEvent.payload.contains(f'"component":"{component}"'),
    )
    customers = session.scalar(select(func.count(func.distinct(AuditEvent.customer_id))).where(*where)) or 0
    runs = session.scalar(select(func.count(func.distinct(AuditEvent.run_id))).where(*where)) or 0
    examples = tuple(
        str(run)
        for run in session.scalars(
            select(AuditEvent.run_id)
            .where(*where, AuditEvent.run_id.is_not(None))
            .distinct()
            .order_by(AuditEvent.run_id)
            .limit(RUN_EXAMPLES)
        )
    )
    touched = (
        select(AuditEvent.customer_id, AuditEvent.run_id)
        .where(*where, AuditEvent.customer_id.is_not(None))
        .distinct()
        .subquery()
    )
    decisions = session.scalar(
        select(func.count(func.distinct(Decision.id)))
        .join(
            touched, (touched.c.customer_id == Decision.customer_id) & (touched.c.run_id == Decision.run_id)
        )
        .where(cast(Decision.reasons, Text).like(f'%"{INFRASTRUCTURE_UNAVAILABLE}"%'))
    )
    return Affected(int(customers), int(runs), examples, int(decisions or 0))


# --- the alert e-mails ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfraFacts:
    """Everything an infrastructure alert says."""

    transition: str  # opened | raised | reminder | resolved
    component: str
    severity: str
    status: str  # unreachable | unavailable | recovering
    since: datetime
    now: datetime
    incident_id: int | None = None
    probe: Probe | None = None
    events: dict[str, Any] = field(default_factory=_empty_events)
    new_events: int = 0
    affected: Affected = field(default_factory=Affected)
    run_link: str | None = None
    #: Sent without the outbox (the KYC database unreachable): how it was deduplicated, or why it was not.
    unrecorded: bool = False
    deduplicated_by: str | None = None
    not_deduplicated_because: str | None = None
    repeat_s: float | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def infrastructure_subject(f: InfraFacts) -> str:
    """`[KYC][CRITICAL] redis unreachable since 14:05 UTC` and its variants per transition."""
    if f.transition == RESOLVED:
        return (
            f"[KYC][RESOLVED] {f.component} recovered at {hhmm(f.now)} "
            f"({f.severity} since {hhmm(f.since)}, {elapsed((f.now - f.since).total_seconds())})"
        )
    tag = f"[KYC][{f.severity.upper()}]"
    what = UNREACHABLE if f.status == UNREACHABLE else UNAVAILABLE
    if f.unrecorded and f.deduplicated_by is None:
        return f"{tag} {f.component} {what} at {hhmm(f.now)} (not deduplicated: {f.not_deduplicated_because})"
    if f.transition == RAISED:
        return f"{tag} {f.component} {what} since {hhmm(f.since)} (severity raised)"
    if f.transition == REMINDER:
        return f"{tag} {f.component} still {what} since {hhmm(f.since)} (reminder)"
    count = int(f.events.get("count") or 0)
    suffix = f" ({_plural(count, 'infrastructure_unavailable event')})" if count else ""
    return f"{tag} {f.component} {what} since {hhmm(f.since)}{suffix}"


def infrastructure_runbook(component: str) -> list[str]:
    """What on-call checks and does, per component."""
    if component == REDIS:
        steps = [
            'Check Redis from a worker: `redis-cli -u "$KYC_REDIS_URL" ping`, then `INFO memory` (maxmemory, '
            "evictions), `INFO clients` and the network between the workers and the server.",
            "While Redis cannot be used no register is called: each assessment fails closed (review / "
            "infrastructure_unavailable), no breaker counts it and no register is blamed; breaker states cannot "
            "be read (the source alerts show them unknown).",
            "To stop new cases piling up in review: `airflow dags pause kyc_onboarding` (triggered runs wait "
            "queued), `airflow dags unpause kyc_onboarding` after recovery. Case reviews waiting in "
            "`await_sources` re-assess on their own; the workspace's Source unavailable filter lists the "
            "decisions concerned.",
        ]
    else:
        steps = [
            "Check PostgreSQL: `pg_isready` against the host of the `kyc_db` connection, then "
            "`psql <its URL> -c 'SELECT 1'`, the connection count against `max_connections`, disk space and "
            "the server log.",
            "While it cannot be used, tasks that need it fail and retry; a paid register answer that cannot be "
            "recorded is not used; call-ledger rows wait in the worker's memory and are written, with an "
            "infrastructure_unavailable event, once it answers again.",
            "After recovery clear the failed tasks in the Airflow UI (tasks are idempotent).",
        ]
    steps.append(
        "Check again now: `airflow dags trigger kyc_source_sla_monitor` (its `check_infrastructure` task probes "
        "Redis and the KYC database), then `kyc incidents --open`."
    )
    return steps


def _event_lines(f: InfraFacts) -> list[str]:
    ev = f.events
    count = int(ev.get("count") or 0)
    if f.unrecorded:
        return [
            "infrastructure_unavailable events and decisions: not readable while the KYC database is unreachable"
        ]
    if not count:
        return ["infrastructure_unavailable events: none since the incident opened"]

    def counts(key: str) -> str:
        items = sorted((ev.get(key) or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{name} {n}" for name, n in items) or "-"

    first = datetime.fromisoformat(ev["first_at"]) if ev.get("first_at") else None
    last = datetime.fromisoformat(ev["last_at"]) if ev.get("last_at") else None
    lines = [
        f"infrastructure_unavailable events: {count}"
        + (f" ({f.new_events} new since the last check)" if f.new_events and f.new_events != count else "")
        + (f", first {first:%Y-%m-%d %H:%M:%S} UTC" if first else "")
        + (f", last {last:%Y-%m-%d %H:%M:%S} UTC" if last else ""),
        f"  by operation: {counts('operations')}",
        f"  error classes: {counts('error_classes')}",
    ]
    if ev.get("registers_not_consulted"):
        lines.append(f"  registers not consulted (fetches): {counts('registers_not_consulted')}")
    a = f.affected
    if a.customers or a.runs:
        runs = ", ".join(a.run_examples) + (", …" if a.runs > len(a.run_examples) else "")
        lines.append(
            f"  customers affected: {a.customers}, in {_plural(a.runs, 'run')}"
            + (f": {runs}" if runs else "")
        )
    if ev.get("rows_delayed"):
        lines.append(f"  call-ledger rows written late: {ev['rows_delayed']}")
    return lines


def render_infrastructure(f: InfraFacts) -> Rendered:
    """Subject, text and HTML of one infrastructure alert."""
    subj = infrastructure_subject(f)
    head = [
        f"Component: {f.component} ({WHAT.get(f.component, f.component)})",
        f"Status: {'recovered' if f.transition == RESOLVED else f.status} ({f.severity})",
        f"Since: {f.since.isoformat(timespec='seconds')}"
        + (f" (incident #{f.incident_id})" if f.incident_id else ""),
    ]
    if f.transition == RESOLVED:
        head.insert(
            0,
            f"Recovered at {f.now.isoformat(timespec='seconds')}: the probe answers and no new event for a while.",
        )
    if f.probe is not None:
        head.append(f"Live probe: {f.probe.describe()}")
    head.append(
        "No register is blamed for it: no breaker counted it and no failed source_call row was written."
    )
    events = _event_lines(f)
    decisions = (
        ""
        if f.unrecorded
        else f"Onboarding decisions sent to review / infrastructure_unavailable since then: {f.affected.decisions}"
    )
    notes = []
    if f.unrecorded:
        notes.append(
            "This alert is not recorded: the KYC database holds the alert outbox and cannot be reached. The "
            "monitor's check_infrastructure task fails, so the run shows red in Airflow."
        )
        if f.deduplicated_by:
            notes.append(
                f"Deduplicated through {f.deduplicated_by}: sent again every {elapsed(f.repeat_s or 0)} while the "
                "database stays unreachable; a recovery e-mail follows once it answers (then recorded in "
                "`kyc incidents`)."
            )
        else:
            notes.append(
                f"Not deduplicated ({f.not_deduplicated_because}): every monitor run sends it again while the "
                "database stays unreachable."
            )
    text = [subj, "", *head, "", *events, *([decisions] if decisions else [])]
    if notes:
        text += ["", *notes]
    if f.run_link:
        text += ["", f"Monitor run: {f.run_link}"]
    steps = infrastructure_runbook(f.component)
    text += ["", "Runbook:", *[f"  {i}. {step}" for i, step in enumerate(steps, 1)]]

    color = {"warning": "#b26a00", "critical": "#b00020", "emergency": "#6a0080"}.get(f.severity, "#1b5e20")
    if f.transition == RESOLVED:
        color = "#1b5e20"
    html = [
        f'<h2 style="color:{color}">{escape(subj)}</h2>',
        "<p>" + "<br>".join(escape(line) for line in head) + "</p>",
        f"<p><b>{escape(events[0])}</b></p>",
    ]
    if len(events) > 1:
        html.append("<ul>" + "".join(f"<li>{escape(line.strip())}</li>" for line in events[1:]) + "</ul>")
    if decisions:
        html.append(f"<p>{escape(decisions)}</p>")
    html += [f"<p><i>{escape(note)}</i></p>" for note in notes]
    if f.run_link:
        html.append(f'<p><a href="{escape(f.run_link)}">Open the monitor run in Airflow</a></p>')
    html.append("<p><b>Runbook</b></p><ol>" + "".join(f"<li>{escape(s)}</li>" for s in steps) + "</ol>")
    return Rendered(subj, "\n".join(text) + "\n", "".join(html))


# --- the KYC database unreachable: alerting without the outbox -------------------------------------------


@dataclass(frozen=True)
class Unrecorded:
    """An outage of the KYC database alerted through Redis while nothing could be recorded."""

    down_since: datetime
    last_down: datetime
    alerts_sent: int
    first_alert_at: datetime | None
    subject: str | None


@dataclass(frozen=True)
class FallbackResult:
    """What :func:`alert_unrecorded` did."""

    sent: bool
    subject: str
    key: str
    deduplicated_by: str | None
    note: str


def _redis_client(url: str, timeout_s: float):
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, decode_responses=True
    )


def alert_unrecorded(
    probe: Probe,
    *,
    config: SlaConfig | None,
    fallback_recipients: list[str],
    send: Callable[[Rendered, list[str], str], None],
    redis_url: str | None,
    redis_probe: Probe | None = None,
    key_prefix: str = "kyc:",
    now: datetime | None = None,
    run_link: str | None = None,
) -> FallbackResult:
    """Alert on-call that the KYC database is unreachable, without it: deduplicated through Redis when it answers.

    With Redis: the first run of an outage sends, later runs send again once `reminder_after` has passed
    (``SET NX`` with that expiry), and the outage is kept for :func:`read_unrecorded`. Without Redis (not
    configured, or down too) every call sends, the subject saying so. `send(mail, recipients, key)` delivers
    it; a failed send is re-raised and frees the Redis key, so the next try sends it.
    """
    now = now or datetime.now(UTC)
    checks = config.infrastructure if config is not None else InfrastructureChecks()
    reminder_after = config.reminder_after if config is not None else 4 * 3600.0
    emergency_after = config.emergency_after if config is not None else 3600.0
    base = key_prefix + FALLBACK_KEYS
    client = None
    since = now
    acquired = False
    reason = None
    if not redis_url:
        reason = "no Redis configured"
    elif redis_probe is not None and redis_probe.down:
        reason = "Redis unreachable too"
    else:
        try:
            client = _redis_client(redis_url, checks.probe_timeout)
            client.set(base + "down_since", now.isoformat(), nx=True, ex=FALLBACK_TTL_S)
            client.set(base + "last_down", now.isoformat(), ex=FALLBACK_TTL_S)
            since = datetime.fromisoformat(client.get(base + "down_since") or now.isoformat())
            acquired = bool(
                client.set(base + "alerted", now.isoformat(), nx=True, ex=max(1, int(reminder_after)))
            )
        except Exception as exc:  # noqa: BLE001 - Redis unusable: send without deduplication
            logger.warning("Redis unusable to deduplicate the KYC database alert (%s)", type(exc).__name__)
            client, since, reason = None, now, f"Redis unusable ({type(exc).__name__})"
    severity: str = checks.probe_severity
    if severity == "critical" and (now - since).total_seconds() >= emergency_after:
        severity = "emergency"
    facts = InfraFacts(
        transition=OPENED,
        component=KYC_DATABASE,
        severity=severity,
        status=UNREACHABLE,
        since=since,
        now=now,
        probe=probe,
        run_link=run_link,
        unrecorded=True,
        deduplicated_by="Redis" if client is not None else None,
        not_deduplicated_because=reason,
        repeat_s=reminder_after,
    )
    mail = render_infrastructure(facts)
    if client is not None and not acquired:
        try:
            last = client.get(base + "alerted")
        except Exception:  # noqa: BLE001 - only the note needs it
            last = None
        finally:
            client.close()
        note = f"already alerted at {last or '?'} (deduplicated through Redis; again after {elapsed(reminder_after)})"
        return FallbackResult(False, mail.subject, "", "redis", note)
    period = (
        str(int((now - since).total_seconds() // reminder_after)) if client is not None else now.isoformat()
    )
    key = f"infrastructure_unrecorded:{KYC_DATABASE}:{since.isoformat()}:{period}"
    recipients = config.recipients.for_severity(severity) if config is not None else list(fallback_recipients)
    try:
        send(mail, recipients, key)
    except Exception:
        if client is not None:
            client.delete(base + "alerted")
            client.close()
        raise
    if client is not None:
        try:
            client.incr(base + "alerts_sent")
            client.expire(base + "alerts_sent", FALLBACK_TTL_S)
            client.set(base + "first_alert_at", now.isoformat(), nx=True, ex=FALLBACK_TTL_S)
            client.set(base + "subject", mail.subject, nx=True, ex=FALLBACK_TTL_S)
        except Exception as exc:  # noqa: BLE001 - the mail went out; only its bookkeeping is missing
            logger.warning("fallback alert sent but not noted in Redis (%s)", type(exc).__name__)
        finally:
            client.close()
        return FallbackResult(True, mail.subject, key, "redis", "deduplicated through Redis")
    return FallbackResult(True, mail.subject, key, None, f"not deduplicated: {reason}")


def read_unrecorded(
    redis_url: str | None, *, key_prefix: str = "kyc:", timeout_s: float = 3.0
) -> Unrecorded | None:
    """The outage :func:`alert_unrecorded` alerted, if any (None without Redis or when Redis cannot be read)."""
    if not redis_url:
        return None
    base = key_prefix + FALLBACK_KEYS
    names = ("down_since", "last_down", "alerts_sent", "first_alert_at", "subject")
    try:
        client = _redis_client(redis_url, timeout_s)
        try:
            values = dict(zip(names, client.mget([base + n for n in names]), strict=True))
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - nothing to take in: the outage stays unrecorded
        logger.warning("cannot read the unrecorded KYC database outage from Redis (%s)", type(exc).__name__)
        return None
    if not values["down_since"]:
        return None
    down_since = datetime.fromisoformat(values["down_since"])
    return Unrecorded(
        down_since=down_since,
        last_down=datetime.fromisoformat(values["last_down"]) if values["last_down"] else down_since,
        alerts_sent=int(values["alerts_sent"] or 0),
        first_alert_at=datetime.fromisoformat(values["first_alert_at"]) if values["first_alert_at"] else None,
        subject=values["subject"],
    )


def clear_unrecorded(redis_url: str | None, *, key_prefix: str = "kyc:", timeout_s: float = 3.0) -> None:
    """Forget the fallback state once the outage is recorded in the KYC database."""
    if not redis_url:
        return
    base = key_prefix + FALLBACK_KEYS
    try:
        client = _redis_client(redis_url, timeout_s)
        try:
            client.delete(
                *[
                    base + n
                    for n in (
                        "down_since",
                        "last_down",
                        "alerted",
                        "alerts_sent",
                        "first_alert_at",
                        "subject",
                    )
                ]
            )
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - taken in again (idempotently) by the next run
        logger.warning("cannot clear the KYC database fallback state in Redis (%s)", type(exc).__name__)


# --- incidents -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfraResult:
    """What one check did, per component."""

    statuses: dict[str, str]
    alerts_created: list[str]


def _open_row(session: Session, component: str) -> SourceIncident | None:
    return session.scalars(
        select(SourceIncident)
        .where(
            SourceIncident.source == component, SourceIncident.kind == KIND, SourceIncident.status == "open"
        )
        .with_for_update()
    ).first()


def _watermark(session: Session, component: str) -> int:
    """The highest audit sequence number the component's latest incident took in (0: none yet)."""
    latest = session.scalars(
        select(SourceIncident)
        .where(SourceIncident.source == component, SourceIncident.kind == KIND)
        .order_by(SourceIncident.id.desc())
        .limit(1)
    ).first()
    return int((latest.detail or {}).get("last_seq") or 0) if latest is not None else 0


def _iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _state(row: SourceIncident) -> OpenIncident:
    critical = (row.detail or {}).get("critical_since")
    return OpenIncident(
        id=row.id,
        severity=row.severity,
        peak_severity=row.peak_severity,
        opened_at=utc(row.opened_at),
        reminders=row.reminders,
        critical_since=datetime.fromisoformat(critical) if critical else None,
    )


def _breaches(status: str, probe: Probe | None, events: dict[str, Any]) -> list[str]:
    lines = []
    if probe is not None and probe.state != NOT_CONFIGURED:
        lines.append(f"live probe: {probe.describe()}")
    if events.get("count"):
        lines.append(
            f"{_plural(int(events['count']), 'infrastructure_unavailable event')} since the incident opened"
        )
    if status == RECOVERING:
        lines.append("answering again; resolves after a quiet period")
    return lines


def take_in_unrecorded(
    session: Session,
    row: SourceIncident | None,
    unrecorded: Unrecorded,
    sla: Loaded,
    *,
    now: datetime,
    run_id: str | None,
) -> SourceIncident:
    """Record in the incident history an outage of the KYC database that was alerted while it was unreachable."""
    from kyc_core.monitoring.monitor import enqueue

    config: SlaConfig = sla.config
    checks = config.infrastructure
    since, last_down = utc(unrecorded.down_since), utc(unrecorded.last_down)
    if row is not None:
        detail = dict(row.detail or {})
        detail["since"] = min(_iso(detail.get("since")) or since, since).isoformat()
        last_bad = _iso(detail.get("last_bad_at"))
        detail["last_bad_at"] = max(last_bad or last_down, last_down).isoformat()
        detail["unrecorded_alerts"] = int(detail.get("unrecorded_alerts") or 0) + unrecorded.alerts_sent
        row.detail = detail
        session.flush()
        return row
    severity: str = checks.probe_severity
    if severity == "critical" and (last_down - since).total_seconds() >= config.emergency_after:
        severity = "emergency"
    watermark = _watermark(session, KYC_DATABASE)
    row = SourceIncident(
        source=KYC_DATABASE,
        kind=KIND,
        status="open",
        severity=severity,
        peak_severity=severity,
        opened_at=since,
        # The alerts already sent stood for the reminders of the periods gone by.
        reminders=int((now - since).total_seconds() // config.reminder_after),
        detail={
            "status": UNREACHABLE,
            "since": since.isoformat(),
            "last_bad_at": last_down.isoformat(),
            "critical_since": since.isoformat()
            if SEVERITY_RANK[severity] >= SEVERITY_RANK["critical"]
            else None,
            "from_seq": watermark,
            "last_seq": watermark,
            "events": _empty_events(),
            "unrecorded_alerts": unrecorded.alerts_sent,
            "breaches": [
                f"unreachable from the monitor from {since:%Y-%m-%d %H:%M} UTC (alerted without the outbox)"
            ],
        },
    )
    session.add(row)
    session.flush()
    facts = InfraFacts(
        transition=OPENED,
        component=KYC_DATABASE,
        severity=severity,
        status=UNREACHABLE,
        since=since,
        now=unrecorded.first_alert_at or since,
        incident_id=row.id,
        unrecorded=True,
        deduplicated_by="Redis",
        repeat_s=config.reminder_after,
    )
    key = f"incident:{row.id}:{OPENED}"
    mail = render_infrastructure(facts)
    if unrecorded.subject:
        mail = Rendered(unrecorded.subject, mail.text, mail.html)
    enqueue(
        session,
        key=key,
        kind=f"{KIND}_{OPENED}",
        severity=severity,
        source=KYC_DATABASE,
        incident_id=row.id,
        recipients=config.recipients.for_severity(severity),
        mail=mail,
        now=now,
        run_id=run_id,
    )
    # Sent already (by the task that could not record it): the outbox keeps it as sent, never sends it again.
    session.execute(
        update(MonitorAlert)
        .where(MonitorAlert.alert_key == key)
        .values(sent_at=unrecorded.first_alert_at or now, attempts=max(1, unrecorded.alerts_sent))
    )
    return row


def apply_infrastructure(
    session: Session,
    sla: Loaded,
    probes: dict[str, Probe] | None,
    *,
    now: datetime,
    run_id: str | None,
    run_link: str | None,
    unrecorded: Unrecorded | None = None,
) -> InfraResult:
    """Take in the probes and the new `infrastructure_unavailable` events; open, change, remind or resolve incidents.

    Without a probe for a component (not configured, or none given) its events alone decide. In the caller's
    transaction, serialised with the other evaluations (:func:`kyc_core.monitoring.monitor.lock_monitoring`).
    """
    from kyc_core.monitoring.monitor import enqueue

    config: SlaConfig = sla.config
    checks = config.infrastructure
    statuses: dict[str, str] = {}
    created: list[str] = []
    for component in COMPONENTS:
        probe = (probes or {}).get(component)
        if probe is not None and probe.state == NOT_CONFIGURED:
            probe = None
        row = _open_row(session, component)
        if component == KYC_DATABASE and unrecorded is not None:
            row = take_in_unrecorded(session, row, unrecorded, sla, now=now, run_id=run_id)
        detail = dict(row.detail or {}) if row is not None else {}
        watermark = int(detail.get("last_seq") or 0) if row is not None else _watermark(session, component)
        new = read_events(
            session, component, after_seq=watermark, since=now - timedelta(seconds=checks.lookback)
        )

        last_bad = _iso(detail.get("last_bad_at"))
        for moment in (probe.at if probe is not None and probe.down else None, new.last_at):
            if moment is not None:
                last_bad = moment if last_bad is None else max(last_bad, moment)
        if probe is not None and probe.down:
            wanted, status = checks.probe_severity, UNREACHABLE
        elif new.count >= (1 if row is not None else checks.min_events):
            wanted, status = checks.events_severity, UNAVAILABLE
        elif (
            row is not None
            and last_bad is not None
            and (now - last_bad).total_seconds() < checks.resolve_after
        ):
            wanted, status = checks.events_severity, RECOVERING
        else:
            wanted, status = None, "ok"
        if row is None and wanted is None:
            statuses[component] = probe.state if probe is not None else "not_probed"
            continue

        changes = decide(
            _state(row) if row is not None else None,
            wanted,
            now,
            reminder_after_s=config.reminder_after,
            emergency_after_s=config.emergency_after,
        )
        alerts = []
        for change in changes:
            row = apply_change(session, row, change, source=component, kind=KIND, now=now)
            session.flush()
            if change.alert:
                alerts.append(change)
        if row is None:  # nothing wanted and nothing open
            continue
        # The incident's running picture: what it has taken in, up to this check.
        opened_now = not detail
        if opened_now:
            starts = [m for m in (new.first_at, probe.at if probe is not None and probe.down else None) if m]
            detail = {
                "since": min(starts or [now]).isoformat(),
                "from_seq": watermark,
                "events": _empty_events(),
            }
        events = merge_events(detail.get("events"), new.summary)
        detail.update(
            status=status if row.status == "open" else "recovered",
            events=events,
            last_seq=new.last_seq if new.last_seq is not None else int(detail.get("last_seq") or watermark),
            last_bad_at=last_bad.isoformat() if last_bad else None,
            breaches=_breaches(status, probe, events),
        )
        if probe is not None:
            detail["probe"] = probe.as_dict()
            if probe.down:
                detail["probe_failures"] = int(detail.get("probe_failures") or 0) + 1
        if SEVERITY_RANK.get(row.severity, 0) >= SEVERITY_RANK["critical"] and not detail.get(
            "critical_since"
        ):
            detail["critical_since"] = now.isoformat()
        row.detail = detail
        session.flush()
        statuses[component] = detail["status"]
        for change in alerts:
            assert change.alert is not None
            since = utc(datetime.fromisoformat(detail["since"]))
            severity = row.peak_severity if change.alert == RESOLVED else row.severity
            facts = InfraFacts(
                transition=change.alert,
                component=component,
                severity=severity,
                status=status,
                since=since,
                now=now,
                incident_id=row.id,
                probe=probe,
                events=events,
                new_events=new.count,
                affected=affected(
                    session, component, int(detail.get("from_seq") or 0), int(detail["last_seq"])
                ),
                run_link=run_link,
            )
            key = f"incident:{row.id}:{change.key}"
            if enqueue(
                session,
                key=key,
                kind=f"{KIND}_{change.alert}",
                severity=severity if change.alert != RESOLVED else "resolved",
                source=component,
                incident_id=row.id,
                recipients=config.recipients.for_severity(severity),
                mail=render_infrastructure(facts),
                now=now,
                run_id=run_id,
            ):
                created.append(key)
    return InfraResult(statuses, created)
