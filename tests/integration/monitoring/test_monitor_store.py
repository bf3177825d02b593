"""The monitor on a real database (SQLite and PostgreSQL): window SQL, incidents, the alert outbox over real SMTP."""

from __future__ import annotations

import smtplib
import socket
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from kyc_core.monitoring.config import load_sla
from kyc_core.monitoring.monitor import run_monitor, send_pending
from kyc_core.monitoring.windows import ledger_stats, stats_from_rows
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, MonitorAlert, SourceCall, SourceHealth, SourceIncident
from kyc_dev.mailsink import read_messages, start_mailsink
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "monitoring"))
from monitoring_ledgers import NOW, synthetic  # noqa: E402


def add_rows(url: str, source: str, rows) -> None:
    with session_scope(url) as s:
        for r in rows:
            s.add(
                SourceCall(
                    source=source,
                    operation=r.operation,
                    started_at=r.started_at,
                    latency_ms=r.latency_ms,
                    outcome=r.outcome,
                    http_status=r.http_status,
                    error_class=r.error_class,
                    cost=0.0,
                    cache_hit=r.outcome == "cache_hit",
                    attempts=1,
                )
            )


def test_sql_windows_equal_the_hand_computed_ones(store):
    rows = synthetic()
    add_rows(store, "rne", rows)
    add_rows(store, "sirene", rows[:3])
    with session_scope(store) as s:
        got = ledger_stats(s, ["rne", "sirene", "bodacc"], NOW, [900, 3600, 86400])
    for window in (900, 3600, 86400):
        assert got["rne"][window] == stats_from_rows(rows, NOW, window)
    assert got["rne"][900].p95_ms == 3000.0
    assert got["rne"][900].availability_pct == pytest.approx(100 * 20 / 23)
    assert got["sirene"][900].answers == 3
    assert got["bodacc"][900].calls == 0 and got["bodacc"][900].p95_ms is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_sender(port: int):
    def send(alert: MonitorAlert) -> None:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = alert.subject, "kyc@localhost", ", ".join(alert.recipients)
        msg["X-KYC-Alert-Key"] = alert.alert_key
        msg.set_content(alert.body_text)
        msg.add_alternative(alert.body_html, subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(msg)

    return send


def outage(url: str, source: str, end: datetime, minutes: int = 10, ok: bool = False) -> None:
    from kyc_core.monitoring.windows import Row

    rows = [
        Row(
            end - timedelta(seconds=30 * i),
            "ok" if ok else "error",
            40.0,
            200 if ok else 503,
            None if ok else "TransientSourceError",
            operation="probe" if i % 2 else "company",
        )
        for i in range(1, minutes * 2)
    ]
    add_rows(url, source, rows)


def test_outage_alerts_once_survives_smtp_down_and_recovers_once(store, tmp_path):
    config = load_sla().config
    t0 = datetime.now(UTC).replace(microsecond=0)
    for source in config.sources:
        outage(store, source, t0, ok=True)
    with session_scope(store) as s:
        s.execute(SourceCall.__table__.delete().where(SourceCall.source == "rne"))
    outage(store, "rne", t0)

    first = run_monitor(store, load_sla, breakers={"rne": "open"}, now=t0, run_id="r1")
    assert first.statuses["rne"] == "down"
    assert {s for s, v in first.statuses.items() if v != "healthy"} == {"rne"}
    assert first.alerts_created == [first.alerts_created[0]] and first.alerts_created[0].endswith(":opened")

    # The SMTP server is down: the alert stays pending, with its error.
    port = _free_port()
    sent, failed = send_pending(store, smtp_sender(port), actor="test")
    assert (sent, failed) == ([], first.alerts_created)
    with session_scope(store) as s:
        alert = s.scalars(select(MonitorAlert)).one()
        assert alert.sent_at is None and alert.attempts == 1 and "Connection" in alert.last_error

    # A re-run and a second run while still down queue nothing new.
    again = run_monitor(store, load_sla, breakers={"rne": "open"}, now=t0 + timedelta(seconds=1), run_id="r1")
    later = run_monitor(store, load_sla, breakers={"rne": "open"}, now=t0 + timedelta(minutes=5), run_id="r2")
    assert again.alerts_created == [] and later.alerts_created == []

    sink = start_mailsink(tmp_path, port=port)
    try:
        assert send_pending(store, smtp_sender(port), actor="test")[0] == first.alerts_created
        assert send_pending(store, smtp_sender(port), actor="test") == ([], [])
        # Recovery: the failures leave the 15-minute window, answers come back, the breaker closes.
        t1 = t0 + timedelta(minutes=20)
        outage(store, "rne", t1, ok=True)
        for source in config.sources:
            outage(store, source, t1, ok=True)
        recovered = run_monitor(store, load_sla, breakers={"rne": "closed"}, now=t1, run_id="r3")
        assert recovered.statuses["rne"] == "healthy"
        assert [k.rsplit(":", 1)[1] for k in recovered.alerts_created] == ["resolved"]
        send_pending(store, smtp_sender(port), actor="test")
    finally:
        sink.stop()

    subjects = [" ".join(str(m["Subject"]).split()) for m in read_messages(tmp_path)]
    assert len(subjects) == 2
    assert subjects[0].startswith("[KYC][CRITICAL] rne down since ")
    assert subjects[1].startswith("[KYC][RESOLVED] rne recovered at ")
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(SourceHealth)) == 4 * len(config.sources)
        incident = s.scalars(select(SourceIncident)).one()
        assert (incident.status, incident.peak_severity) == ("resolved", "critical")
        events = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "notification_sent")).all()
        assert len(events) == 2
        assert verify_chain(s).ok


def test_empty_ledger_is_unknown_never_healthy_and_alerts_that_it_cannot_measure(store):
    result = run_monitor(store, load_sla, breakers={}, run_id="r1")
    assert set(result.statuses.values()) == {"unknown"}
    with session_scope(store) as s:
        subjects = s.scalars(select(MonitorAlert.subject)).all()
    assert len(subjects) == len(result.statuses)
    assert all(
        " cannot be measured since " in subject and subject.startswith("[KYC][WARNING]")
        for subject in subjects
    )


def test_refused_configuration_keeps_the_previous_one(store, tmp_path):
    good = run_monitor(store, load_sla, breakers={}, run_id="r1")
    (tmp_path / "sla.yaml").write_text("version: x\ntier: gold\n")
    bad = run_monitor(store, lambda: load_sla(tmp_path), breakers={}, run_id="r2")
    assert bad.config_hash == good.config_hash
    assert "tier" in bad.config_error and "\n" not in bad.config_error


def test_racing_runs_queue_one_alert(store):
    import threading

    t0 = datetime.now(UTC).replace(microsecond=0)
    for source in load_sla().config.sources:
        outage(store, source, t0, ok=source != "rne")
    results, errors = [], []

    def run(n: int) -> None:
        try:
            results.append(run_monitor(store, load_sla, breakers={}, now=t0, run_id=f"race-{n}"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(len(r.alerts_created) for r in results) == [0, 0, 0, 1]
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(MonitorAlert)) == 1
        assert s.scalar(select(func.count()).select_from(SourceIncident)) == 1


def test_reminder_emergency_and_credentials(store):
    t0 = datetime.now(UTC).replace(microsecond=0)
    for source in load_sla().config.sources:
        outage(store, source, t0, ok=source != "rne")
    run_monitor(store, load_sla, breakers={}, now=t0, run_id="r1")
    # Still down 61 minutes later: critical for an hour escalates to emergency (one alert).
    t1 = t0 + timedelta(minutes=61)
    for source in load_sla().config.sources:
        outage(store, source, t1, ok=source != "rne")
    assert [
        k.rsplit(":", 2)[1:] for k in run_monitor(store, load_sla, breakers={}, now=t1).alerts_created
    ] == [["raised", "emergency"]]
    # Still down after 4 h: one reminder, not repeated within the next period.
    t2 = t0 + timedelta(hours=4, minutes=1)
    for source in load_sla().config.sources:
        outage(store, source, t2, ok=source != "rne")
    assert [
        k.rsplit(":", 2)[1:] for k in run_monitor(store, load_sla, breakers={}, now=t2).alerts_created
    ] == [["reminder", "1"]]
    assert run_monitor(store, load_sla, breakers={}, now=t2 + timedelta(minutes=5)).alerts_created == []
    # Our credentials refused (401) is its own incident, not the source's outage.
    from monitoring_ledgers import Row

    add_rows(
        store,
        "sirene",
        [Row(t2 + timedelta(minutes=5, seconds=i), "error", 30.0, 401, "SourceUnusable") for i in range(3)],
    )
    created = run_monitor(store, load_sla, breakers={}, now=t2 + timedelta(minutes=6)).alerts_created
    with session_scope(store) as s:
        subjects = [
            s.scalars(select(MonitorAlert.subject).where(MonitorAlert.alert_key == k)).one() for k in created
        ]
    assert subjects == [subjects[0]] and subjects[0].startswith(
        "[KYC][CRITICAL] sirene credentials refused since "
    )
