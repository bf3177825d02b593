"""An infrastructure fault is classified as such: its own fetch state, its own reason code, never an approval."""

from __future__ import annotations

from datetime import date

import pytest
from kyc_core.decision import Outcome, ReasonCode, decide
from kyc_core.errors import CircuitOpen, TransientSourceError
from kyc_core.policy import load_policy
from kyc_core.registry.fetch import SourceState, Unavailability, classify
from kyc_core.resilience import InfrastructureUnavailable
from kyc_core.resilience.infra import is_database_failure, is_redis_failure
from kyc_core.scoring import RiskProfile, SourceCheck, compute_score

POLICY = load_policy("cgp")


def company(sources: dict[str, SourceCheck]) -> RiskProfile:
    return RiskProfile(kind="entity", residence_country="FR", naf_code="62.01Z", company_status="active",
                       ubo_status="declared", ownership_levels=1, linked_entities=1, data_quality=0.9, sources=sources)


def all_ok() -> dict[str, SourceCheck]:
    return {name: SourceCheck(status="ok") for name in POLICY.spec.sources.mandatory.entity}


def test_classify_tells_our_infrastructure_from_the_register():
    assert classify(InfrastructureUnavailable("redis", "breaker")) == (SourceState.UNAVAILABLE, Unavailability.INFRASTRUCTURE)
    assert classify(TransientSourceError("rne", "HTTP 503")) == (SourceState.UNAVAILABLE, Unavailability.TRANSIENT)
    assert classify(CircuitOpen("rne")) == (SourceState.UNAVAILABLE, Unavailability.CIRCUIT_OPEN)
    assert Unavailability.INFRASTRUCTURE.value == ReasonCode.INFRASTRUCTURE_UNAVAILABLE.value


def test_register_not_consulted_because_of_redis_is_review_infrastructure_unavailable():
    profile = company(all_ok() | {"rne": SourceCheck(status="unavailable", detail="infrastructure_unavailable")})
    result = decide(profile, compute_score(profile, POLICY), POLICY, today=date(2026, 1, 31))
    assert result.outcome == Outcome.REVIEW
    assert result.reason_codes == (ReasonCode.INFRASTRUCTURE_UNAVAILABLE,)
    assert "source_unavailable" not in [r.code.value for r in result.reasons]
    # Still waits and re-assesses once the shared state is back.
    assert (result.retry, result.retry_sources) == (True, ("rne",))


def test_infrastructure_fault_names_a_component_never_a_register():
    fault = InfrastructureUnavailable("kyc_database", "ledger", error_class="OperationalError")
    assert fault.payload() == {"component": "kyc_database", "operation": "ledger", "error_class": "OperationalError"}
    assert str(fault) == "kyc_database unavailable during ledger (OperationalError)"
    with pytest.raises(ValueError, match="unknown infrastructure component"):
        InfrastructureUnavailable("rne", "company")


def test_what_counts_as_redis_or_database_failure():
    import redis.exceptions
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert is_redis_failure(redis.exceptions.ConnectionError("refused"))
    assert is_redis_failure(ConnectionRefusedError())
    assert not is_redis_failure(ValueError("bad"))
    assert is_database_failure(OperationalError("select 1", {}, Exception("could not connect")))
    assert not is_database_failure(IntegrityError("insert", {}, Exception("duplicate key")))


def test_an_infrastructure_fault_inside_an_attempt_never_trips_the_breaker():
    import asyncio

    from kyc_core.resilience import MemoryBackend, SourceConfig, SourceGuard

    backend = MemoryBackend()
    guard = SourceGuard("rne", backend=backend, config=SourceConfig(failure_threshold=1, retry_attempts=1))

    async def redis_gone():
        raise InfrastructureUnavailable("redis", "cache")

    async def unparsable():
        raise ValueError("not the JSON we know")

    async def main():
        for _ in range(3):
            with pytest.raises(InfrastructureUnavailable):
                await guard.call("company", "552100554", redis_gone, cacheable=False)
        closed = await backend.breaker_snapshot("rne")
        with pytest.raises(ValueError):
            await guard.call("company", "552100554", unparsable, cacheable=False)
        return closed, await backend.breaker_snapshot("rne")

    closed, after_register_fault = asyncio.run(main())
    assert (closed.state, closed.failures) == ("closed", 0)
    # The same guard does trip on the register's own unusable answer.
    assert after_register_fault.state == "open"
