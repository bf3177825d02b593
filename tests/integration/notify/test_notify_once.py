"""Every notice e-mail has an idempotency key and is sent once: a cleared task or a racing try sends nothing more,
a failed send is sent by the next try. Against the local SMTP catcher and the real databases."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from kyc_core.notify import COMPLIANCE_NOTICE, notice_key, send_once
from kyc_core.resilience import InfrastructureUnavailable
from kyc_core.store import notifications
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, EmailNotification
from kyc_dev.mailsink import read_messages, start_mailsink
from sqlalchemy import select


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_conn(monkeypatch, port: int) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KYC_SMTP", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port,
         "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 5, "retry_limit": 1}}))


def kyc_conn(monkeypatch, url: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": url}}))


@pytest.fixture
def sink(tmp_path, monkeypatch):
    port = free_port()
    controller = start_mailsink(tmp_path / "mail", port=port)
    smtp_conn(monkeypatch, port)
    yield tmp_path / "mail"
    controller.stop()


def summary(decision_id: str) -> dict:
    return {
        "customer_id": str(uuid.uuid4()), "decision_id": decision_id, "outcome": "reject", "score": 0.8,
        "risk_level": "high", "kind": "entity", "segment": "cgp", "strong_hits": 1, "reference": "CRM-77",
        "top_reasons": [{"code": "sanctions_match", "outcome": "reject", "text": "confirmed sanctions match"}],
        "documents": [],
    }


def context(run_id: str = "manual__1", try_number: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="kyc_onboarding", task_id="customer.notify", map_index=0, run_id=run_id,
                         try_number=try_number, log_url=None)
    return {"run_id": run_id, "ti": ti, "dag_run": None}


def outbox(url: str) -> list[EmailNotification]:
    with session_scope(url) as s:
        rows = list(s.scalars(select(EmailNotification).order_by(EmailNotification.id)))
        s.expunge_all()
        return rows


def event_types(url: str) -> list[str]:
    with session_scope(url) as s:
        return list(s.scalars(select(AuditEvent.event_type).order_by(AuditEvent.seq)))


def test_compliance_notice_twice_for_one_decision_is_one_mail(store, sink, monkeypatch):
    from kyc_airflow.notifiers.compliance import ComplianceNotifier

    kyc_conn(monkeypatch, store)
    decision_id = str(uuid.uuid4())
    ComplianceNotifier(summary=summary(decision_id)).notify(context())
    # The task cleared and run again, in a later try: the notice of this decision was sent already.
    ComplianceNotifier(summary=summary(decision_id)).notify(context(try_number=2))
    [mail] = read_messages(sink)
    key = f"compliance_notice:{decision_id}"
    assert mail["X-KYC-Idempotency-Key"] == key
    assert mail["Message-ID"] == notifications.message_id_for(key)
    [row] = outbox(store)
    assert (row.idempotency_key, row.kind, row.decision_id, row.attempts) == (key, "compliance_notice", decision_id, 1)
    assert row.sent_at is not None
    assert event_types(store).count(EventType.NOTIFICATION_SENT.value) == 1

    # Another decision is another notice.
    ComplianceNotifier(summary=summary(str(uuid.uuid4()))).notify(context())
    assert len(read_messages(sink)) == 2


def test_a_failed_send_stays_pending_and_the_next_try_sends_it_once(store, tmp_path, monkeypatch):
    from kyc_airflow.notifiers.compliance import ComplianceNotifier

    kyc_conn(monkeypatch, store)
    port = free_port()
    smtp_conn(monkeypatch, port)  # nothing listens yet: the SMTP server is down
    decision_id = str(uuid.uuid4())
    with pytest.raises(OSError):
        ComplianceNotifier(summary=summary(decision_id)).notify(context())
    [row] = outbox(store)
    assert row.sent_at is None and row.attempts == 1 and row.last_error.startswith("ConnectionRefusedError")
    assert EventType.NOTIFICATION_FAILED.value in event_types(store)

    controller = start_mailsink(tmp_path / "mail", port=port)
    try:
        ComplianceNotifier(summary=summary(decision_id)).notify(context(try_number=2))
        ComplianceNotifier(summary=summary(decision_id)).notify(context(try_number=3))
    finally:
        controller.stop()
    assert len(read_messages(tmp_path / "mail")) == 1
    [row] = outbox(store)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    with session_scope(store) as s:
        assert verify_chain(s).ok


def test_racing_senders_send_once(store):
    """Two tries of the same task at once (a zombie and its retry): one message."""
    sent: list[int] = []
    key = notice_key(COMPLIANCE_NOTICE, str(uuid.uuid4()))
    errors: list[BaseException] = []

    def slow_send() -> None:
        time.sleep(0.3)
        sent.append(1)

    def one() -> None:
        try:
            send_once(store, key, kind=COMPLIANCE_NOTICE, subject="s", recipients=["c@x"], send=slow_send, actor="t")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sent == [1]


def test_unreachable_kyc_database_sends_nothing_and_names_it(tmp_path):
    sent: list[int] = []
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'kyc.db'}"
    with pytest.raises(InfrastructureUnavailable) as down:
        send_once(url, "compliance_notice:x", kind=COMPLIANCE_NOTICE, subject="s", recipients=["c@x"],
                  send=lambda: sent.append(1), actor="t")
    assert down.value.component == "kyc_database"
    assert sent == []


def test_task_failure_mail_once_per_try_and_even_without_the_database(store, sink, monkeypatch, tmp_path):
    from kyc_airflow.notifiers.failure import TaskFailureNotifier

    def failed(try_number: int) -> dict:
        return {**context(try_number=try_number), "exception": RuntimeError("boom")}

    kyc_conn(monkeypatch, store)
    TaskFailureNotifier(to=["oncall@x"]).notify(failed(1))
    TaskFailureNotifier(to=["oncall@x"]).notify(failed(1))  # the callback run again for the same try
    TaskFailureNotifier(to=["oncall@x"]).notify(failed(2))  # a new failure
    # A long key is folded on the wire like any header; unfolded it is the key.
    keys = ["".join(str(m["X-KYC-Idempotency-Key"]).split()) for m in read_messages(sink)]
    assert keys == ["task_failure:kyc_onboarding:manual__1:customer.notify:0:1",
                    "task_failure:kyc_onboarding:manual__1:customer.notify:0:2"]

    # The KYC database is what failed: on-call hears of it all the same.
    kyc_conn(monkeypatch, f"sqlite:///{tmp_path / 'no-such-dir' / 'kyc.db'}")
    TaskFailureNotifier(to=["oncall@x"]).notify(failed(3))
    assert len(read_messages(sink)) == 3
