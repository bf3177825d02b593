"""Redis or the KYC database down is our infrastructure's fault, never a register's: no breaker, no failed row, no
`source_unavailable`; decisions still fail closed (`review` / `infrastructure_unavailable`, or a failed try)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.registry.fetch import SourceState, Unavailability, fetch_company
from kyc_core.resilience import (
    CallLedger,
    InfrastructureUnavailable,
    MemoryBackend,
    RedisBackend,
    SourceGuard,
    load_source_config,
)
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import get_engine, session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import AuditEvent, SourceCall
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select
from tcp_proxy import CuttableProxy

pytestmark = pytest.mark.redis

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}
BODY = b'{"siren": "552100554", "formality": {"content": {}}}'


@dataclass
class Response:
    raw: bytes
    http_status: int
    model: dict


def decode(raw: bytes, http_status: int | None) -> Response:
    return Response(raw, http_status or 200, json.loads(raw))


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(url: str) -> list[SourceCall]:
    with session_scope(url) as s:
        return list(s.scalars(select(SourceCall).order_by(SourceCall.id)))


def events(url: str, kind: EventType) -> list[dict]:
    with session_scope(url) as s:
        return [json.loads(e.payload) for e in s.scalars(select(AuditEvent).where(AuditEvent.event_type == kind.value))]


@pytest.fixture
def proxy(redis_url):
    target = urlparse(redis_url[0])
    running = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    yield running
    running.close()


def test_redis_lost_after_a_paid_answer(store, redis_url, proxy):
    """The register answered, then Redis died: the paid row is committed, nothing is cached, no breaker counts."""
    url, prefix = redis_url
    ledger = CallLedger(store, batch_size=1000, flush_interval_s=3600)
    guard = SourceGuard("rne", backend=RedisBackend(proxy.url, prefix), config=load_source_config("rne", FAST), ledger=ledger)
    calls = []

    async def answered_then_redis_gone():
        calls.append(1)
        proxy.cut()
        return Response(BODY, 200, json.loads(BODY))

    async def never():
        calls.append(2)
        return Response(BODY, 200, json.loads(BODY))

    async def main():
        with pytest.raises(InfrastructureUnavailable) as lost:
            await guard.call("company", "552100554", answered_then_redis_gone, decode=decode)
        # Redis still down: the register is not called at all and nothing is written for it.
        with pytest.raises(InfrastructureUnavailable) as still:
            await guard.call("company", "552100555", never, decode=decode)
        await guard.backend.aclose()
        return lost.value, still.value

    lost, still = asyncio.run(main())
    assert (lost.component, still.component) == ("redis", "redis")
    assert calls == [1]
    # Committed before anything else, without any flush of the buffer: a killed process keeps it.
    assert ledger.pending == 0
    [row] = rows(store)
    assert (row.source, row.outcome, row.cost, row.error_class) == ("rne", "ok", 0.02, None)

    proxy.restore()
    real = RedisBackend(url, prefix)

    async def state():
        snap = await real.breaker_snapshot("rne")
        cached = await real.cache_get(f"rne:company:{row.request_key}")
        await real.aclose()
        return snap, cached

    snap, cached = asyncio.run(state())
    assert (snap.state, snap.failures) == ("closed", 0)
    assert cached is None


def test_redis_lost_while_a_register_fails_counts_only_the_register(store, redis_url, proxy):
    """The register's own 503 is its row; the retry refused by dead Redis adds no failure and the call says redis."""
    from kyc_core.errors import TransientSourceError

    _url, prefix = redis_url
    ledger = CallLedger(store, batch_size=1000, flush_interval_s=3600)
    guard = SourceGuard("sirene", backend=RedisBackend(proxy.url, prefix), config=load_source_config("sirene", FAST),
                        ledger=ledger)

    async def failing_then_redis_gone():
        proxy.cut()
        raise TransientSourceError("sirene", "HTTP 503", http_status=503)

    async def main():
        with pytest.raises(InfrastructureUnavailable) as lost:
            await guard.call("siren", "552100554", failing_then_redis_gone, cacheable=False)
        await guard.aclose()
        await guard.backend.aclose()
        return lost.value

    assert asyncio.run(main()).component == "redis"
    [row] = rows(store)
    assert (row.outcome, row.attempts, row.http_status, row.error_class) == ("error", 1, 503, "TransientSourceError")


def test_fetch_with_redis_unreachable_blames_no_register(store, emulator):
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    siren = Dataset(emulator.state.config.companies, emulator.state.config.seed).siren(21)
    backend = RedisBackend(f"redis://127.0.0.1:{closed_port()}/0", "kyc:")
    result = asyncio.run(fetch_company(siren, endpoints=endpoints, database_url=store, backend=backend,
                                       source_config=FAST, context=None, customer_id=None))
    assert {o.state for o in result.outcomes.values()} == {SourceState.UNAVAILABLE}
    assert {o.error for o in result.outcomes.values()} == {Unavailability.INFRASTRUCTURE}
    assert sorted(result.infrastructure) == ["bodacc", "rbe", "rne", "sirene"]
    # No register was called, so none has a row; the audit names redis, never a register.
    assert rows(store) == []
    assert sum(v["requests"] for k, v in emulator.state.stats.snapshot().items() if k != "rne") == 0
    assert events(store, EventType.SOURCE_UNAVAILABLE) == []
    [infra] = events(store, EventType.INFRASTRUCTURE_UNAVAILABLE)
    assert infra["component"] == "redis" and infra["error_class"] == "ConnectionError"
    assert infra["registers_not_consulted"] == ["bodacc", "rbe", "rne", "sirene"]
    with session_scope(store) as s:
        assert verify_chain(s).ok


def test_assessment_with_redis_unreachable_is_review_infrastructure_unavailable(store, load_lists, emulator):
    from kyc_core.customers.registration import register_batch
    from kyc_core.customers.request import parse_request
    from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer

    load_lists()
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    siren = ds.siren(21)  # a clean company: approved when the registers answer
    item = {"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name}, "segment": "cgp"}
    with session_scope(store) as s:
        [reg] = register_batch(s, parse_request({"customers": [item]}), actor="t", run_id="run-infra")
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    backend = RedisBackend(f"redis://127.0.0.1:{closed_port()}/0", "kyc:")
    ctx = AssessmentContext(database_url=store, run_id="run-infra", actor="test", endpoints=endpoints,
                            fetch_options={"backend": backend, "source_config": FAST})
    summary = assess_customer(ctx, reg.customer_id)
    codes = {r["code"] for r in summary["top_reasons"]}
    assert summary["outcome"] == "review"
    assert "infrastructure_unavailable" in codes and "source_unavailable" not in codes
    assert events(store, EventType.SOURCE_UNAVAILABLE) == []
    assert {e["component"] for e in events(store, EventType.INFRASTRUCTURE_UNAVAILABLE)} == {"redis"}


@pytest.fixture(params=["sqlite", "postgres"])
def unreachable_db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'kyc.db'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/kyc"


def test_kyc_database_unreachable_is_not_the_registers_fault(unreachable_db):
    """A paid answer that cannot be recorded is not used: the call fails naming the KYC database, nothing cached."""
    backend = MemoryBackend()
    ledger = CallLedger(unreachable_db, batch_size=1000, flush_interval_s=3600)
    guard = SourceGuard("rne", backend=backend, config=load_source_config("rne", FAST), ledger=ledger)

    async def answer():
        return Response(BODY, 200, json.loads(BODY))

    async def main():
        with pytest.raises(InfrastructureUnavailable) as down:
            await guard.call("company", "552100554", answer, decode=decode)
        return down.value, await backend.breaker_snapshot("rne")

    fault, snap = asyncio.run(main())
    assert fault.component == "kyc_database"
    assert (snap.state, snap.failures) == ("closed", 0)
    assert backend._cache == {}  # noqa: SLF001 - the in-process cache's own store
    # Kept for the next write (or the one at exit), not lost.
    assert ledger.pending == 1


def test_fetch_with_kyc_database_unreachable_fails_the_try(unreachable_db, emulator):
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    siren = Dataset(emulator.state.config.companies, emulator.state.config.seed).siren(21)
    ledger = CallLedger(unreachable_db)
    with pytest.raises(InfrastructureUnavailable) as down:
        asyncio.run(fetch_company(siren, endpoints=endpoints, database_url=unreachable_db, backend=MemoryBackend(),
                                  ledger=ledger, source_config=FAST))
    assert down.value.component == "kyc_database"
    # Nothing was lost silently: the rows wait in the buffer for the database.
    assert ledger.pending > 0


def test_ledger_audits_the_database_outage_once_it_is_back(pg_admin_url):
    """Writes refused while the database is missing; the first write that succeeds records the outage."""
    import psycopg
    from kyc_core.resilience import CallRecord
    from kyc_core.store.db import dispose_engines

    name = f"kyc_test_{uuid.uuid4().hex[:12]}"
    url = pg_admin_url.rsplit("/", 1)[0] + "/" + name
    ledger = CallLedger(url, batch_size=1000, flush_interval_s=3600)
    from datetime import UTC, datetime

    row = CallRecord("rne", "company", datetime.now(UTC), 12.0, "ok", http_status=200, cost=0.02)
    with pytest.raises(InfrastructureUnavailable) as down:
        ledger.write_now(row)
    assert down.value.component == "kyc_database"
    plain = pg_admin_url.replace("postgresql+psycopg", "postgresql")
    dispose_engines()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(url)
        assert ledger.write_now(row) == 2
        [event] = events(url, EventType.INFRASTRUCTURE_UNAVAILABLE)
        assert (event["component"], event["operation"], event["rows_delayed"]) == ("kyc_database", "ledger", 2)
        with get_engine(url).connect() as conn:
            assert conn.scalar(select(func.count()).select_from(SourceCall)) == 2
    finally:
        dispose_engines()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

