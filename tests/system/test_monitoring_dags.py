"""The monitoring DAGs run in Airflow (dag.test) against the emulator, a real KYC database and a real SMTP sink."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from kyc_core.monitoring.config import DEFAULT_DIR
from kyc_core.store.db import session_scope
from kyc_core.store.models import MonitorAlert, SourceIncident
from kyc_dev.emulator.server import credentials
from kyc_dev.mailsink import read_messages, start_mailsink
from sqlalchemy import select

#: Status window of the tests: short, so a recovery is seen without waiting 15 minutes.
STATUS_WINDOW_S = 6


@pytest.fixture
def store(pg_url: str) -> str:
    """The production database only: whole-DAG runs are slow, the SQLite path is covered by the integration tests."""
    from kyc_core.store.migrate import upgrade

    upgrade(pg_url)
    return pg_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subjects(directory: Path) -> list[str]:
    return [" ".join(str(m["Subject"]).split()) for m in read_messages(directory)]


@pytest.fixture
def monitoring(airflow_db, store, emulator, tmp_path, monkeypatch):
    """Connections to the emulator, the test database and a mail sink; a short status window."""
    from airflow.dag_processing.dagbag import DagBag

    creds = credentials(emulator.state.config)
    account = creds["rne"][0]
    port = _free_port()
    mail_dir = tmp_path / "mail"
    sink = start_mailsink(mail_dir, port=port)
    connections = {
        "KYC_DB": {"conn_type": "kyc_database", "extra": {"url": store}},
        "KYC_SIRENE": {
            "conn_type": "insee_sirene",
            "host": emulator.urls["sirene"],
            "password": creds["sirene"]["api_key"],
        },
        "KYC_RNE": {
            "conn_type": "inpi_rne",
            "host": emulator.urls["rne"],
            "login": account["username"],
            "password": account["password"],
        },
        "KYC_BODACC": {"conn_type": "bodacc", "host": emulator.urls["bodacc"]},
        "KYC_SANCTIONS_LISTS": {"conn_type": "sanctions_list", "host": emulator.root + "/lists"},
        "KYC_SMTP": {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 5, "retry_limit": 0},
        },
    }
    for name, value in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(value))
    monkeypatch.delenv("KYC_REDIS_URL", raising=False)
    sla = yaml.safe_load((DEFAULT_DIR / "sla.yaml").read_text())
    sla["windows"] = [f"{STATUS_WINDOW_S}s", "1h", "24h"]
    config_dir = tmp_path / "monitoring"
    config_dir.mkdir()
    (config_dir / "sla.yaml").write_text(yaml.safe_dump(sla))
    (config_dir / "budget.yaml").write_text((DEFAULT_DIR / "budget.yaml").read_text())
    monkeypatch.setenv("KYC_MONITORING_DIR", str(config_dir))
    bag = DagBag(dag_folder="dags")
    yield bag, store, emulator, mail_dir
    sink.stop()


def fault(emulator, body: dict | None) -> None:
    if body is None:
        request = urllib.request.Request(emulator.root + "/_admin/faults", method="DELETE")
    else:
        request = urllib.request.Request(
            emulator.root + "/_admin/faults",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
    urllib.request.urlopen(request, timeout=5).read()


def test_rne_outage_one_critical_mail_then_one_recovery_mail(monitoring):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_source_sla_monitor"]

    fault(emulator, {"source": "rne", "outage": "503"})
    first = dag.test()
    assert first.state == "success"
    assert subjects(mail_dir) == [
        s for s in subjects(mail_dir) if s.startswith("[KYC][CRITICAL] rne down since ")
    ]
    assert len(subjects(mail_dir)) == 1
    body = read_messages(mail_dir)[0]
    assert body.is_multipart() and {p.get_content_type() for p in body.walk()} >= {"text/plain", "text/html"}

    second = dag.test()
    assert second.state == "success"
    assert len(subjects(mail_dir)) == 1, subjects(mail_dir)

    fault(emulator, None)
    time.sleep(STATUS_WINDOW_S + 0.5)
    third = dag.test()
    assert third.state == "success"
    got = subjects(mail_dir)
    assert len(got) == 2 and got[1].startswith("[KYC][RESOLVED] rne recovered at "), got
    with session_scope(url) as s:
        incidents = s.scalars(select(SourceIncident)).all()
        assert [(i.source, i.status) for i in incidents] == [("rne", "resolved")]
        assert s.scalars(select(MonitorAlert).where(MonitorAlert.sent_at.is_(None))).all() == []


def test_latency_above_p95_threshold_one_degraded_warning(monitoring):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_source_sla_monitor"]
    fault(emulator, {"source": "sirene", "latency": {"dist": "fixed", "mean_ms": 2600}})
    try:
        assert dag.test().state == "success"
        assert dag.test().state == "success"
    finally:
        fault(emulator, None)
    assert subjects(mail_dir) == [subjects(mail_dir)[0]]
    assert subjects(mail_dir)[0].startswith("[KYC][WARNING] sirene degraded since ")
    text = read_messages(mail_dir)[0]
    plain = (
        next(p for p in text.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    )
    assert "p95" in plain and "threshold 2000 ms" in plain


def test_a_failed_task_sends_one_mail_without_the_customers_names(monitoring):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_onboarding"]
    names = ("Ana", "Lopez", "Zacharie", "Dubreuil")
    conf = {
        "customers": [
            {
                "customer": {
                    "kind": "person",
                    "name": "Ana Lopez",
                    "birth_date": "1990-02-31",
                    "nationality": "XX",
                    "residence_country": "FR",
                },
                "segment": "cgp",
            },
            {
                "customer": {
                    "kind": "person",
                    "name": "Zacharie Dubreuil",
                    "birth_date": "1980-01-01",
                    "nationality": "FR",
                    "residence_country": "FR",
                },
                "segment": "cgp",
            },
        ]
    }
    run = dag.test(run_conf=conf)
    assert run.state == "failed"
    got = subjects(mail_dir)
    assert got == ["[KYC][FAILED] kyc_onboarding.validate_request try 1: AirflowFailException"], got
    raw = b"".join(p.read_bytes() for p in sorted(mail_dir.glob("*.eml"))).decode("utf-8", "replace")
    for message in read_messages(mail_dir):
        for part in message.walk():
            if part.get_content_maintype() == "text":
                raw += part.get_payload(decode=True).decode()
    for name in names:
        assert name not in raw, name
    assert "/dags/kyc_onboarding/runs/" in raw


def _spend(url: str, source: str, n: int, price: float) -> None:
    from datetime import UTC, datetime

    from kyc_core.store.models import SourceCall

    with session_scope(url) as s:
        now = datetime.now(UTC)
        s.add_all(
            SourceCall(
                source=source,
                operation="company",
                started_at=now,
                latency_ms=40.0,
                outcome="ok",
                http_status=200,
                cost=price,
                cache_hit=False,
                attempts=1,
            )
            for _ in range(n)
        )


def test_spend_crossing_80_then_100_percent_one_mail_each(monitoring):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_source_cost_monitor"]
    _spend(url, "rne", 2050, 0.02)  # 41 EUR of 50
    assert dag.test().state == "success"
    assert dag.test().state == "success"
    _spend(url, "rne", 500, 0.02)  # 51 EUR
    assert dag.test().state == "success"
    got = subjects(mail_dir)
    eighty = [
        s for s in got if s.startswith("[KYC][WARNING] rne spend 41.00 EUR reached 80 % of its 50 EUR budget")
    ]
    over = [s for s in got if s.startswith("[KYC][CRITICAL] rne spend 51.00 EUR is over its 50 EUR budget")]
    assert len(eighty) == 1 and len(over) == 1, got
    assert len([s for s in got if " rne " in s and "budget" in s and "forecast" not in s]) == 2, got


def test_monthly_report_mail_has_the_chart_inline_and_attached(monitoring):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_source_cost_monitor"]
    _spend(url, "bodacc", 10, 0.01)
    from datetime import UTC, datetime

    month = datetime.now(UTC).strftime("%Y-%m")
    assert dag.test(run_conf={"report_month": month}).state == "success"
    report = next(
        m for m in read_messages(mail_dir) if "[KYC][REPORT]" in " ".join(str(m["Subject"]).split())
    )
    types = [p.get_content_type() for p in report.walk()]
    assert {"text/plain", "text/html", "multipart/related"} <= set(types)
    pngs = [p for p in report.walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 2  # inline in the HTML, and attached
    assert all(p.get_payload(decode=True).startswith(b"\x89PNG") for p in pngs)


def test_onboarding_deadline_from_the_policy_and_one_mail_on_a_miss(monitoring):
    import asyncio
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineReference
    from kyc_core.customers.registration import register_batch
    from kyc_core.customers.request import parse_request
    from kyc_core.policy import load_policy

    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_onboarding"]
    [alert] = dag.deadline
    # The onboarding run proposes the decisions: the shortest decision_sla.initial_assessment_minutes.
    slas = [load_policy(s).spec.decision_sla for s in ("cgp", "fintech", "asset_mgmt")]
    assert alert.interval == timedelta(minutes=min(sla.initial_assessment_minutes for sla in slas if sla))
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    # The final decision is the review's: fintech's final_decision_hours is the shortest of the segment policies.
    [final] = bag.dags["kyc_case_review"].deadline
    assert final.interval == timedelta(hours=24) and final.callback.path == alert.callback.path
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "kyc_airflow.notifiers.deadline.decision_deadline_missed"

    run_id = "manual__2026-12-06T10:00:00+00:00"
    request = parse_request(
        {
            "customers": [
                {
                    "customer": {
                        "kind": "person",
                        "name": "Ana Lopez",
                        "birth_date": "1990-01-31",
                        "nationality": "ES",
                        "residence_country": "FR",
                    },
                    "segment": "fintech",
                },
                {
                    "customer": {
                        "kind": "person",
                        "name": "Zacharie Dubreuil",
                        "birth_date": "1980-01-01",
                        "nationality": "FR",
                        "residence_country": "FR",
                    },
                    "segment": "fintech",
                },
            ]
        }
    )
    with session_scope(url) as s:
        ids = sorted(r.customer_id for r in register_batch(s, request, actor="test", run_id=run_id))
    # The context the scheduler hands the triggerer on a miss (airflow.models.deadline.Deadline.handle_miss).
    context = {
        "dag_run": {"dag_id": "kyc_onboarding", "dag_run_id": run_id, "state": "running"},
        "deadline": {"id": "d1", "deadline_time": "2026-12-07T10:00:00+00:00"},
    }
    # Run the callback the way the triggerer does (import by path, context passed when it accepts one).
    from airflow.triggers.callback import CallbackTrigger

    async def run_callback():
        trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run_callback())
    assert events[-1]["state"] == "success", events
    subject = events[-1]["body"]
    got = subjects(mail_dir)
    assert (
        got
        == [subject]
        == [
            f"[KYC][DEADLINE] kyc_onboarding run {run_id}: no final decision for 2 customer(s) by the deadline"
        ]
    )
    [message] = read_messages(mail_dir)
    plain = (
        next(p for p in message.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    assert all(cid in plain for cid in ids)
    assert "Ana" not in plain and "Dubreuil" not in plain


# --- our own infrastructure: Redis and the KYC database ------------------------------------------------

#: A Redis database of its own for the fallback keys (`kyc:monitor:infrastructure:…`), emptied of them around each test.
FALLBACK_REDIS = "redis://127.0.0.1:6379/15"


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.fixture
def fallback_redis(redis_url):
    import redis

    client = redis.Redis.from_url(FALLBACK_REDIS)

    def clean() -> None:
        for key in client.scan_iter(match="kyc:monitor:infrastructure:*"):
            client.delete(key)

    clean()
    yield FALLBACK_REDIS
    clean()
    client.close()


def test_redis_unreachable_one_critical_mail_and_the_run_stays_green(monitoring, monkeypatch):
    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_source_sla_monitor"]
    monkeypatch.setenv("KYC_REDIS_URL", "redis://127.0.0.1:1/0")
    for _ in range(2):
        run = dag.test()
        assert run.state == "success", _states(run)
    got = subjects(mail_dir)
    assert len(got) == 1 and got[0].startswith("[KYC][CRITICAL] redis unreachable since "), got
    plain = (
        next(p for p in read_messages(mail_dir)[0].walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    assert "Live probe: PING failed at " in plain and "ConnectionError" in plain
    with session_scope(url) as s:
        [incident] = s.scalars(select(SourceIncident)).all()
        assert (incident.source, incident.kind, incident.status) == ("redis", "infrastructure", "open")


def test_kyc_database_unreachable_is_alerted_without_it_and_recorded_once_back(monitoring, monkeypatch, fallback_redis, tmp_path):
    bag, url, emulator, mail_dir = monitoring
    # Recover as soon as the database answers again (the shipped quiet period is 15 minutes).
    config_dir = tmp_path / "monitoring"
    sla = yaml.safe_load((config_dir / "sla.yaml").read_text())
    sla["infrastructure"]["resolve_after"] = "1s"
    (config_dir / "sla.yaml").write_text(yaml.safe_dump(sla))
    dag = bag.dags["kyc_source_sla_monitor"]
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/kyc"
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": dead}}))
    monkeypatch.setenv("KYC_REDIS_URL", fallback_redis)

    first = dag.test()
    assert first.state == "failed"
    states = _states(first)
    assert states["check_infrastructure"] == "failed"
    assert (states["probe_sources"], states["evaluate"], states["send_alerts"]) == (
        "upstream_failed", "skipped", "upstream_failed"
    )
    got = subjects(mail_dir)
    # The alert, and no task-failure e-mail on top of it.
    assert len(got) == 1 and got[0].startswith("[KYC][CRITICAL] kyc_database unreachable since "), got
    [message] = read_messages(mail_dir)
    key = "".join(str(message["X-KYC-Idempotency-Key"]).split())
    assert key.startswith("infrastructure_unrecorded:kyc_database:")
    # The next run within the reminder period: deduplicated through Redis, still red.
    assert dag.test().state == "failed"
    assert len(subjects(mail_dir)) == 1, subjects(mail_dir)

    # Redis unreachable too: sent on every run, saying so.
    monkeypatch.setenv("KYC_REDIS_URL", "redis://127.0.0.1:1/0")
    assert dag.test().state == "failed"
    got = subjects(mail_dir)
    assert len(got) == 2 and got[1].startswith("[KYC][CRITICAL] kyc_database unreachable at "), got
    assert got[1].endswith("(not deduplicated: Redis unreachable too)")

    # Both back: the outage enters the incident history and one recovery e-mail goes out through the outbox.
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": url}}))
    monkeypatch.setenv("KYC_REDIS_URL", fallback_redis)
    back = dag.test()
    assert back.state == "success", _states(back)
    got = subjects(mail_dir)
    assert len(got) == 3 and got[2].startswith("[KYC][RESOLVED] kyc_database recovered at "), got
    with session_scope(url) as s:
        [incident] = s.scalars(select(SourceIncident)).all()
        assert (incident.source, incident.status, incident.detail["unrecorded_alerts"]) == ("kyc_database", "resolved", 1)
        alerts = s.scalars(select(MonitorAlert).order_by(MonitorAlert.id)).all()
        assert [(a.kind, a.sent_at is not None) for a in alerts] == [
            ("infrastructure_opened", True),
            ("infrastructure_resolved", True),
        ]
    assert dag.test().state == "success"
    assert len(subjects(mail_dir)) == 3


def test_a_failed_list_refresh_reaches_on_call(monitoring):
    """A download failure and a refused version each fail their task: the failure e-mail goes to on-call."""
    from kyc_dev.emulator.faults import FaultSpec

    bag, url, emulator, mail_dir = monitoring
    dag = bag.dags["kyc_sanctions_refresh"]
    oncall = ", ".join(yaml.safe_load((DEFAULT_DIR / "sla.yaml").read_text())["recipients"]["critical"])
    # The download: retried with backoff in production; here the first failure is the last.
    dag.get_task("refresh_list").partial_kwargs["retries"] = 0
    fault(emulator, {"source": "un", "outage": "503"})
    try:
        assert dag.test().state == "failed"
    finally:
        fault(emulator, None)
    # A file that arrives but cannot be trusted (cut off): refused, the previous version stays active.
    emulator.state.faults.set("un", FaultSpec(truncate_rate=1.0, truncate_mode="body"))
    try:
        assert dag.test().state == "failed"
    finally:
        fault(emulator, None)
    messages = read_messages(mail_dir)
    got = [" ".join(str(m["Subject"]).split()) for m in messages]
    refresh = [m for m, s in zip(messages, got, strict=True) if ".refresh_list[" in s]
    assert len(refresh) == 2, got
    assert all(str(m["To"]) == oncall for m in messages)
    texts = [
        next(p for p in m.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
        for m in refresh
    ]
    assert got[0].startswith("[KYC][FAILED] kyc_sanctions_refresh.refresh_list[") and got[0].endswith("TransientSourceError")
    assert "un: server error 503" in texts[0]
    assert "un_sc: version " in texts[1] and " refused: " in texts[1]
    assert sum(s.startswith("[KYC][FAILED] kyc_sanctions_refresh.report_failed_lists try 1") for s in got) == 2
