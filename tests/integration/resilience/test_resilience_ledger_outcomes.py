"""Every outcome of a guarded call lands in `source_call` on SQLite and PostgreSQL, state in the real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis
from kyc_core.errors import (
    CircuitOpen,
    MalformedResponse,
    RateLimited,
    RecordNotFound,
    TransientSourceError,
)
from kyc_core.resilience import CallContext, CallLedger, PriceTier, RedisBackend, SourceConfig, SourceGuard
from kyc_core.store.db import get_engine
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from sqlalchemy import select

pytestmark = pytest.mark.redis


@dataclass
class Response:
    raw: bytes
    http_status: int
    model: dict


class FakeClock:
    """Wall clock the test moves by hand (breaker timing only; the rate limiter keeps real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def decode(raw: bytes, http_status: int | None) -> Response:
    return Response(raw, http_status or 200, json.loads(raw))


def test_every_outcome_is_a_ledger_row_and_only_answers_are_cached(redis_url, db_url):
    url, prefix = redis_url
    upgrade(db_url)
    ledger = CallLedger(db_url, batch_size=3, flush_interval_s=3600)
    backend = RedisBackend(url, prefix)
    config = SourceConfig(
        failure_threshold=2,
        retry_attempts=1,
        rate_limit=6,
        rate_window_s=60,
        rate_max_wait_s=0,
        price_tiers=(PriceTier(0, 0.02),),
    )
    clock = FakeClock()
    guard = SourceGuard(
        "rne",
        backend=backend,
        config=config,
        ledger=ledger,
        context=CallContext("run-7", "fetch_rne"),
        clock=clock,
    )
    body = b'{"siren": "552100554", "formality": {"content": {}}}'

    async def ok():
        return Response(body, 200, json.loads(body))

    async def missing():
        raise RecordNotFound("rne", "unknown SIREN", http_status=404)

    async def html_page():
        raise MalformedResponse("rne", "HTML instead of JSON", http_status=200)

    async def timed_out():
        try:
            raise TimeoutError
        except TimeoutError as exc:
            raise TransientSourceError("rne", "read timeout") from exc

    async def scenario():
        results = [await guard.call("company", "552100554", ok, decode=decode)]
        results.append(await guard.call("company", "552100554", ok, decode=decode))
        with pytest.raises(RecordNotFound):
            await guard.call("company", "000000000", missing, decode=decode)
        with pytest.raises(MalformedResponse):
            await guard.call("company", "111111111", html_page, decode=decode)
        with pytest.raises(TransientSourceError):
            await guard.call("company", "111111111", timed_out, decode=decode)
        with pytest.raises(CircuitOpen):
            await guard.call("company", "111111111", ok, decode=decode)
        clock.advance(61)
        # The probe closes the breaker; the 6th request of the minute fills the rate limit.
        for key in ("a", "b"):
            await guard.call("company", key, ok, cacheable=False)
        with pytest.raises(RateLimited):
            await guard.call("company", "c", ok, cacheable=False)
        await guard.aclose()
        await backend.aclose()
        return results

    live, cached = asyncio.run(scenario())
    assert (live.from_cache, cached.from_cache, cached.value.model["siren"]) == (False, True, "552100554")

    with get_engine(db_url).connect() as conn:
        rows = list(conn.execute(select(SourceCall.__table__).order_by(SourceCall.id)))
    assert [(r.outcome, r.cost, r.cache_hit, r.http_status, r.error_class) for r in rows] == [
        ("ok", 0.02, False, 200, None),
        ("cache_hit", 0.0, True, 200, None),
        ("not_found", 0.02, False, 404, "RecordNotFound"),
        ("error", 0.0, False, 200, "MalformedResponse"),
        ("timeout", 0.0, False, None, "TransientSourceError"),
        ("circuit_open", 0.0, False, None, "CircuitOpen"),
        ("ok", 0.02, False, 200, None),
        ("ok", 0.02, False, 200, None),
        ("rate_limited", 0.0, False, None, "RateLimited"),
    ]
    assert all((r.source, r.run_id, r.task_id) == ("rne", "run-7", "fetch_rne") for r in rows)
    assert all(r.started_at is not None and r.latency_ms >= 0 for r in rows)
    started = rows[0].started_at if rows[0].started_at.tzinfo else rows[0].started_at.replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - started) < timedelta(minutes=5)

    client = redis.Redis.from_url(url)
    cache_keys = sorted(k.decode() for k in client.scan_iter(match=prefix + "cache:*"))
    client.close()
    # One entry: the successful answer. Not the not-found (no not-found TTL), not the malformed or failed calls.
    assert len(cache_keys) == 1 and cache_keys[0].startswith(prefix + "cache:rne:company:")
    assert "552100554" not in cache_keys[0]
