"""The onboarding assessment against the emulator and the real database: every outcome, fail closed, lineage."""

from __future__ import annotations

import json

import pytest
from kyc_core.cases.review import CONFIRM, Review, finalize, record_review
from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.policy import load_policy_by_hash
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.scoring import RiskProfile, compute_score, recompute_score
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Decision, ScreeningHit
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}


@pytest.fixture
def dataset(emulator) -> Dataset:
    return Dataset(emulator.state.config.companies, emulator.state.config.seed)


@pytest.fixture
def context(store, emulator):
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))

    def make(run_id: str = "run-1") -> AssessmentContext:
        return AssessmentContext(
            database_url=store, run_id=run_id, actor="test", endpoints=endpoints,
            fetch_options={"backend": MemoryBackend(), "source_config": FAST},
        )

    return make


def _entity(ds: Dataset, siren: str, segment: str = "cgp") -> dict:
    return {"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name}, "segment": segment}


PEP = {
    "customer": {"kind": "person", "name": "Jonas Weber", "birth_date": "1971-11-02", "nationality": "DE",
                 "residence_country": "LU", "pep_declared": True, "pep_category": "foreign"},
    "segment": "asset_mgmt",
}


def _register(store: str, *items: dict) -> list[str]:
    with session_scope(store) as s:
        return [r.customer_id for r in register_batch(s, parse_request({"customers": list(items)}), actor="t", run_id="run-1")]


def test_every_outcome(store, load_lists, context, dataset):
    assert set(load_lists().values()) == {"activated"}
    sanctioned = next(k for k in dataset.known_positives() if k.role == "officer")
    clean, bad, struck, pep = _register(
        store, _entity(dataset, dataset.siren(21)), _entity(dataset, sanctioned.siren), _entity(dataset, dataset.siren(13), "asset_mgmt"), PEP
    )
    ctx = context()
    assert assess_customer(ctx, clean)["outcome"] == "approve"

    rejected = assess_customer(ctx, bad)
    assert (rejected["outcome"], rejected["requires_review"]) == ("reject", True)
    assert rejected["strong_hits"] >= 1
    with session_scope(store) as s:
        hits = s.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == bad)).all()
        assert {h.subject_role for h in hits} == {"officer"} and all(h.verdict == "match" for h in hits)
        assert s.get(Decision, rejected["decision_id"]).status == "pending_review"

    flagged = assess_customer(ctx, struck)
    assert "company_struck_off" in {r["code"] for r in flagged["top_reasons"]}
    assert flagged["outcome"] != "approve"

    edd = assess_customer(ctx, pep)
    assert edd["outcome"] == "edd_required"
    assert {"Detailed CV listing every public function held", "Evidence of the source of wealth"} <= set(edd["documents"])

    # Two different reviewers make the reject final.
    with session_scope(store) as s:
        for stage, who in ((1, "analyst1"), (2, "analyst2")):
            record_review(s, rejected["decision_id"], Review(stage, who, who, CONFIRM, "listing confirmed", _now()), allowed=None, actor=who, run_id="run-1")
        assert finalize(s, rejected["decision_id"], actor="t", run_id="run-1").outcome == "reject"
        assert verify_chain(s).ok


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_optional_paid_register_is_bought_only_when_the_first_pass_warrants_it(store, load_lists, context, dataset):
    load_lists()
    sanctioned = next(k for k in dataset.known_positives() if k.role == "officer")
    clean, risky = _register(store, _entity(dataset, dataset.siren(21)), _entity(dataset, sanctioned.siren))
    ctx = context()
    outcomes = {}
    for cid in (clean, risky):
        summary = assess_customer(ctx, cid)
        with session_scope(store) as s:
            outcomes[cid] = s.get(Decision, summary["decision_id"]).lineage["paid_sources"]
    assert outcomes[clean]["sources"] == ["bodacc"]
    assert (outcomes[clean]["queried"], outcomes[clean]["reason"]) == (False, "below_thresholds")
    assert outcomes[risky]["queried"] is True and outcomes[risky]["initial_risk"] > 0.30
    from kyc_core.store.models import SourceCall

    with session_scope(store) as s:
        bodacc_calls = s.scalars(select(SourceCall).where(SourceCall.source == "bodacc")).all()
    assert len(bodacc_calls) == 1 and bodacc_calls[0].cost > 0


def test_rne_outage_fails_closed(store, load_lists, context, dataset, emulator):
    load_lists()
    (customer,) = _register(store, _entity(dataset, dataset.siren(21)))
    _set_fault(emulator, "rne", {"outage": "503"})
    try:
        summary = assess_customer(context(), customer)
    finally:
        _set_fault(emulator, "rne", None)
    assert summary["outcome"] == "review"
    assert "source_unavailable" in {r["code"] for r in summary["top_reasons"]}
    assert summary["retry"] is True


def test_without_active_lists_nothing_is_approved(store, context, dataset):
    (customer,) = _register(store, _entity(dataset, dataset.siren(21)))
    summary = assess_customer(context(), customer)
    assert summary["outcome"] == "review"
    assert "source_unavailable" in {r["code"] for r in summary["top_reasons"]}


def test_rerun_writes_nothing_and_lineage_reproduces_the_score(store, load_lists, context, dataset):
    load_lists()
    (customer,) = _register(store, _entity(dataset, dataset.siren(13)))
    first = assess_customer(context(), customer)

    def counts():
        with session_scope(store) as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Decision, AuditEvent, ScreeningHit))

    before = counts()
    assert assess_customer(context(), customer) == first
    assert counts() == before
    with session_scope(store) as s:
        decision = s.get(Decision, first["decision_id"])
        lineage = decision.lineage
        assert recompute_score(decision.contributions) == pytest.approx(decision.score)
        policy = load_policy_by_hash(lineage["policy"]["content_hash"])
        rescored = compute_score(RiskProfile.model_validate(lineage["profile"]), policy)
        assert rescored.score == pytest.approx(decision.score)
        assert set(lineage["list_versions"]) == {"ofac_sdn", "un_sc", "eu_fsf"}
        assert lineage["registry_snapshots"]["sirene"] and lineage["matcher"]["version"]
        assert json.dumps(lineage)  # JSON all the way down


def _set_fault(emulator, source: str, spec: dict | None) -> None:
    import urllib.request

    base = emulator.root + "/_admin/faults"
    if spec is None:
        request = urllib.request.Request(f"{base}?source={source}", method="DELETE")
    else:
        request = urllib.request.Request(base, data=json.dumps({"source": source, **spec}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def test_a_declared_name_unlike_the_register_goes_to_a_reviewer(store, load_lists, context, dataset):
    load_lists()
    siren = dataset.siren(21)
    genuine, impostor = _register(
        store, {**_entity(dataset, siren), "external_ref": "GENUINE"},
        {"customer": {"kind": "entity", "siren": siren, "declared_name": "Totally Unrelated Bank Ltd"}, "segment": "cgp",
         "external_ref": "IMPOSTOR"},
    )
    ctx = context()
    assert assess_customer(ctx, genuine)["outcome"] == "approve"
    summary = assess_customer(ctx, impostor)
    assert (summary["outcome"], summary["requires_review"], summary["approvals_required"]) == ("review", True, 1)
    assert "declared_name_mismatch" in [r["code"] for r in summary["top_reasons"]]
    with session_scope(store) as s:
        lineage = s.get(Decision, summary["decision_id"]).lineage
    threshold = load_policy_by_hash(lineage["policy"]["content_hash"]).spec.identity.declared_name_min_similarity
    assert lineage["profile"]["declared_name_similarity"] < threshold


def test_a_decision_waiting_for_a_register_is_reassessed_once_it_answers(store, load_lists, context, dataset, emulator):
    from datetime import timedelta

    from kyc_core.onboarding.reassess import (
        DEADLINE_PASSED,
        REASSESSED,
        WAITING,
        reassess_when_sources_answer,
    )
    from kyc_core.store import decisions as decision_repo
    from kyc_core.store.models import Customer

    load_lists()
    (customer,) = _register(store, _entity(dataset, dataset.siren(21)))
    _set_fault(emulator, "rne", {"outage": "503"})
    try:
        first = assess_customer(context(), customer)
        assert (first["outcome"], first["retry"], first["requires_review"]) == ("review", True, True)
        waiting = reassess_when_sources_answer(context("case-run:reassessment"), first["decision_id"], deadline=timedelta(hours=6))
        assert waiting["status"] == WAITING and "rne" in waiting["missing"]
    finally:
        _set_fault(emulator, "rne", None)
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1  # waiting wrote no decision
    late = reassess_when_sources_answer(context("case-run:reassessment"), first["decision_id"], deadline=timedelta(0))
    assert late["status"] == DEADLINE_PASSED
    done = reassess_when_sources_answer(context("case-run:reassessment"), first["decision_id"], deadline=timedelta(hours=6))
    assert done["status"] == REASSESSED and done["outcome"] == "approve" and done["decision_id"] != first["decision_id"]
    with session_scope(store) as s:
        original = decision_repo.state_of(s, s.get(Decision, first["decision_id"]))
        assert (original.outcome, original.status) == ("approve", "final")
        assert original.added_reasons[0]["code"] == "superseded" and done["decision_id"] in original.added_reasons[0]["text"]
        assert s.get(Customer, customer).status == "approve"
    again = reassess_when_sources_answer(context("case-run:reassessment"), first["decision_id"], deadline=timedelta(hours=6))
    assert again["status"] == "not_needed"


def test_a_customer_assessed_again_has_one_open_decision(store, load_lists, context, dataset):
    from kyc_core.store import decisions as decision_repo

    load_lists()
    (customer,) = _register(store, {**_entity(dataset, dataset.siren(21)), "customer": {
        "kind": "entity", "siren": dataset.siren(21), "declared_name": "Totally Unrelated Bank Ltd"}})
    first = assess_customer(context("run-1"), customer)
    second = assess_customer(context("run-2"), customer)
    assert first["requires_review"] and second["requires_review"]
    with session_scope(store) as s:
        assert [d.id for d in decision_repo.open_for_customer(s, customer)] == [second["decision_id"]]
        older = decision_repo.state_of(s, s.get(Decision, first["decision_id"]))
    assert older.status == "final" and older.added_reasons[0]["code"] == "superseded"


def test_a_re_review_that_changes_nothing_writes_no_decision(store, load_lists, context, dataset):
    """Re-reviews write a decision only on change; otherwise an event and a moved review date."""
    from dataclasses import replace
    from datetime import date

    from kyc_core.store.models import Customer

    load_lists()
    sanctioned = next(k for k in dataset.known_positives() if k.role == "officer")
    clean, bad = _register(store, _entity(dataset, dataset.siren(21)), _entity(dataset, sanctioned.siren))
    first = {cid: assess_customer(context("run-1"), cid) for cid in (clean, bad)}
    assert all(s["decision_written"] for s in first.values())

    later = replace(context("review-1"), purpose="periodic", write_unchanged=False, today=date(2031, 2, 28))
    for cid in (clean, bad):
        again = assess_customer(later, cid)
        assert (again["decision_written"], again["unchanged_from"]) == (False, first[cid]["decision_id"])
        assert assess_customer(later, cid)["decision_written"] is False  # a re-run of the same run: same answer
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 2
        reviewed = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_reviewed")).all()
        assert sorted(e.customer_id for e in reviewed) == sorted((clean, bad))  # once each, despite the re-run
        assert {json.loads(e.payload)["purpose"] for e in reviewed} == {"periodic"}
        assert s.get(Customer, clean).next_review_date > date(2031, 2, 28)

    # Written as usual when re-reviews may write everything (the onboarding default).
    written = assess_customer(replace(context("review-2"), purpose="manual"), clean)
    assert written["decision_written"] is True and written["decision_id"] != first[clean]["decision_id"]
    with session_scope(store) as s:
        assert s.get(Decision, written["decision_id"]).lineage["purpose"] == "manual"


def _calls(store: str) -> int:
    from kyc_core.store.models import SourceCall

    with session_scope(store) as s:
        return s.scalar(select(func.count()).select_from(SourceCall))


def test_stages_run_one_by_one_store_what_they_found_and_re_run_without_a_register_call(store, load_lists, context, dataset):
    """The DAG's path: one stage per task; a cleared later stage re-runs from what the earlier ones stored."""
    from kyc_core.onboarding.pipeline import run_stage

    load_lists()
    sanctioned = next(k for k in dataset.known_positives() if k.role == "officer")
    staged, whole = _register(store, _entity(dataset, sanctioned.siren, "fintech"), _entity(dataset, sanctioned.siren, "fintech") | {"external_ref": "second"})
    ctx = context("staged-run")
    fetched = {s: run_stage(ctx, staged, "fetch", [s])["sources"][s] for s in ("sirene", "rne", "rbe", "bodacc")}
    assert fetched == {"sirene": "ok", "rne": "ok", "rbe": "deferred", "bodacc": "deferred"}  # fintech: rbe and bodacc are paid
    assert isinstance(run_stage(ctx, staged, "resolve")["conflicts"], list)
    assert run_stage(ctx, staged, "screen")["matches"] >= 1
    first = run_stage(ctx, staged, "score")
    paid = run_stage(ctx, staged, "paid")
    assert paid["queried"] is True and set(paid["sources"]) == {"rbe", "bodacc"}
    calls = _calls(store)
    # Cleared and re-run: the score, the paid step (bought once) and the stages before make no register call.
    assert run_stage(ctx, staged, "score")["score"] >= first["score"]
    assert run_stage(ctx, staged, "paid") == paid
    run_stage(ctx, staged, "resolve")
    run_stage(ctx, staged, "fetch", ["rne"])
    assert _calls(store) == calls
    decision = run_stage(ctx, staged, "decide")
    assert (decision["outcome"], decision["decision_written"]) == ("reject", True)
    assert run_stage(ctx, staged, "score") == {"decided": decision["decision_id"]}
    assert run_stage(ctx, staged, "decide")["decision_id"] == decision["decision_id"]

    # The same customer data assessed in one go decides the same, from the same stages.
    together = assess_customer(context("whole-run"), whole)
    assert (together["outcome"], together["score"], together["risk_level"]) == (decision["outcome"], decision["score"], decision["risk_level"])
    with session_scope(store) as s:
        lineage = s.get(Decision, decision["decision_id"]).lineage
        assert lineage["paid_sources"]["queried"] is True
        assert set(lineage["registry_snapshots"]) >= {"sirene", "rne", "rbe", "bodacc"}


def test_a_stage_that_finds_no_register_answer_fails_closed(store, load_lists, context, dataset):
    """A mandatory register whose fetch stage never stored an answer (its task failed) counts as unavailable."""
    from kyc_core.onboarding.pipeline import run_stage

    load_lists()
    (customer,) = _register(store, _entity(dataset, dataset.siren(21)))
    ctx = context("missing-fetch")
    for source in ("sirene", "bodacc"):  # rne and rbe never ran
        run_stage(ctx, customer, "fetch", [source])
    decision = run_stage(ctx, customer, "decide")
    assert decision["outcome"] == "review"
    assert "source_unavailable" in {r["code"] for r in decision["top_reasons"]}


def test_a_re_review_for_a_register_event_asks_every_register_paid_or_not(store, load_lists, context, dataset):
    from dataclasses import replace

    from kyc_core.store.models import SourceCall

    load_lists()
    (customer,) = _register(store, _entity(dataset, dataset.siren(21)))  # cgp: BODACC is bought only when warranted
    first = assess_customer(context("run-1"), customer)
    event = assess_customer(replace(context("event-run"), purpose="registry_event", write_unchanged=False), customer)
    with session_scope(store) as s:
        asked = {c.run_id: set() for c in s.scalars(select(SourceCall))}
        for call in s.scalars(select(SourceCall)):
            asked[call.run_id].add(call.source)
        lineage = s.get(Decision, first["decision_id"]).lineage
    assert lineage["paid_sources"]["queried"] is False and "bodacc" not in asked["run-1"]
    assert "bodacc" in asked["event-run"]
    assert event["outcome"] == "approve"
