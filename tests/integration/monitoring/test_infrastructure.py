"""Redis and the KYC database watched by the SLA monitor, on the real PostgreSQL (and SQLite) and the real Redis.

`infrastructure_unavailable` audit events since the last check open one incident per component with counts and
what was affected, alerted once; a live probe that fails opens a critical one; the KYC database unreachable is
alerted without the outbox, deduplicated through Redis when it answers, and taken into the history once back.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from kyc_core.monitoring.config import DEFAULT_DIR, load_sla
from kyc_core.monitoring.infrastructure import (
    DOWN,
    KIND,
    UP,
    Probe,
    alert_unrecorded,
    clear_unrecorded,
    probe_database,
    probe_redis,
    read_unrecorded,
)
from kyc_core.monitoring.monitor import run_monitor
from kyc_core.resilience.infra import (
    KYC_DATABASE,
    REDIS,
    InfrastructureUnavailable,
    record_infrastructure_event,
)
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import MonitorAlert, SourceIncident
from sqlalchemy import select

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_event(url: str, *, customer: str | None, run: str, at: datetime | None = None) -> None:
    """What a register fetch appends when Redis failed (registry.fetch)."""
    with session_scope(url) as s:
        record_infrastructure_event(
            s,
            InfrastructureUnavailable(REDIS, "breaker", error_class="ConnectionError"),
            actor="test",
            run_id=run,
            customer_id=customer,
            detail={"siren": "552100554", "registers_not_consulted": ["bodacc", "rbe", "rne", "sirene"]},
        )


def ledger_event(url: str, *, since: datetime, rows: int) -> None:
    """What the call ledger appends once the KYC database takes writes again (resilience.ledger)."""
    with session_scope(url) as s:
        record_infrastructure_event(
            s,
            InfrastructureUnavailable(KYC_DATABASE, "ledger", error_class="OperationalError"),
            actor="kyc:ledger",
            detail={"since": since.isoformat(), "resumed_at": datetime.now(UTC).isoformat(), "rows_delayed": rows},
        )


def infra_alerts(url: str) -> list[MonitorAlert]:
    with session_scope(url) as s:
        rows = s.scalars(
            select(MonitorAlert).where(MonitorAlert.kind.startswith(KIND)).order_by(MonitorAlert.id)
        ).all()
        s.expunge_all()
        return list(rows)


def up(component: str, at: datetime) -> Probe:
    return Probe(component, UP, at, latency_ms=1.0)


def down(component: str, at: datetime) -> Probe:
    return Probe(component, DOWN, at, error_class="ConnectionError", error="Connection refused")


def test_live_probes_against_the_real_services_and_unreachable_ones(store, redis_url):
    assert probe_redis(redis_url[0]).state == UP
    assert probe_database(store).state == UP
    assert probe_redis(None).state == "not_configured"
    lost = probe_redis(UNREACHABLE_REDIS, timeout_s=1)
    assert (lost.state, lost.error_class) == (DOWN, "ConnectionError")
    gone = probe_database(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/kyc", timeout_s=1)
    assert (gone.state, gone.error_class) == (DOWN, "OperationalError")
    assert "Connection refused" in gone.error and "password" not in gone.error
    assert Probe.from_dict(gone.as_dict()) == gone


def test_events_since_the_last_check_alert_once_per_component_with_counts(store):
    t0 = datetime.now(UTC).replace(microsecond=0)
    redis_event(store, customer=None, run="run-a")
    redis_event(store, customer=None, run="run-a")
    redis_event(store, customer=None, run="run-b")
    ledger_event(store, since=t0 - timedelta(minutes=3), rows=7)
    probes = {REDIS: up(REDIS, t0), KYC_DATABASE: up(KYC_DATABASE, t0)}

    first = run_monitor(store, load_sla, breakers={}, now=t0, run_id="r1", infrastructure=probes)
    assert first.infrastructure == {REDIS: "unavailable", KYC_DATABASE: "unavailable"}
    alerts = infra_alerts(store)
    assert [(a.source, a.kind, a.severity) for a in alerts] == [
        (REDIS, "infrastructure_opened", "warning"),
        (KYC_DATABASE, "infrastructure_opened", "warning"),
    ]
    redis_mail, db_mail = alerts
    assert redis_mail.subject.startswith("[KYC][WARNING] redis unavailable since ")
    assert redis_mail.subject.endswith("(3 infrastructure_unavailable events)")
    assert "infrastructure_unavailable events: 3, first " in redis_mail.body_text
    assert "by operation: breaker 3" in redis_mail.body_text
    assert "registers not consulted (fetches): bodacc 3, rbe 3, rne 3, sirene 3" in redis_mail.body_text
    assert "in 2 runs: run-a, run-b" in redis_mail.body_text
    assert redis_mail.recipients == load_sla().config.recipients.warning
    # The ledger's event says since when the database refused writes: the incident starts there.
    assert db_mail.subject == (
        f"[KYC][WARNING] kyc_database unavailable since {(t0 - timedelta(minutes=3)):%H:%M} UTC "
        "(1 infrastructure_unavailable event)"
    )
    assert "call-ledger rows written late: 7" in db_mail.body_text and "<li>" in db_mail.body_html

    # Nothing new: a re-run and a later run queue nothing.
    assert run_monitor(store, load_sla, breakers={}, now=t0, run_id="r1", infrastructure=probes).alerts_created == []
    t1 = t0 + timedelta(minutes=5)
    redis_event(store, customer=None, run="run-c")
    probes = {REDIS: up(REDIS, t1), KYC_DATABASE: up(KYC_DATABASE, t1)}
    assert run_monitor(store, load_sla, breakers={}, now=t1, infrastructure=probes).alerts_created == []
    with session_scope(store) as s:
        incident = s.scalars(select(SourceIncident).where(SourceIncident.source == REDIS)).one()
        assert incident.detail["events"]["count"] == 4 and incident.status == "open"

    # Quiet for `resolve_after` (15 min) since the last event: one recovery e-mail each.
    t2 = datetime.now(UTC) + timedelta(minutes=16)
    probes = {REDIS: up(REDIS, t2), KYC_DATABASE: up(KYC_DATABASE, t2)}
    resolved = run_monitor(store, load_sla, breakers={}, now=t2, infrastructure=probes)
    assert sorted(k.rsplit(":", 1)[1] for k in resolved.alerts_created if "incident" in k) == ["resolved", "resolved"]
    recovered = [a.subject for a in infra_alerts(store)[2:]]
    assert all(s.startswith(("[KYC][RESOLVED] redis recovered at ", "[KYC][RESOLVED] kyc_database recovered at ")) for s in recovered)
    assert len(recovered) == 2
    assert run_monitor(store, load_sla, breakers={}, now=t2 + timedelta(minutes=5), infrastructure=probes).alerts_created == []

    # The watermark: a new event after the recovery opens a new incident counting it alone.
    redis_event(store, customer=None, run="run-d")
    t3 = t2 + timedelta(minutes=10)
    again = run_monitor(store, load_sla, breakers={}, now=t3, infrastructure={REDIS: up(REDIS, t3)})
    assert [k.rsplit(":", 1)[1] for k in again.alerts_created if k.startswith("incident")][-1:] == ["opened"]
    assert infra_alerts(store)[-1].subject.endswith("(1 infrastructure_unavailable event)")
    with session_scope(store) as s:
        assert verify_chain(s).ok


def test_a_real_assessment_with_redis_down_is_counted_in_the_alert(store, load_lists, emulator):
    from kyc_core.customers.registration import register_batch
    from kyc_core.customers.request import parse_request
    from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
    from kyc_core.registry.endpoints import RegistryEndpoints
    from kyc_core.resilience import RedisBackend
    from kyc_dev.emulator.dataset import Dataset
    from kyc_dev.emulator.server import credentials

    load_lists()
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    items = [
        {"customer": {"kind": "entity", "siren": ds.siren(n), "declared_name": ds.company(ds.siren(n)).name}, "segment": "cgp"}
        for n in (21, 22)
    ]
    with session_scope(store) as s:
        registered = register_batch(s, parse_request({"customers": items}), actor="t", run_id="run-infra")
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    backend = RedisBackend(UNREACHABLE_REDIS, "kyc:")
    ctx = AssessmentContext(database_url=store, run_id="run-infra", actor="test", endpoints=endpoints,
                            fetch_options={"backend": backend, "source_config": {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}})
    summaries = [assess_customer(ctx, r.customer_id) for r in registered]
    assert {s["outcome"] for s in summaries} == {"review"}

    now = datetime.now(UTC)
    result = run_monitor(store, load_sla, breakers={}, now=now, run_id="m1",
                         infrastructure={REDIS: probe_redis(UNREACHABLE_REDIS, timeout_s=1), KYC_DATABASE: probe_database(store)})
    assert result.infrastructure[REDIS] == "unreachable" and result.infrastructure[KYC_DATABASE] == "up"
    [alert] = infra_alerts(store)
    assert (alert.source, alert.severity) == (REDIS, "critical")
    assert alert.subject.startswith("[KYC][CRITICAL] redis unreachable since ")
    assert "infrastructure_unavailable events)" in alert.subject
    assert "Live probe: PING failed at " in alert.body_text and "ConnectionError" in alert.body_text
    assert "customers affected: 2, in 1 run: run-infra" in alert.body_text
    assert "Onboarding decisions sent to review / infrastructure_unavailable since then: 2" in alert.body_text
    assert alert.recipients == load_sla().config.recipients.critical
    # Never a register's fault: no register incident came of it.
    with session_scope(store) as s:
        kinds = {(i.source, i.kind) for i in s.scalars(select(SourceIncident))}
    assert (REDIS, KIND) in kinds and not any(kind == "credentials" for _, kind in kinds)


def test_a_failed_probe_is_critical_escalates_reminds_and_resolves_after_a_quiet_period(store):
    t0 = datetime.now(UTC).replace(microsecond=0)

    def run(at: datetime, redis: Probe) -> list[str]:
        created = run_monitor(store, load_sla, breakers={}, now=at, infrastructure={REDIS: redis, KYC_DATABASE: up(KYC_DATABASE, at)})
        return [k.split(":", 2)[2] for k in created.alerts_created if k.startswith("incident:") and _is_infra(store, k)]

    assert run(t0, down(REDIS, t0)) == ["opened"]
    assert run(t0 + timedelta(minutes=5), down(REDIS, t0 + timedelta(minutes=5))) == []
    assert run(t0 + timedelta(minutes=61), down(REDIS, t0 + timedelta(minutes=61))) == ["raised:emergency"]
    assert run(t0 + timedelta(hours=4, minutes=1), down(REDIS, t0 + timedelta(hours=4, minutes=1))) == ["reminder:1"]
    back = t0 + timedelta(hours=4, minutes=6)
    # Answering again: held (silently) for the quiet period, then one recovery e-mail.
    assert run(back, up(REDIS, back)) == []
    assert run(back + timedelta(minutes=16), up(REDIS, back + timedelta(minutes=16))) == ["resolved"]
    subjects = [a.subject for a in infra_alerts(store)]
    assert subjects[0].startswith("[KYC][CRITICAL] redis unreachable since ") and "event" not in subjects[0]
    assert subjects[1].startswith("[KYC][EMERGENCY] redis unreachable since ") and subjects[1].endswith("(severity raised)")
    assert subjects[2].startswith("[KYC][EMERGENCY] redis still unreachable since ") and subjects[2].endswith("(reminder)")
    assert subjects[3].startswith("[KYC][RESOLVED] redis recovered at ") and "(emergency since " in subjects[3]
    assert infra_alerts(store)[1].recipients == load_sla().config.recipients.emergency


def _is_infra(url: str, key: str) -> bool:
    with session_scope(url) as s:
        return s.scalar(select(MonitorAlert.kind).where(MonitorAlert.alert_key == key)).startswith(KIND)


@pytest.fixture
def fast_sla(tmp_path):
    """The shipped SLA file with a 2-second reminder period (the fallback's Redis deduplication window)."""
    data = yaml.safe_load((DEFAULT_DIR / "sla.yaml").read_text())
    data["reminder_after"] = "2s"
    (tmp_path / "sla.yaml").write_text(yaml.safe_dump(data))
    return load_sla(tmp_path)


def test_database_unreachable_is_alerted_through_redis_once_then_recorded_once_back(store, redis_url, fast_sla):
    import time

    url, prefix = redis_url
    dead = probe_database(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/kyc", timeout_s=1, attempts=1)
    sent: list[tuple[str, list[str], str]] = []

    def send(mail, recipients, key):
        sent.append((mail.subject, recipients, key))

    def alert(**extra):
        return alert_unrecorded(dead, config=fast_sla.config, fallback_recipients=[], send=send, redis_url=url,
                                redis_probe=probe_redis(url), key_prefix=prefix, **extra)

    first = alert()
    assert first.sent and first.deduplicated_by == "redis"
    assert sent[0][0].startswith("[KYC][CRITICAL] kyc_database unreachable since ")
    assert sent[0][1] == fast_sla.config.recipients.critical
    assert not alert().sent and len(sent) == 1  # the next run within the reminder period: nothing
    # A send that fails frees the key: the next try sends.
    time.sleep(2.2)

    def broken(mail, recipients, key):
        raise ConnectionRefusedError("smtp down")

    with pytest.raises(ConnectionRefusedError):
        alert_unrecorded(dead, config=fast_sla.config, fallback_recipients=[], send=broken, redis_url=url,
                         key_prefix=prefix)
    again = alert()
    assert again.sent and len(sent) == 2 and sent[1][2] != sent[0][2]

    # Back: the outage enters the incident history, its alert recorded as sent; one recovery e-mail later.
    outage = read_unrecorded(url, key_prefix=prefix)
    assert outage is not None and outage.alerts_sent == 2
    now = datetime.now(UTC)
    probes = {REDIS: up(REDIS, now), KYC_DATABASE: up(KYC_DATABASE, now)}
    back = run_monitor(store, lambda: fast_sla, breakers={}, now=now, infrastructure=probes, unrecorded=outage)
    clear_unrecorded(url, key_prefix=prefix)
    assert read_unrecorded(url, key_prefix=prefix) is None
    assert back.infrastructure[KYC_DATABASE] == "recovering"
    [opened] = infra_alerts(store)
    assert opened.sent_at is not None and opened.attempts == 2 and opened.subject == sent[0][0]
    later = now + timedelta(minutes=16)
    probes = {REDIS: up(REDIS, later), KYC_DATABASE: up(KYC_DATABASE, later)}
    recovered = run_monitor(store, lambda: fast_sla, breakers={}, now=later, infrastructure=probes)
    assert [k.rsplit(":", 1)[1] for k in recovered.alerts_created if _is_infra(store, k)] == ["resolved"]
    resolved = infra_alerts(store)[-1]
    assert resolved.sent_at is None and resolved.subject.startswith("[KYC][RESOLVED] kyc_database recovered at ")
    with session_scope(store) as s:
        incident = s.scalars(select(SourceIncident).where(SourceIncident.source == KYC_DATABASE)).one()
        assert (incident.status, incident.kind, incident.detail["unrecorded_alerts"]) == ("resolved", KIND, 2)


def test_database_unreachable_without_redis_is_sent_every_time_saying_so():
    dead = Probe(KYC_DATABASE, DOWN, datetime.now(UTC), error_class="OperationalError", error="Connection refused")
    sent: list[str] = []
    config = load_sla().config
    for _ in range(2):
        result = alert_unrecorded(dead, config=config, fallback_recipients=[], send=lambda m, r, k: sent.append(m.subject),
                                  redis_url=UNREACHABLE_REDIS, redis_probe=probe_redis(UNREACHABLE_REDIS, timeout_s=1))
        assert result.sent and result.deduplicated_by is None
    assert len(sent) == 2
    assert all(s.startswith("[KYC][CRITICAL] kyc_database unreachable at ") for s in sent)
    assert all(s.endswith("(not deduplicated: Redis unreachable too)") for s in sent)
    # Redis configured but failing on the spot (no probe given): sent too, saying why.
    result = alert_unrecorded(dead, config=config, fallback_recipients=[], send=lambda m, r, k: sent.append(m.subject),
                              redis_url=UNREACHABLE_REDIS)
    assert result.sent and sent[-1].endswith("(not deduplicated: Redis unusable (ConnectionError))")
    # No SLA configuration readable: the fallback recipients get it.
    to: list[list[str]] = []
    alert_unrecorded(dead, config=None, fallback_recipients=["oncall@example.test"], send=lambda m, r, k: to.append(r),
                     redis_url=None)
    assert to == [["oncall@example.test"]]
    assert json.dumps(dead.as_dict())
