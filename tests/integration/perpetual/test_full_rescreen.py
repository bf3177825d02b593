"""The full-book rescreen, shard by shard, on the real databases: coverage, hits once, flags, re-runs."""

from __future__ import annotations

import json

import pytest
from kyc_core.countries import iso2
from kyc_core.customers.book import book_subjects
from kyc_core.customers.registration import register_customer
from kyc_core.customers.request import DeclaredPerson, EntityCustomer, OnboardingCustomer
from kyc_core.errors import UserError
from kyc_core.rescreen.full import hit_run_id, plan_shards, rescreen_shard, rescreen_summary, shard_subjects
from kyc_core.store import judgements as judgement_repo
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, ReviewFlag, ScreeningHit
from sqlalchemy import func, select


def _declared(person) -> DeclaredPerson:
    return DeclaredPerson(name=" ".join([*person.first_names, person.last_name]), birth_month=person.birth_ym,
                          nationality=iso2(person.nationality_code))


@pytest.fixture
def book(store, emulator, load_lists) -> dict[str, set[str]]:
    """Companies naming listed persons among their declared officers, and ordinary ones; lists loaded."""
    load_lists()
    ds = emulator.state.dataset
    positives = {p.siren for p in ds.known_positives(version=1)}
    companies = [ds.company(s) for s in sorted(positives)] + [ds.company_at(i) for i in range(100, 118)]
    ids: dict[str, set[str]] = {"positive": set(), "ordinary": set()}
    with session_scope(store) as session:
        for company in companies:
            item = OnboardingCustomer(customer=EntityCustomer(
                siren=company.siren, declared_name=company.name,
                declared_officers=[_declared(o.person) for o in company.officers if o.person is not None],
                declared_beneficial_owners=[_declared(b.person) for b in company.beneficial_owners]),
                segment="cgp", external_ref=f"T-{company.siren}")
            cid = register_customer(session, item, actor="test", run_id=None).customer_id
            ids["positive" if company.siren in positives else "ordinary"].add(cid)
    return ids


def _counts(store: str) -> tuple[int, int, int]:
    with session_scope(store) as s:
        return (s.scalar(select(func.count()).select_from(ScreeningHit)),
                s.scalar(select(func.count()).select_from(ReviewFlag)),
                s.scalar(select(func.count()).select_from(AuditEvent)))


def test_shards_cover_the_book_once_and_match_the_whole_book_builder(store, book):
    shards = plan_shards(store, 4)
    total = len(book["positive"]) + len(book["ordinary"])
    assert sum(s["customers"] for s in shards) == total and len(shards) == -(-total // 4)
    assert shards[-1]["next"] is None and all(a["next"] == b["first"] for a, b in zip(shards, shards[1:], strict=False))
    with session_scope(store) as s:
        keys = [sub.key for shard in shards for sub in shard_subjects(s, shard["first"], shard["next"])[0]]
        assert sorted(keys) == sorted(sub.key for sub in book_subjects(s))
    assert len(keys) == len(set(keys))


def test_each_shard_records_hits_once_flags_new_ones_and_a_rerun_changes_nothing(store, book):
    shards = plan_shards(store, 5)
    # Any order, as on several workers.
    results = [rescreen_shard(store, shard, run_id="full-1", reason="matcher upgrade", actor="test") for shard in reversed(shards)]
    total = rescreen_summary(results)
    assert total["shards"] == len(shards) and total["customers"] == len(book["positive"]) + len(book["ordinary"])
    with session_scope(store) as s:
        hits = s.scalars(select(ScreeningHit).where(ScreeningHit.run_id == hit_run_id("full-1"))).all()
        flagged = {f.customer_id for f in s.scalars(select(ReviewFlag).where(ReviewFlag.reason == "list_change"))}
        events = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "full_rescreen_shard")).all()
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.flagged_for_review)) == len(flagged)
    assert book["positive"] <= {h.customer_id for h in hits if h.verdict == "match"}
    assert book["positive"] <= flagged
    assert total["hits_recorded"] == len(hits) and total["customers_flagged"] == len(flagged)
    assert len(events) == len(shards) and {json.loads(e.payload)["reason"] for e in events} == {"matcher upgrade"}

    before = _counts(store)
    again = [rescreen_shard(store, shard, run_id="full-1", reason="matcher upgrade", actor="test") for shard in shards]
    assert all(r["already_done"] for r in again) and _counts(store) == before

    # Another run records its own hits, but what was already known flags nobody again.
    second = rescreen_summary([rescreen_shard(store, shard, run_id="full-2", reason="policy change", actor="test")
                               for shard in plan_shards(store, 50)])
    assert second["hits_recorded"] == len(hits) and second["new_hits"] == 0 and second["customers_flagged"] == 0
    with session_scope(store) as s:
        assert verify_chain(s).ok


def test_a_hit_judged_false_positive_is_not_recorded_again(store, book):
    shard = plan_shards(store, 1000)[0]
    rescreen_shard(store, shard, run_id="full-a", reason="new list", actor="test")
    with session_scope(store) as s:
        hit = s.scalars(select(ScreeningHit).where(ScreeningHit.run_id == hit_run_id("full-a")).order_by(ScreeningHit.id)).first()
        judgement_repo.record(s, customer_id=hit.customer_id, subject_key=hit.subject_key, list_key=hit.list_key,
                              native_id=hit.native_id, entry_hash=hit.entry_hash, verdict="false_positive",
                              analyst="analyst1", rationale="different person", actor="user:analyst1")
        identity = (hit.customer_id, hit.subject_key, hit.list_key, hit.native_id)
    result = rescreen_shard(store, shard, run_id="full-b", reason="new list", actor="test")
    assert result["suppressed"] >= 1
    with session_scope(store) as s:
        again = s.scalars(select(ScreeningHit).where(ScreeningHit.run_id == hit_run_id("full-b"))).all()
    assert identity not in {(h.customer_id, h.subject_key, h.list_key, h.native_id) for h in again}


def test_without_active_lists_a_shard_fails_and_writes_nothing(store):
    from datetime import UTC, datetime

    from kyc_core.store import customers as customer_repo

    with session_scope(store) as s:
        customer_repo.upsert(s, customer_id="c-1", ref="R-1", kind="person", segment="cgp", channel=None, siren=None,
                             identifiers={}, profile={"customer": {"kind": "person", "name": "Ana Lopez"}},
                             input_hash="0" * 64, moment=datetime.now(UTC))
    before = _counts(store)
    with pytest.raises(UserError, match="no active list version"):
        rescreen_shard(store, plan_shards(store, 10)[0], run_id="full-x", reason="new list", actor="test")
    with pytest.raises(UserError, match="reason"):
        rescreen_shard(store, plan_shards(store, 10)[0], run_id="full-x", reason=" ", actor="test")
    with pytest.raises(UserError, match="at least 1"):
        plan_shards(store, 0)
    assert _counts(store) == before
