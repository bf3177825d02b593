"""Review batches against the emulator and the real database: unchanged reviews, flags, fail closed, re-runs."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.perpetual.review import review_batch, run_summary
from kyc_core.perpetual.selection import due_date, plan_run
from kyc_core.policy import load_policy
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.store import customers as customer_repo
from kyc_core.store import flags as flag_repo
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision, ReviewFlag, ReviewItem
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}
TODAY = datetime.now(UTC).date()
LONG_AGO = date(2026, 1, 1)


@pytest.fixture
def ctx(store, emulator) -> AssessmentContext:
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    return AssessmentContext(database_url=store, run_id="onboarding-1", actor="test", endpoints=endpoints,
                             fetch_options={"backend": MemoryBackend(), "source_config": FAST})


@pytest.fixture
def book(store, ctx, emulator, load_lists) -> list[str]:
    """Three companies onboarded and due for review (their review date set in the past)."""
    load_lists()
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    items = [{"customer": {"kind": "entity", "siren": ds.siren(i), "declared_name": ds.company(ds.siren(i)).name},
              "segment": "cgp"} for i in (21, 22, 23)]
    with session_scope(store) as s:
        ids = [r.customer_id for r in register_batch(s, parse_request({"customers": items}), actor="t", run_id="onboarding-1")]
    for cid in ids:
        assess_customer(ctx, cid)
    with session_scope(store) as s:
        for cid in ids:
            customer_repo.reviewed(s, cid, next_review_date=LONG_AGO, moment=datetime.now(UTC))
    return sorted(ids)


def _later(ctx: AssessmentContext, run_id: str) -> AssessmentContext:
    """The context of a review run months after onboarding: the register answers cached then have expired."""
    return replace(ctx, run_id=run_id, fetch_options={**ctx.fetch_options, "backend": MemoryBackend()})


def _count(store: str, model, *where) -> int:
    with session_scope(store) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _fault(emulator, source: str, spec: dict | None) -> None:
    base = emulator.root + "/_admin/faults"
    if spec is None:
        request = urllib.request.Request(f"{base}?source={source}", method="DELETE")
    else:
        request = urllib.request.Request(base, data=json.dumps({"source": source, **spec}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def test_an_unchanged_review_writes_no_decision_but_an_event_and_a_later_date(store, ctx, book):
    decisions_before = _count(store, Decision)
    plan = plan_run(store, "review-1", today=TODAY, batch_size=2, actor="test")
    assert plan["batches"] == [0, 1] and plan["reasons"]["periodic"] == 3
    run = _later(ctx, "review-1")
    summaries = [review_batch(run, n) for n in plan["batches"]]
    assert sum(s["unchanged"] for s in summaries) == 3
    assert sum(s["decisions_written"] for s in summaries) == 0
    assert _count(store, Decision) == decisions_before
    with session_scope(store) as s:
        reviewed = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_reviewed")).all()
        assert sorted(e.customer_id for e in reviewed) == book
        assert all(json.loads(e.payload)["purpose"] == "periodic" for e in reviewed)
        created = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "case_created", AuditEvent.run_id == "review-1")).all()
        assert all(json.loads(e.payload)["purpose"] == "periodic" for e in created) and len(created) == 3
        for customer in s.scalars(select(Customer)):
            assert customer.next_review_date == due_date(TODAY, customer.risk_level, load_policy("cgp")) > TODAY
        assert all(i.reviewed_at is not None and i.decision_written is False for i in s.scalars(select(ReviewItem)))
        assert verify_chain(s).ok
    summary = run_summary(store, "review-1", summaries)
    assert summary["reviewed"] == summary["customers"] == 3 and summary["unchanged"] == 3
    # The registers answered again; the ledger shows it for the cost report.
    assert summary["register_calls"] and all(v["calls"] + v["cached"] > 0 for v in summary["register_calls"].values())


def test_flags_acted_on_are_cleared_and_one_raised_during_the_review_stays_open(store, ctx, book):
    first = book[0]
    with session_scope(store) as s:
        flag_repo.raise_flag(s, first, reason="manual", detail={"rationale": "press article"}, actor="analyst", moment=datetime.now(UTC))
    plan = plan_run(store, "review-2", today=TODAY, batch_size=10, actor="test")
    assert plan["reasons"]["manual"] == 1

    def assess_while_a_list_changes(context, customer_id):
        if customer_id == first:
            with session_scope(store) as s:
                flag_repo.raise_flag(s, first, reason="list_change", key="list_version:99", actor="delta", moment=datetime.now(UTC))
        return assess_customer(context, customer_id)

    summary = review_batch(_later(ctx, "review-2"), 0, assess=assess_while_a_list_changes)
    assert summary["flags_cleared"] == 1 and summary["purposes"] == {"manual": 1, "periodic": 2}
    with session_scope(store) as s:
        flags = {f.reason: f for f in s.scalars(select(ReviewFlag).where(ReviewFlag.customer_id == first))}
        assert flags["manual"].cleared_at is not None and flags["manual"].cleared_by == "review-2"
        assert flags["list_change"].cleared_at is None
        assert s.get(Customer, first).flagged_for_review is True
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "review_flags_cleared")).one()
        assert event.customer_id == first and json.loads(event.payload)["cleared"] == 1
        reviewed = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_reviewed",
                                                      AuditEvent.customer_id == first)).one()
        assert json.loads(reviewed.payload)["purpose"] == "manual"


def test_a_killed_batch_re_run_reviews_each_customer_once(store, ctx, book, emulator):
    plan_run(store, "review-3", today=TODAY, batch_size=10, actor="test")
    run = _later(ctx, "review-3")
    crashed: list[str] = []

    def dies_after_storing_the_second(context, customer_id):
        summary = assess_customer(context, customer_id)
        if customer_id == book[1] and not crashed:
            crashed.append(customer_id)
            raise RuntimeError("worker killed")
        return summary

    # The second customer's register answer changes the outcome: its assessment writes a decision, then dies.
    _fault(emulator, "rne", {"outage": "503"})
    try:
        first = review_batch(run, 0, assess=dies_after_storing_the_second)
    finally:
        _fault(emulator, "rne", None)
    assert first["failed"] == [book[1]]
    assert first["source_unavailable"] == 2 and first["decisions_written"] == 2
    assert len(first["reviews"]) == 2 and all(r["outcome"] == "review" for r in first["reviews"])
    with session_scope(store) as s:
        assert s.get(ReviewItem, ("review-3", book[1])).reviewed_at is None
    events_before = _count(store, AuditEvent)

    again = review_batch(run, 0)
    assert again["failed"] == [] and again["already_reviewed"] == 2
    # The killed customer's decision was stored before the crash: found by its id, not written twice.
    with session_scope(store) as s:
        for cid in book:
            assert s.scalar(select(func.count()).select_from(Decision).where(Decision.customer_id == cid,
                                                                             Decision.run_id == "review-3")) == 1
            assert s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.customer_id == cid, AuditEvent.run_id == "review-3", AuditEvent.event_type == "case_created")) == 1
        assert all(i.reviewed_at is not None for i in s.scalars(select(ReviewItem).where(ReviewItem.run_id == "review-3")))
    # The re-run reports the same reviews to open (the review opener skips runs that exist).
    assert {r["decision_id"] for r in first["reviews"]} < {r["decision_id"] for r in again["reviews"]}
    assert len(again["reviews"]) == 3
    # Only the killed customer's review was recorded by the re-run.
    assert _count(store, AuditEvent) - events_before <= 2
    third = review_batch(run, 0)
    assert third["already_reviewed"] == 3 and _count(store, Decision, Decision.run_id == "review-3") == 3


def test_a_register_down_during_a_review_gives_review_source_unavailable(store, ctx, book, emulator):
    with session_scope(store) as s:
        before = {cid: s.get(Customer, cid).status for cid in book}
    assert set(before.values()) != {"review"}
    plan_run(store, "review-4", today=TODAY, batch_size=10, actor="test")
    _fault(emulator, "rne", {"outage": "503"})
    try:
        summary = review_batch(_later(ctx, "review-4"), 0)
    finally:
        _fault(emulator, "rne", None)
    assert summary["outcomes"] == {"review": 3} and summary["source_unavailable"] == 3
    assert summary["decisions_written"] == 3 and summary["unchanged"] == 0
    with session_scope(store) as s:
        for decision in s.scalars(select(Decision).where(Decision.run_id == "review-4")):
            assert decision.outcome == "review" and decision.lineage["purpose"] == "periodic"
            assert "source_unavailable" in {r["code"] for r in decision.reasons}


def test_an_unknown_batch_is_an_error(store, ctx, book):
    from kyc_core.errors import KycError

    plan_run(store, "review-5", today=TODAY, batch_size=10, actor="test")
    with pytest.raises(KycError, match="no batch 7"):
        review_batch(replace(ctx, run_id="review-5"), 7)
