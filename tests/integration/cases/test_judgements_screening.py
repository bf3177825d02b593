"""Judgements that stick: a judged false positive stays quiet at the next screening until its list entry changes.

Against the emulator's lists and registers, on SQLite and PostgreSQL: the onboarding re-assessment and the
delta screening both read the judgements the review form and `kyc judge` write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from kyc_core.cases.judging import judge_entry
from kyc_core.cases.options import OVERTURN, hit_param
from kyc_core.cases.review import Review, record_review
from kyc_core.countries import iso2
from kyc_core.customers.registration import register_batch, register_customer
from kyc_core.customers.request import DeclaredPerson, EntityCustomer, OnboardingCustomer, parse_request
from kyc_core.lists.refresh import asset_extra, outcome_summary, refresh_list
from kyc_core.lists.versions import load_path
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.rescreen.delta import delta_rescreen, version_ids_from_extras
from kyc_core.resilience import MemoryBackend
from kyc_core.store import decisions as decision_repo
from kyc_core.store.db import session_scope
from kyc_core.store.models import Decision, MatchJudgement, ScreeningHit
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.lists import ofac_csv
from kyc_dev.emulator.server import credentials
from sqlalchemy import select

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}


@pytest.fixture
def dataset(emulator) -> Dataset:
    return Dataset(emulator.state.config.companies, emulator.state.config.seed)


def _amended_ofac(dataset: Dataset, version: int, native_id: str, directory: Path) -> Path:
    """The emulator's OFAC CSV trio at `version`, with the remarks of one entry amended (a new content hash)."""
    directory.mkdir()
    for name, content in ofac_csv(dataset, version).items():
        if name == "sdn.csv":
            lines = content.decode("utf-8").split("\r\n")
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{native_id},"))
            assert lines[index].endswith('."')
            lines[index] = lines[index][:-2] + '; Linked To: EXAMPLE HOLDING."'
            content = "\r\n".join(lines).encode("utf-8")
        (directory / name).write_bytes(content)
    return directory


def _pairs(hits) -> set[tuple[str, str, str]]:
    return {(h.subject_key, h.list_key, h.native_id) for h in hits}


def test_onboarding_reassessment_keeps_a_judged_false_positive_quiet_until_the_entry_changes(
    store, load_lists, emulator, dataset, tmp_path
):
    load_lists()
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))

    def assess(run_id: str) -> dict:
        return assess_customer(AssessmentContext(database_url=store, run_id=run_id, actor="test", endpoints=endpoints,
                                                 fetch_options={"backend": MemoryBackend(), "source_config": FAST}), cid)

    sanctioned = next(k for k in dataset.known_positives() if k.role == "officer" and "ofac" in k.lists)
    item = {"customer": {"kind": "entity", "siren": sanctioned.siren, "declared_name": dataset.company(sanctioned.siren).name},
            "segment": "cgp"}
    with session_scope(store) as s:
        (cid,) = [r.customer_id for r in register_batch(s, parse_request({"customers": [item]}), actor="t", run_id="run-1")]
    first = assess("run-1")
    assert first["outcome"] == "reject"
    with session_scope(store) as s:
        hits = decision_repo.hits_of(s, s.get(Decision, first["decision_id"]))
        judged = _pairs(hits)
        assert {h.list_key for h in hits} >= {"ofac_sdn"}
        # The first reviewer judges every hit a false positive on the review form.
        review = Review(1, "analyst1", "analyst1", OVERTURN, "birth date and nationality differ", datetime.now(UTC),
                        judgements={hit_param(h.id): "false_positive" for h in hits})
        record_review(s, first["decision_id"], review, allowed=None, actor="t", run_id="case-run")
        assert s.scalar(select(MatchJudgement.id).where(MatchJudgement.customer_id == cid).limit(1)) is not None

    second = assess("run-2")
    with session_scope(store) as s:
        assert not _pairs(decision_repo.hits_of(s, s.get(Decision, second["decision_id"]))) & judged
    assert second["strong_hits"] == 0

    # OFAC amends the entry: that hit opens again, on the new content; the other lists' hits stay quiet.
    ofac_id = next(h.native_id for h in hits if h.list_key == "ofac_sdn")
    outcome = load_path(_amended_ofac(dataset, 1, ofac_id, tmp_path / "ofac"), url=store, actor="test")
    assert outcome.status == "activated"
    third = assess("run-3")
    with session_scope(store) as s:
        reopened = decision_repo.hits_of(s, s.get(Decision, third["decision_id"]))
        old_hash = {h.entry_hash for h in hits if h.native_id == ofac_id}
    assert {(h.list_key, h.native_id) for h in reopened} == {("ofac_sdn", ofac_id)}
    assert not {h.entry_hash for h in reopened} & old_hash
    assert third["outcome"] == "reject"


def _declared(person) -> DeclaredPerson:
    return DeclaredPerson(name=" ".join([*person.first_names, person.last_name]), birth_month=person.birth_ym,
                          nationality=iso2(person.nationality_code))


def test_delta_screening_suppresses_a_judged_false_positive_until_the_entry_changes(
    store, sources, make_guard, dataset, tmp_path
):
    # Officers designated on OFAC: the first load of the lists is their first delta.
    new = sorted((p for p in dataset.known_positives() if p.role == "officer" and "ofac" in p.lists), key=lambda p: p.positive_id)
    customers = {}
    for positive in new:
        company = dataset.company(positive.siren)
        item = OnboardingCustomer(
            customer=EntityCustomer(siren=company.siren, declared_name=company.name,
                                    declared_officers=[_declared(o.person) for o in company.officers if o.person is not None],
                                    declared_beneficial_owners=[_declared(b.person) for b in company.beneficial_owners]),
            segment="cgp", external_ref=f"T-{company.siren}")
        with session_scope(store) as s:
            customers[positive.siren] = register_customer(s, item, actor="test", run_id=None).customer_id

    def refresh() -> list[int]:
        summaries = [outcome_summary(refresh_list(src, database_url=store, guard=make_guard(src.source), actor="test"))
                     for src in sources.values()]
        return version_ids_from_extras([asset_extra(summaries)])

    v1 = refresh()
    first = delta_rescreen(store, v1, actor="test", run_id="r1")
    assert first["customers_flagged"] == len(new) >= 2
    judged_customer = customers[new[0].siren]
    with session_scope(store) as s:
        hits = s.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == judged_customer)).all()
        entries = sorted({(h.list_key, h.native_id) for h in hits})
        assert ("ofac_sdn" in {k for k, _ in entries}) and hits
        for list_key, native_id in entries:
            judge_entry(s, judged_customer, f"{list_key}:{native_id}", "false_positive", rationale="not the listed person",
                        analyst="analyst1", subjects=["all"])

    again = delta_rescreen(store, v1, actor="test", run_id="r2")
    assert again["suppressed"] == len(_pairs(hits))
    assert again["hits"] == first["hits"] - len(_pairs(hits))

    ofac_id = next(native_id for list_key, native_id in entries if list_key == "ofac_sdn")
    outcome = load_path(_amended_ofac(dataset, 1, ofac_id, tmp_path / "ofac"), url=store, actor="test")
    assert outcome.status == "activated"
    amended = delta_rescreen(store, [outcome.version_id], actor="test", run_id="r3")
    assert amended["new_hits"] >= 1 and amended["suppressed"] == 0 and amended["customers_flagged"] == 1
    assert sum(v["stale_judgements"] for v in amended["versions"]) == len({h.subject_key for h in hits if h.native_id == ofac_id})
    with session_scope(store) as s:
        reopened = s.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == judged_customer,
                                                        ScreeningHit.list_version_id == outcome.version_id)).all()
    assert {h.native_id for h in reopened} == {ofac_id}
