"""The call ledger's batching and the guard factory's choice of backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from kyc_core.errors import CircuitOpen, TransientSourceError
from kyc_core.resilience import CallLedger, CallRecord, MemoryBackend, RedisBackend, build_guard, get_backend
from kyc_core.resilience.config import SourceConfig
from kyc_core.store.db import get_engine
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from sqlalchemy import func, select


def row(outcome: str = "ok", **extra) -> CallRecord:
    return CallRecord(
        source="sirene",
        operation="siren",
        started_at=datetime.now(UTC),
        latency_ms=12.5,
        outcome=outcome,
        **extra,
    )


def count(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(SourceCall.__table__)).scalar_one()


def test_rows_are_written_in_batches_and_on_close(sqlite_url):
    upgrade(sqlite_url)
    ledger = CallLedger(sqlite_url, batch_size=3, flush_interval_s=3600)
    assert ledger.record(row()) is False
    assert ledger.record(row("cache_hit", cache_hit=True)) is False
    assert count(sqlite_url) == 0 and ledger.pending == 2
    assert ledger.record(row("timeout", attempts=3, error_class="TransientSourceError")) is True
    assert ledger.flush() == 3
    assert count(sqlite_url) == 3
    ledger.record(row("rate_limited"))
    ledger.close()
    assert count(sqlite_url) == 4 and ledger.pending == 0
    with get_engine(sqlite_url).connect() as conn:
        outcomes = [r.outcome for r in conn.execute(select(SourceCall.__table__).order_by(SourceCall.id))]
    assert outcomes == ["ok", "cache_hit", "timeout", "rate_limited"]


def test_a_flush_is_due_once_the_interval_has_passed(sqlite_url):
    upgrade(sqlite_url)
    ledger = CallLedger(sqlite_url, batch_size=1000, flush_interval_s=0)
    assert ledger.record(row()) is True


def test_async_record_flushes_when_due_and_keeps_rows_when_the_database_refuses(sqlite_url):
    ledger = CallLedger(sqlite_url, batch_size=2, flush_interval_s=3600)

    async def write_two():
        await ledger.record_async(row())
        await ledger.record_async(row())

    asyncio.run(write_two())
    assert ledger.pending == 2
    upgrade(sqlite_url)
    asyncio.run(write_two())
    # The first new row made the kept rows due again: 3 written, the last one waits for its batch.
    assert ledger.pending == 1 and count(sqlite_url) == 3
    ledger.close()
    assert ledger.pending == 0 and count(sqlite_url) == 4


def test_unknown_outcome_is_refused(sqlite_url):
    with pytest.raises(ValueError, match="unknown call outcome"):
        CallLedger(sqlite_url).record(row("exploded"))


def test_without_redis_guards_of_one_process_share_the_in_process_backend(monkeypatch, sqlite_url):
    monkeypatch.delenv("KYC_REDIS_URL", raising=False)
    upgrade(sqlite_url)
    config = SourceConfig(failure_threshold=1, retry_attempts=1)
    first = build_guard("sirene-fallback-test", database_url=sqlite_url, config=config)
    second = build_guard("sirene-fallback-test", database_url=sqlite_url, config=config)
    assert isinstance(first.backend, MemoryBackend) and first.backend is second.backend

    async def failing():
        raise TransientSourceError("sirene", "HTTP 503", http_status=503)

    async def scenario():
        with pytest.raises(TransientSourceError):
            await first.call("siren", "1", failing)
        with pytest.raises(CircuitOpen):
            await second.call("siren", "1", failing)
        await first.aclose()

    asyncio.run(scenario())
    assert count(sqlite_url) == 2


def test_with_redis_configured_the_factory_uses_it(monkeypatch):
    monkeypatch.setenv("KYC_REDIS_URL", "redis://127.0.0.1:6379/0")
    backend = get_backend(key_prefix="kycunit:")
    assert isinstance(backend, RedisBackend)
    assert backend.breaker_key("rne") == "kycunit:breaker:rne"
    assert get_backend(key_prefix="kycunit:") is backend
