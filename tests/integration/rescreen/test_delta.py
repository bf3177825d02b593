"""Delta screening on the real databases: the emulator's new designations against registered customers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from kyc_core.countries import iso2
from kyc_core.customers.book import book_subjects as customer_parties
from kyc_core.customers.subjects import split_subject
from kyc_core.lists.active import delta_parties
from kyc_core.lists.refresh import asset_extra, outcome_summary, refresh_list
from kyc_core.rescreen.delta import delta_rescreen, unscreened_versions, version_ids_from_extras
from kyc_core.screening.index import CustomerIndex
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, MatchJudgement, RegistrySnapshot, ScreeningHit
from kyc_dev.emulator import formats
from kyc_dev.emulator.lists import expected_delta
from sqlalchemy import func, select

#: Companies with no known positive and no homonym, onboarded as ordinary customers.
ORDINARY = range(100, 106)


@pytest.fixture
def world(emulator, sources, make_guard, store, register):
    """Customers from the emulated register, lists loaded at version 1 then 2; the ids a test needs."""
    dataset = emulator.state.dataset
    positives = dataset.known_positives(version=2)
    # The second new designation's company declared nobody: only its RNE record names the person.
    rne_only = next(
        p.siren for p in positives if p.version == 2 and p.role == "officer" and p.positive_id == "KP0007"
    )
    customers: dict[str, str] = {}
    companies = [dataset.company(p.siren) for p in positives]
    companies += [dataset.company(h.siren) for h in dataset.known_homonyms()]
    companies += [dataset.company_at(i) for i in ORDINARY]
    for company in companies:
        customers[company.siren] = register(company, with_people=company.siren != rne_only)
    with session_scope(store) as session:
        session.add(
            RegistrySnapshot(
                source="rne",
                operation="company",
                request_key=f"companies/{rne_only}",
                customer_id=None,
                content_hash="0" * 64,
                payload=json.dumps(formats.rne_company(dataset.company(rne_only))),
                http_status=200,
                from_cache=False,
                fetched_at=datetime.now(UTC),
            )
        )

    def refresh() -> dict[str, dict]:
        return {
            key: outcome_summary(
                refresh_list(s, database_url=store, guard=make_guard(s.source), actor="test")
            )
            for key, s in sources.items()
        }

    first = refresh()
    emulator.state.list_version = 2
    second = refresh()
    return {
        "dataset": dataset,
        "customers": customers,
        "positives": positives,
        "v1": version_ids_from_extras([asset_extra(first.values())]),
        "v2": version_ids_from_extras([asset_extra(second.values())]),
        "rne_only": rne_only,
    }


def _flagged(store: str) -> set[str]:
    with session_scope(store) as session:
        return set(session.scalars(select(Customer.id).where(Customer.flagged_for_review.is_(True))))


def _counts(store: str) -> tuple[int, int]:
    with session_scope(store) as session:
        return (
            session.scalar(select(func.count()).select_from(ScreeningHit)),
            session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_new_designations_flag_exactly_their_customers_once(world, store):
    new = [p for p in world["positives"] if p.version == 2]
    expected = {world["customers"][p.siren] for p in new}
    assert len(expected) == 2
    summary = delta_rescreen(store, world["v2"], actor="test", run_id="r1")
    assert _flagged(store) == expected
    assert summary["customers_flagged"] == 2 and summary["new_hits"] == summary["hits"] >= 2
    deltas = [expected_delta(world["dataset"], source) for source in ("ofac", "un", "eu")]
    assert summary["entries_screened"] == sum(len(d["added"]) + len(d["changed"]) for d in deltas) == 17
    with session_scope(store) as session:
        hits = session.scalars(select(ScreeningHit)).all()
        assert {h.customer_id for h in hits} == expected
        assert {h.subject_role for h in hits} == {"officer"}
        for hit in hits:
            assert (
                hit.list_version_id in world["v2"]
                and hit.run_id == f"delta:list_version:{hit.list_version_id}"
            )
        flagged_events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "customer_flagged")
        ).all()
        assert {e.customer_id for e in flagged_events} == expected
        completed = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "screening_completed")
        ).all()
        assert sorted(json.loads(e.payload)["list_version_id"] for e in completed) == sorted(world["v2"])
    before = _counts(store)
    again = delta_rescreen(store, world["v2"], actor="test", run_id="r2")
    assert (again["new_hits"], again["customers_flagged"], again["hits"]) == (0, 0, summary["hits"])
    assert _counts(store) == before
    # Version 1 was never delta-screened: a consumer that missed its event still finds it.
    with session_scope(store) as session:
        assert unscreened_versions(session) == sorted(world["v1"])


def test_registry_record_officers_are_screened(world, store):
    with session_scope(store) as session:
        subjects = customer_parties(session)
    rne_customer = world["customers"][world["rne_only"]]
    roles = sorted(split_subject(s.key)[2] for s in subjects if split_subject(s.key)[0] == rne_customer)
    company = world["dataset"].company(world["rne_only"])
    people = [o for o in company.officers if o.person is not None]
    expected = ["customer"] + ["officer"] * len(people) + ["owner"] * len(company.beneficial_owners)
    assert roles == sorted(expected)


def test_a_false_positive_judgement_suppresses_the_hit_until_the_entry_changes(world, store):
    new = sorted((p for p in world["positives"] if p.version == 2), key=lambda p: p.positive_id)
    judged, stale = (world["customers"][p.siren] for p in new)
    with session_scope(store) as session:
        # The pairs an analyst was shown: one judged on the entry as published, one on an older content.
        index = CustomerIndex(customer_parties(session))
        found = index.screen_delta(p for v in world["v2"] for p in delta_parties(session, v))
        hits = {split_subject(h.subject_key)[0]: h for h in found}
        for customer_id, entry_hash in ((judged, hits[judged].content_hash), (stale, "0" * 64)):
            hit = hits[customer_id]
            session.add(
                MatchJudgement(
                    customer_id=customer_id,
                    subject_key=split_subject(hit.subject_key)[1],
                    list_key=hit.list_key,
                    native_id=hit.entry_id,
                    entry_hash=entry_hash,
                    verdict="false_positive",
                    analyst="analyst-1",
                    rationale="different person",
                    created_at=datetime.now(UTC),
                )
            )
    summary = delta_rescreen(store, world["v2"], actor="test", run_id="r3")
    assert _flagged(store) == {stale}
    assert summary["suppressed"] == 1
    assert sum(v["stale_judgements"] for v in summary["versions"]) == 1
    with session_scope(store) as session:
        assert {h.customer_id for h in session.scalars(select(ScreeningHit))} == {stale}
        completed = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "screening_completed")
        ).all()
        assert sum(json.loads(e.payload)["suppressed"] for e in completed) == 1


def test_first_load_screens_every_entry_and_finds_every_listed_person(world, store):
    summary = delta_rescreen(store, world["v1"], actor="test", run_id="r1")
    v1_customers = {world["customers"][p.siren] for p in world["positives"] if p.version == 1}
    flagged = _flagged(store)
    assert v1_customers <= flagged
    ordinary = {world["customers"][world["dataset"].siren(i)] for i in ORDINARY}
    assert not ordinary & flagged
    # A namesake born nine years later with another nationality is shown with the conflict spelled out.
    homonyms = {world["customers"][h.siren] for h in world["dataset"].known_homonyms()}
    with session_scope(store) as session:
        namesakes = session.scalars(select(ScreeningHit).where(ScreeningHit.customer_id.in_(homonyms))).all()
    assert {h.customer_id for h in namesakes} == homonyms
    assert {h.explanation["birth_date"]["detail"] for h in namesakes} == {"conflict"}
    assert summary["customers_flagged"] == len(flagged)


def test_a_person_customer_named_in_a_new_designation_is_flagged(world, store):
    from kyc_core.customers.registration import register_customer
    from kyc_core.customers.request import OnboardingCustomer, PersonCustomer
    from kyc_dev.emulator import lists as emulated

    positive = next(p for p in world["positives"] if p.positive_id == "KP0006")
    source = positive.lists[0]
    entry = next(
        e for e in emulated.entries(world["dataset"], source, 2) if e.positive_id == positive.positive_id
    )
    person = world["dataset"].person(positive.siren, positive.person_id)
    item = OnboardingCustomer(
        customer=PersonCustomer(
            name=" ".join([*person.first_names, person.last_name]),
            birth_date=entry.birth,
            nationality=iso2(person.nationality_code),
            residence_country="FR",
        ),
        segment="fintech",
    )
    with session_scope(store) as session:
        customer_id = register_customer(session, item, actor="test", run_id=None).customer_id
    delta_rescreen(store, world["v2"], actor="test", run_id="r1")
    assert customer_id in _flagged(store)
    with session_scope(store) as session:
        hit = session.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == customer_id)).one()
    assert (hit.subject_role, hit.verdict, hit.native_id) == ("customer", "match", str(entry.uid))
    assert hit.explanation["birth_date"]["contribution"] > 0


def test_a_company_listed_under_its_registered_legal_name_is_found(world, store):
    """The declared (trade) name matches nothing; the legal name in the RNE answer is a new designation."""
    with session_scope(store) as session:
        added = [p for v in world["v2"] for p in delta_parties(session, v) if p.entry_type == "organization"]
    assert added, "the emulated version 2 adds no organisation: the fixture no longer covers this case"
    listed = added[0]
    ordinary = world["dataset"].company_at(ORDINARY[0])
    customer_id = world["customers"][ordinary.siren]
    registered = replace(ordinary, name=listed.names[0])
    with session_scope(store) as session:
        session.add(
            RegistrySnapshot(
                source="rne", operation="company", request_key=f"companies/{ordinary.siren}", customer_id=customer_id,
                content_hash="1" * 64, payload=json.dumps(formats.rne_company(registered)), http_status=200,
                from_cache=False, fetched_at=datetime.now(UTC),
            )
        )
    delta_rescreen(store, world["v2"], actor="test", run_id="legal-name")
    assert customer_id in _flagged(store)
    with session_scope(store) as session:
        hits = session.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == customer_id)).all()
    assert {(h.subject_role, h.native_id) for h in hits} >= {("customer", listed.entry_id)}
