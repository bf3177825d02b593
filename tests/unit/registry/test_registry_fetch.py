"""One company fetched from the emulated registers: snapshots, statuses, ledger and audit trail."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from kyc_core.errors import (
    CircuitOpen,
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceUnusable,
    TransientSourceError,
    UserError,
)
from kyc_core.registry import (
    RegistryEndpoints,
    SourceAccess,
    SourceState,
    Unavailability,
    classify,
    fetch_companies,
    fetch_company,
)
from kyc_core.registry.fetch import SourceOutcome
from kyc_core.resilience import CallContext, MemoryBackend
from kyc_core.sources import RecordNotDiffusible
from kyc_core.sources.models import BeneficialOwnersAvailability
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, RegistrySnapshot, SourceCall
from kyc_dev.emulator.faults import FaultSpec
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select

#: A SIREN that passes the Luhn check but that no generated company uses.
UNKNOWN_SIREN = "732829320"


def _rows(url: str, model, *where):
    with session_scope(url) as session:
        return session.scalars(select(model).where(*where)).all()


def _count(url: str, model) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(model))


def _requests(emulator) -> dict[str, int]:
    return {source: counts["requests"] for source, counts in emulator.state.stats.snapshot().items()}


def _fetch(siren: str, endpoints: RegistryEndpoints, options: dict, **extra):
    return asyncio.run(fetch_company(siren, endpoints=endpoints, **{**options, **extra}))


def test_classify_maps_every_error_class_to_the_reported_state():
    cases = {
        RecordNotFound("x", "m"): (SourceState.NOT_FOUND, None),
        RecordNotDiffusible("x", "m"): (SourceState.NOT_FOUND, None),
        CircuitOpen("x"): (SourceState.UNAVAILABLE, Unavailability.CIRCUIT_OPEN),
        QuotaExceeded("x", "m"): (SourceState.UNAVAILABLE, Unavailability.QUOTA),
        RateLimited("x", "m"): (SourceState.UNAVAILABLE, Unavailability.QUOTA),
        SourceUnusable("x", "m"): (SourceState.UNAVAILABLE, Unavailability.UNUSABLE),
        TransientSourceError("x", "m"): (SourceState.UNAVAILABLE, Unavailability.TRANSIENT),
        MalformedResponse("x", "m"): (SourceState.UNAVAILABLE, Unavailability.TRANSIENT),
    }
    assert {type(e).__name__: classify(e) for e in cases} == {type(e).__name__: v for e, v in cases.items()}


def test_full_fetch_stores_every_raw_answer_and_parses_the_company(emulator, endpoints, options):
    siren = emulator.state.dataset.siren(3)
    truth = emulator.state.dataset.company(siren)

    result = _fetch(siren, endpoints, options)

    assert {s: o.state for s, o in result.outcomes.items()} == dict.fromkeys(
        ("sirene", "rne", "rbe", "bodacc"), SourceState.OK
    )
    assert result.company.siren == siren and result.company.legal_name == truth.name
    assert len(result.company.establishments) == len(truth.establishments)
    assert len(result.rne.officers) == len(truth.officers)
    snapshots = _rows(options["database_url"], RegistrySnapshot)
    assert [s.id for s in snapshots] == list(result.snapshot_ids)
    assert result.snapshots_new == len(snapshots)
    by_op = {(s.source, s.operation) for s in snapshots}
    assert {
        ("sirene", "legal_unit"),
        ("sirene", "establishments"),
        ("rne", "company"),
        ("rbe", "beneficial_owners"),
        ("bodacc", "notices_for_siren"),
    } == by_op
    for snap in snapshots:
        assert snap.content_hash == hashlib.sha256(snap.payload.encode()).hexdigest()
        assert snap.http_status == 200 and snap.from_cache is False
    legal_unit = next(s for s in snapshots if s.operation == "legal_unit")
    assert json.loads(legal_unit.payload)["uniteLegale"]["siren"] == siren


def test_rerun_is_served_from_cache_and_stores_nothing_new(emulator, endpoints, options):
    siren = emulator.state.dataset.siren(4)
    context = CallContext(run_id="manual__1", task_id="fetch_registry")
    first = _fetch(siren, endpoints, options, context=context)
    before = _requests(emulator)

    second = _fetch(siren, endpoints, options, context=context)

    assert _requests(emulator) == before
    assert second.snapshot_ids == first.snapshot_ids and second.snapshots_new == 0
    assert all(o.from_cache for o in second.outcomes.values())
    assert _count(options["database_url"], RegistrySnapshot) == len(first.snapshot_ids)
    calls = _rows(options["database_url"], SourceCall)
    hits = [c for c in calls if c.outcome == "cache_hit"]
    assert len(hits) == len(first.snapshot_ids) and all(c.cost == 0 for c in hits)
    assert {c.run_id for c in calls} == {"manual__1"}
    # The same outcome within one run is one audit fact, not two.
    fetched = _rows(options["database_url"], AuditEvent, AuditEvent.event_type == EventType.REGISTRY_FETCHED)
    assert len(fetched) == 1


def test_ledger_charges_paid_registers_only(emulator, endpoints, options):
    siren = emulator.state.dataset.siren(5)
    _fetch(siren, endpoints, options)

    calls = _rows(options["database_url"], SourceCall)
    cost = {}
    for call in calls:
        cost[call.source] = cost.get(call.source, 0.0) + call.cost
    assert {c.outcome for c in calls} == {"ok"}
    assert cost["sirene"] == 0.0
    assert cost["rne"] == pytest.approx(0.02)
    assert cost["rbe"] == pytest.approx(0.05)
    assert cost["bodacc"] == pytest.approx(0.01)


def test_unknown_company_is_not_found_not_unavailable(emulator, endpoints, options):
    result = _fetch(UNKNOWN_SIREN, endpoints, options)

    assert {s: o.state for s, o in result.outcomes.items()} == {
        "sirene": SourceState.NOT_FOUND,
        "rne": SourceState.NOT_FOUND,
        "rbe": SourceState.NOT_FOUND,
        "bodacc": SourceState.OK,
    }
    assert result.unavailable == [] and result.notices == ()
    assert result.summary()["counts"]["notices"] == 0


def test_invalid_siren_is_refused_before_any_call(emulator, endpoints, options):
    with pytest.raises(UserError, match="invalid SIREN"):
        _fetch("123456789", endpoints, options)
    assert _requests(emulator) == {}


def test_wrong_credentials_make_that_source_unusable_and_the_others_answer(emulator, endpoints, options):
    wrong = RegistryEndpoints(
        sirene=SourceAccess(endpoints.sirene.base_url, secret="not-the-key"),
        rne=endpoints.rne,
        bodacc=endpoints.bodacc,
        rbe_entitled=True,
    )
    result = _fetch(emulator.state.dataset.siren(6), wrong, options)

    assert result.outcomes["sirene"] == SourceOutcome(
        "sirene", SourceState.UNAVAILABLE, Unavailability.UNUSABLE, "SourceUnusable"
    )
    assert result.unusable == ["sirene"] and result.transient == []
    assert result.outcomes["rne"].state is SourceState.OK
    # A 401 is configuration, not an outage: exactly one request, no retry.
    assert _requests(emulator)["sirene"] == 1


def test_beneficial_owner_answers_stay_distinct(emulator, endpoints, options):
    dataset = emulator.state.dataset
    wanted = {}
    for siren in dataset.sirens(0, 60):
        wanted.setdefault(dataset.company(siren).bo_status, siren)
    assert set(wanted) == {"declared", "none_declared", "not_available"}

    seen = {
        status: _fetch(siren, endpoints, options).beneficial_owners.availability
        for status, siren in wanted.items()
    }

    assert seen == {
        "declared": BeneficialOwnersAvailability.DECLARED,
        "none_declared": BeneficialOwnersAvailability.NONE_DECLARED,
        "not_available": BeneficialOwnersAvailability.NOT_AVAILABLE,
    }


def test_account_without_rbe_entitlement_reports_not_available_without_paying(emulator, options):
    public = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.config), rbe_entitled=False)
    siren = next(
        s
        for s in emulator.state.dataset.sirens(0, 60)
        if emulator.state.dataset.company(s).bo_status == "declared"
    )

    result = _fetch(siren, public, options)

    assert result.beneficial_owners.availability is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert result.outcomes["rbe"].state is SourceState.OK and result.outcomes["rbe"].snapshot_ids == ()
    assert [c.source for c in _rows(options["database_url"], SourceCall) if c.source == "rbe"] == []
    # Login and the company record: no second, paid, beneficial-owner request.
    assert _requests(emulator)["rne"] == 2


def test_outage_on_one_source_opens_its_breaker_and_is_audited(emulator, endpoints, options):
    emulator.state.faults.set("bodacc", FaultSpec(outage="503"))
    sirens = list(emulator.state.dataset.sirens(10, 12))

    first = _fetch(sirens[0], endpoints, options)
    second = _fetch(sirens[1], endpoints, options)

    assert first.outcomes["bodacc"].error is Unavailability.TRANSIENT
    assert first.outcomes["bodacc"].error_class == "TransientSourceError"
    assert second.outcomes["bodacc"].error is Unavailability.CIRCUIT_OPEN
    assert (
        second.outcomes["sirene"].state is SourceState.OK and second.outcomes["rne"].state is SourceState.OK
    )
    # Two failing attempts (threshold 2) opened it; the second company made no BODACC request at all.
    assert _requests(emulator)["bodacc"] == 2
    url = options["database_url"]
    changes = _rows(url, AuditEvent, AuditEvent.event_type == EventType.BREAKER_STATE_CHANGED)
    assert [json.loads(e.payload)["to_state"] for e in changes] == ["open"]
    assert json.loads(changes[0].payload)["source"] == "bodacc"
    unavailable = _rows(url, AuditEvent, AuditEvent.event_type == EventType.SOURCE_UNAVAILABLE)
    assert [json.loads(e.payload)["error"] for e in unavailable] == ["transient", "circuit_open"]
    with session_scope(url) as session:
        assert verify_chain(session).ok


def test_batch_fetches_each_company_once(emulator, endpoints, options):
    sirens = list(emulator.state.dataset.sirens(20, 28))

    results = asyncio.run(fetch_companies(sirens, endpoints=endpoints, concurrency=4, **options))

    assert [r.siren for r in results] == sirens
    assert all(not r.unavailable for r in results)
    assert _requests(emulator)["sirene"] == 2 * len(sirens)
    assert _count(options["database_url"], RegistrySnapshot) == sum(len(r.snapshot_ids) for r in results)


class _StateStoreFailingFor(MemoryBackend):
    """A state backend whose cache reads fail for one source, as when its Redis shard is down."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    async def cache_get(self, key: str) -> bytes | None:
        if self.source in key:
            raise ConnectionError("state store unreachable")
        return await super().cache_get(key)


def test_unexpected_failure_of_one_source_is_reported_and_keeps_the_others(emulator, endpoints, options):
    options = {**options, "backend": _StateStoreFailingFor("bodacc")}

    result = _fetch(emulator.state.dataset.siren(50), endpoints, options)

    assert result.outcomes["bodacc"] == SourceOutcome(
        "bodacc", SourceState.UNAVAILABLE, Unavailability.TRANSIENT, "ConnectionError"
    )
    assert [s for s, o in result.outcomes.items() if o.state is SourceState.OK] == ["sirene", "rne", "rbe"]
    assert _count(options["database_url"], RegistrySnapshot) == 4


def _customer(url: str, siren: str) -> str:
    from datetime import UTC, datetime

    from kyc_core.store.models import Customer

    now = datetime.now(UTC)
    with session_scope(url) as session:
        session.add(
            Customer(
                id="c-0001",
                customer_ref="CRM-1",
                kind="entity",
                segment="cgp",
                siren=siren,
                input_hash="0" * 64,
                created_at=now,
                updated_at=now,
            )
        )
    return "c-0001"


def test_snapshots_belong_to_the_customer_and_audit_payloads_hold_no_names(emulator, endpoints, options):
    dataset = emulator.state.dataset
    siren = next(s for s in dataset.sirens(0, 60) if dataset.company(s).bo_status == "declared")
    truth = dataset.company(siren)
    url = options["database_url"]
    customer_id = _customer(url, siren)

    result = _fetch(siren, endpoints, options, customer_id=customer_id, context=CallContext(run_id="r1"))

    assert result.beneficial_owners.owners
    assert {s.customer_id for s in _rows(url, RegistrySnapshot)} == {customer_id}
    events = _rows(url, AuditEvent, AuditEvent.event_type == EventType.REGISTRY_FETCHED)
    assert [e.customer_id for e in events] == [customer_id]
    people = [o.person.last_name for o in truth.officers if o.person] + [
        b.person.last_name for b in truth.beneficial_owners
    ]
    assert people
    written = json.dumps(result.summary()) + "".join(e.payload for e in _rows(url, AuditEvent))
    assert [name for name in people if name in written] == []
