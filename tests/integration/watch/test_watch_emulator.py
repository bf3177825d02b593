"""The register watch against the emulator, on SQLite and PostgreSQL: every event type the emulator can publish,
idempotent re-runs, a missed day caught up, severity, and BODACC down leaving the watermark where it was."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime

import pytest
from kyc_core.countries import iso2
from kyc_core.customers.registration import register_customer
from kyc_core.customers.request import DeclaredPerson, EntityCustomer, OnboardingCustomer
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.store import registry_events as repo
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, RegistryEvent, ReviewFlag
from kyc_core.watch.run import WatchOptions, severe_of_run, watch_bodacc, watch_registers
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}
#: Fresh answers every pass: the watch must see what the emulator publishes between two passes.
FRESH = WatchOptions(max_age_s=0, batch_size=2)
DAY0, DAY2 = date(2026, 12, 7), date(2026, 12, 9)


def _publish(emulator, **event) -> dict:
    request = urllib.request.Request(emulator.root + "/_admin/events", data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _register(url: str, company) -> str:
    people = [o.person for o in company.officers if o.person is not None]
    item = OnboardingCustomer(
        customer=EntityCustomer(siren=company.siren, declared_name=company.name, declared_officers=[
            DeclaredPerson(name=" ".join([*p.first_names, p.last_name]), birth_month=p.birth_ym,
                           nationality=iso2(p.nationality_code)) for p in people]),
        segment="fintech",
    )
    with session_scope(url) as session:
        return register_customer(session, item, actor="test", run_id=None).customer_id


@pytest.fixture
def watch(store, emulator):
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))

    def run(step: str, today: date, run_id: str, options: WatchOptions = FRESH) -> dict:
        fn = watch_bodacc if step == "bodacc" else watch_registers
        return fn(store, endpoints, actor="test", run_id=run_id, today=today, options=options,
                  backend=MemoryBackend(), source_config=FAST)

    return run


def _rows(url: str) -> list[RegistryEvent]:
    with session_scope(url) as session:
        return list(session.scalars(select(RegistryEvent).order_by(RegistryEvent.id)))


def _events(url: str) -> dict[tuple[str, str], RegistryEvent]:
    return {(e.siren, e.event_type): e for e in _rows(url)}


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as session:
        return (session.scalar(select(func.count()).select_from(RegistryEvent)),
                session.scalar(select(func.count()).select_from(ReviewFlag)),
                session.scalar(select(func.count()).select_from(AuditEvent).where(
                    AuditEvent.event_type.in_(("registry_event_detected", "customer_flagged")))))


def test_every_event_type_is_detected_once_with_its_evidence_and_flags(store, emulator, watch, load_lists):
    load_lists()
    dataset = emulator.state.dataset
    # Top-level companies with declared beneficial owners (slots 6, 12, 14 of the generator).
    first, second, third = (dataset.company_at(i) for i in (6, 12, 14))
    ids = {c.siren: _register(store, c) for c in (first, second, third)}

    assert watch("bodacc", DAY0, "run-0")["watermark"] == DAY0.isoformat()
    baseline = watch("registers", DAY0, "run-0")
    assert (baseline["due"], baseline["baselines"], baseline["events_new"]) == (3, 3, 0)
    assert _counts(store)[0] == 0

    # Published on the missed day (no run on 2026-12-08).
    liquidation = _publish(emulator, event="bodacc", siren=first.siren, family="collective", proceeding="liquidation",
                           date="2026-12-08")
    sale = _publish(emulator, event="bodacc", siren=second.siren, family="vente", date="2026-12-08")
    struck = _publish(emulator, event="bodacc", siren=third.siren, family="radiation", date="2026-12-08")
    _publish(emulator, event="bodacc", siren=second.siren, family="collective", proceeding="sauvegarde",
             date="2026-12-08")
    _publish(emulator, event="bodacc", siren=third.siren, family="collective", proceeding="redressement",
             date="2026-12-08")
    _publish(emulator, event="officer_in", siren=second.siren, listed=True)
    _publish(emulator, event="officer_out", siren=first.siren)
    _publish(emulator, event="owner_in", siren=third.siren)
    _publish(emulator, event="owner_out", siren=second.siren)
    _publish(emulator, event="cessation", siren=third.siren, date="2026-12-08")
    _publish(emulator, event="office_abroad", siren=first.siren, country="BE")
    _publish(emulator, event="naf_change", siren=second.siren, naf="66.19B")

    bodacc = watch("bodacc", DAY2, "run-2")
    assert (bodacc["since"], bodacc["status"], bodacc["watermark"]) == ("2026-12-07", "ok", "2026-12-09")
    assert bodacc["batches"] == 2 and bodacc["events_new"] == 5
    registers = watch("registers", DAY2, "run-2")
    assert (registers["due"], registers["changed"], registers["status"]) == (3, 3, "ok")

    events = _events(store)
    assert sorted((s, t) for s, t in events) == sorted([
        (first.siren, "liquidation"), (first.siren, "officer_out"), (first.siren, "office_abroad"),
        (second.siren, "sale"), (second.siren, "safeguard"), (second.siren, "officer_in"), (second.siren, "owner_out"),
        (second.siren, "naf_sensitive"),
        (third.siren, "striking_off"), (third.siren, "receivership"), (third.siren, "owner_in"), (third.siren, "ceased"),
    ])
    assert events[(first.siren, "liquidation")].notice_id == liquidation["notice_id"]
    assert events[(first.siren, "liquidation")].snapshot_after_id is not None
    assert events[(second.siren, "sale")].evidence_key == sale["notice_id"]
    assert events[(third.siren, "striking_off")].event_date == date(2026, 12, 8) and struck["notice_id"]
    # Both registers show the move abroad: one event per register, each with its own snapshots.
    moves = [e for e in _rows(store) if e.event_type == "office_abroad"]
    assert sorted(e.source for e in moves) == ["rne", "sirene"]
    assert all(e.detail["to"] == "BE" and e.snapshot_before_id != e.snapshot_after_id for e in moves)
    assert events[(second.siren, "naf_sensitive")].detail == {**events[(second.siren, "naf_sensitive")].detail,
                                                              "to": "66.19B"}
    officer = events[(second.siren, "officer_in")]
    assert officer.detail["screened"] is True and officer.detail["listed"]
    # Severe: liquidation, striking-off and the listed new officer; a new owner who is not listed is not.
    severe = {(s, t) for (s, t), e in events.items() if e.severe}
    assert severe == {(first.siren, "liquidation"), (third.siren, "striking_off"), (second.siren, "officer_in")}
    assert events[(third.siren, "owner_in")].detail["listed"] == []
    assert all(e.customer_ids == [ids[e.siren]] for e in events.values())
    assert sorted(severe_of_run(store, "run-2")["customer_ids"]) == sorted(ids.values())

    rows = _rows(store)
    with session_scope(store) as session:
        flagged = session.scalars(select(ReviewFlag).where(ReviewFlag.reason == "registry_event")).all()
        assert len(flagged) == len(rows) == len(events) + 1
        assert set(session.scalars(select(Customer.id).where(Customer.flagged_for_review.is_(True)))) == set(ids.values())
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event_type == "registry_event_detected"))
        assert audited == len(flagged)
        assert verify_chain(session).ok

    # Re-runs of the same day write nothing: the watermark re-reads the day, the registers compare equal.
    before = _counts(store)
    again = watch("bodacc", DAY2, "run-2b")
    assert (again["since"], again["notices"], again["events_new"]) == (DAY2.isoformat(), 0, 0)
    # Rewound to re-read the missed day (as a failed batch would leave it): the same notices, nothing new.
    with session_scope(store) as session:
        repo.advance(session, "bodacc", "notices", DAY0.isoformat(), moment=datetime.now(UTC), actor="test",
                     run_id=None, audit=False)
    reread = watch("bodacc", DAY2, "run-2c")
    assert (reread["since"], reread["notices"], reread["events_new"]) == (DAY0.isoformat(), 5, 0)
    assert watch("registers", DAY2, "run-2b", WatchOptions(max_age_s=0, cadence_days=0))["events_new"] == 0
    assert _counts(store) == before
    assert severe_of_run(store, "run-2b")["customer_ids"] == severe_of_run(store, "run-2c")["customer_ids"] == []


def test_bodacc_down_keeps_the_watermark_and_the_next_run_catches_up(store, emulator, watch):
    from kyc_dev.emulator.faults import FaultSpec

    company = emulator.state.dataset.company_at(6)
    _register(store, company)
    assert watch("bodacc", DAY0, "run-0")["watermark"] == DAY0.isoformat()
    _publish(emulator, event="bodacc", siren=company.siren, family="radiation", date="2026-12-08")

    emulator.state.faults.set("bodacc", FaultSpec(outage="503"))
    down = watch("bodacc", DAY2, "run-down")
    assert (down["status"], down["error"], down["watermark"]) == ("unavailable", "transient", DAY0.isoformat())
    assert _counts(store)[0] == 0
    with session_scope(store) as session:
        assert repo.watermark(session, "bodacc", "notices").position == DAY0.isoformat()

    emulator.state.faults.clear("bodacc")
    later = watch("bodacc", date(2026, 12, 10), "run-up")
    assert (later["since"], later["status"], later["events_new"], later["watermark"]) == (
        DAY0.isoformat(), "ok", 1, "2026-12-10")
    assert [(e.event_type, e.severe) for e in _events(store).values()] == [("striking_off", True)]


def test_a_register_down_keeps_the_company_due(store, emulator, watch):
    from kyc_dev.emulator.faults import FaultSpec

    company = emulator.state.dataset.company_at(6)
    _register(store, company)
    watch("registers", DAY0, "run-0")
    _publish(emulator, event="officer_out", siren=company.siren)
    emulator.state.faults.set("rne", FaultSpec(outage="503"))
    down = watch("registers", DAY2, "run-down")
    assert down["status"] == "unavailable" and down["unavailable"]["rne"] == 1 and down["events_new"] == 0
    emulator.state.faults.clear("rne")
    # Checked today for Sirene only: the RNE answer is still owed, so the company is due again today.
    up = watch("registers", DAY2, "run-up")
    assert up["due"] == 1 and up["events_new"] == 1
    assert [e.event_type for e in _events(store).values()] == ["officer_out"]
