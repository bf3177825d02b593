"""SourceGuard behaviour in one process, on the in-process fallback and on the real Redis alike."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from kyc_core.errors import (
    CircuitOpen,
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceUnusable,
    TransientSourceError,
)
from kyc_core.resilience import (
    BytesCodec,
    CallContext,
    CallLedger,
    JsonCodec,
    MemoryBackend,
    PriceTier,
    RedisBackend,
    SourceConfig,
    SourceGuard,
)
from kyc_core.store.db import get_engine
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from sqlalchemy import select


class FakeClock:
    """Wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Response:
    """Shape of a connector result: raw body, HTTP status, parsed model."""

    raw: bytes
    http_status: int
    model: dict


def decode_response(raw: bytes, http_status: int | None) -> Response:
    import json

    return Response(raw, http_status or 200, json.loads(raw))


class Fetcher:
    """A scripted source: each call pops the next outcome (an exception class instance or a value)."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def transient(status: int = 503) -> TransientSourceError:
    return TransientSourceError("src", f"HTTP {status}", http_status=status)


OK = Response(b'{"siren": "552100554"}', 200, {"siren": "552100554"})


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request):
    if request.param == "memory":
        return MemoryBackend()
    url, prefix = request.getfixturevalue("redis_url")
    return RedisBackend(url, prefix)


@pytest.fixture
def ledger_url(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def ledger(ledger_url: str) -> CallLedger:
    return CallLedger(ledger_url, batch_size=1000, flush_interval_s=3600)


def ledger_rows(ledger: CallLedger) -> list[SourceCall]:
    ledger.flush()
    with get_engine(ledger.database_url).connect() as conn:
        return list(conn.execute(select(SourceCall.__table__).order_by(SourceCall.id)))


def run(backend, coro):
    """Run one scenario in a fresh loop and close its connections."""

    async def main():
        try:
            return await coro
        finally:
            await backend.aclose()

    return asyncio.run(main())


def make_guard(backend, ledger=None, *, source="sirene", clock=None, sleeps=None, changes=None, **overrides):
    base = dict(
        failure_threshold=3, reset_timeout_s=60, retry_attempts=1, retry_initial_s=0.001, rate_limit=None
    )
    base.update(overrides)

    async def record_sleep(delay: float) -> None:
        sleeps.append(delay)

    return SourceGuard(
        source,
        backend=backend,
        config=SourceConfig(**base),
        ledger=ledger,
        context=CallContext(run_id="run-1", task_id="task-1"),
        on_state_change=(lambda *change: changes.append(change)) if changes is not None else None,
        sleep=record_sleep if sleeps is not None else asyncio.sleep,
        clock=clock or time.time,
    )


# --- circuit breaker ---------------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_fails_fast(backend, ledger):
    changes: list = []
    guard = make_guard(backend, ledger, changes=changes)
    fetch = Fetcher(transient())

    async def scenario():
        for _ in range(3):
            with pytest.raises(TransientSourceError):
                await guard.call("siren", "552100554", fetch)
        with pytest.raises(CircuitOpen) as refused:
            await guard.call("siren", "552100554", fetch)
        return await guard.snapshot(), refused.value

    snapshot, refused = run(backend, scenario())
    assert fetch.calls == 3
    assert snapshot.state == "open"
    assert changes == [("sirene", "closed", "open", "3 consecutive failures, last TransientSourceError")]
    assert refused.retry_at is not None and refused.retry_at > datetime.now(UTC)
    assert [r.outcome for r in ledger_rows(ledger)] == ["error", "error", "error", "circuit_open"]


def test_not_found_is_an_answer_and_resets_the_failure_count(backend, ledger):
    guard = make_guard(backend, ledger)
    fetch = Fetcher(
        transient(),
        transient(),
        RecordNotFound("sirene", "no such unit", http_status=404),
        transient(),
        transient(),
    )

    async def scenario():
        for _ in range(5):
            with pytest.raises((TransientSourceError, RecordNotFound)):
                await guard.call("siren", "000000000", fetch, cacheable=False)
        return await guard.snapshot()

    snapshot = run(backend, scenario())
    assert snapshot.state == "closed"
    assert snapshot.failures == 2
    rows = ledger_rows(ledger)
    assert [r.outcome for r in rows] == ["error", "error", "not_found", "error", "error"]
    assert rows[2].http_status == 404 and rows[2].error_class == "RecordNotFound"


def test_half_open_lets_exactly_one_probe_through_then_closes(backend, ledger):
    clock = FakeClock()
    changes: list = []
    guard = make_guard(backend, ledger, clock=clock, changes=changes)
    in_flight = {"now": 0, "max": 0, "calls": 0}

    async def scenario():
        gate = asyncio.Event()

        async def slow_ok():
            in_flight["calls"] += 1
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            await gate.wait()
            in_flight["now"] -= 1
            return OK

        failing = Fetcher(transient())
        for _ in range(3):
            with pytest.raises(TransientSourceError):
                await guard.call("siren", "1", failing, cacheable=False)
        clock.advance(61)
        tasks = [
            asyncio.create_task(guard.call("siren", str(i), slow_ok, cacheable=False)) for i in range(12)
        ]
        # Every caller but the probe is refused at once; only then does the probe's answer arrive.
        deadline = time.monotonic() + 20
        while sum(task.done() for task in tasks) < 11 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        after = await guard.call("siren", "after", slow_ok, cacheable=False)
        return results, after, await guard.snapshot()

    results, after, snapshot = run(backend, scenario())
    assert sum(1 for r in results if isinstance(r, CircuitOpen)) == 11
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert in_flight["max"] == 1
    assert after.from_cache is False and snapshot.state == "closed" and snapshot.failures == 0
    assert [(old, new) for _, old, new, _ in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_failed_probe_reopens_for_a_full_timeout(backend):
    clock = FakeClock()
    changes: list = []
    guard = make_guard(backend, clock=clock, changes=changes, failure_threshold=1, reset_timeout_s=30)
    fetch = Fetcher(transient())

    async def scenario():
        with pytest.raises(TransientSourceError):
            await guard.call("siren", "1", fetch)
        clock.advance(31)
        with pytest.raises(TransientSourceError):
            await guard.call("siren", "1", fetch)
        clock.advance(29)
        with pytest.raises(CircuitOpen):
            await guard.call("siren", "1", fetch)
        return await guard.snapshot()

    snapshot = run(backend, scenario())
    assert fetch.calls == 2
    assert snapshot.state == "open"
    assert snapshot.open_until == pytest.approx(clock.now - 29 + 30, abs=0.01)
    assert [(old, new) for _, old, new, _ in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
    ]


def test_a_probe_that_never_reports_frees_its_slot_after_the_lease(backend):
    clock = FakeClock()
    guard = make_guard(backend, clock=clock, failure_threshold=1, reset_timeout_s=10, probe_timeout_s=5)

    async def scenario():
        with pytest.raises(TransientSourceError):
            await guard.call("siren", "1", Fetcher(transient()))
        clock.advance(11)
        lost = await guard.breaker.acquire()
        with pytest.raises(CircuitOpen):
            await guard.breaker.acquire()
        clock.advance(6)
        second = await guard.breaker.acquire()
        return lost, second

    lost, second = run(backend, scenario())
    assert lost.probe and second.probe and lost.token != second.token


def test_state_change_callback_failure_does_not_break_the_call(backend, caplog):
    async def broken(source, old, new, reason):
        raise RuntimeError("audit store down")

    guard = SourceGuard(
        "bodacc",
        backend=backend,
        config=SourceConfig(failure_threshold=1, retry_attempts=1),
        on_state_change=broken,
    )

    async def scenario():
        with pytest.raises(TransientSourceError):
            await guard.call("notices", "552100554", Fetcher(transient()))
        return await guard.snapshot()

    assert run(backend, scenario()).state == "open"
    assert "circuit breaker bodacc: closed -> open" in caplog.text
    assert "552100554" not in caplog.text


# --- retries -----------------------------------------------------------------------------------------


def test_transient_errors_are_retried_with_growing_jittered_backoff(backend, ledger):
    sleeps: list[float] = []
    guard = make_guard(backend, ledger, sleeps=sleeps, retry_attempts=3, retry_initial_s=0.5, retry_max_s=60)
    fetch = Fetcher(transient(502), MalformedResponse("sirene", "truncated JSON"), OK)

    result = run(backend, guard.call("siren", "552100554", fetch, cacheable=False))
    assert result.value is OK and result.attempts == 3
    assert fetch.calls == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0
    row = ledger_rows(ledger)[0]
    assert (row.outcome, row.attempts, row.http_status, row.error_class) == ("ok", 3, 200, None)


def test_retries_stop_after_the_configured_tries_and_backoff_is_capped(backend, ledger):
    sleeps: list[float] = []
    guard = make_guard(
        backend,
        ledger,
        sleeps=sleeps,
        retry_attempts=5,
        retry_initial_s=10,
        retry_max_s=0.25,
        failure_threshold=50,
    )
    fetch = Fetcher(transient(504))

    with pytest.raises(TransientSourceError):
        run(backend, guard.call("siren", "1", fetch))
    assert fetch.calls == 5
    assert len(sleeps) == 4 and all(0 <= s <= 0.25 for s in sleeps)
    row = ledger_rows(ledger)[0]
    assert (row.outcome, row.attempts, row.http_status, row.error_class) == (
        "error",
        5,
        504,
        "TransientSourceError",
    )


def test_no_retry_on_401_and_it_does_not_count_toward_the_breaker(backend, ledger):
    sleeps: list[float] = []
    guard = make_guard(backend, ledger, sleeps=sleeps, retry_attempts=3, failure_threshold=1)
    fetch = Fetcher(SourceUnusable("rne", "bad credentials", http_status=401))

    async def scenario():
        with pytest.raises(SourceUnusable):
            await guard.call("company", "552100554", fetch)
        return await guard.snapshot()

    snapshot = run(backend, scenario())
    assert fetch.calls == 1 and sleeps == []
    assert snapshot.state == "closed" and snapshot.failures == 0
    row = ledger_rows(ledger)[0]
    assert (row.outcome, row.http_status, row.error_class, row.attempts) == (
        "error",
        401,
        "SourceUnusable",
        1,
    )


def test_quota_429_is_not_retried_and_opens_the_breaker_until_reset(backend, ledger):
    clock = FakeClock()
    sleeps: list[float] = []
    changes: list = []
    guard = make_guard(backend, ledger, clock=clock, sleeps=sleeps, changes=changes, retry_attempts=3)
    reset_at = datetime.fromtimestamp(clock.now + 3600, UTC)
    fetch = Fetcher(QuotaExceeded("rne", "daily quota", reset_at=reset_at, http_status=429), OK)

    async def scenario():
        with pytest.raises(QuotaExceeded):
            await guard.call("company", "552100554", fetch)
        clock.advance(3599)
        with pytest.raises(CircuitOpen) as refused:
            await guard.call("company", "552100554", fetch)
        clock.advance(2)
        return refused.value, await guard.call("company", "552100554", fetch, cacheable=False)

    refused, after = run(backend, scenario())
    assert fetch.calls == 2 and sleeps == []
    assert abs((refused.retry_at - reset_at).total_seconds()) < 0.01
    assert after.value is OK
    assert changes[0][1:3] == ("closed", "open") and "quota exceeded until" in changes[0][3]
    rows = ledger_rows(ledger)
    assert [(r.outcome, r.http_status, r.error_class) for r in rows] == [
        ("error", 429, "QuotaExceeded"),
        ("circuit_open", None, "CircuitOpen"),
        ("ok", 200, None),
    ]


def test_timeouts_are_told_apart_in_the_ledger(backend, ledger):
    guard = make_guard(backend, ledger, failure_threshold=10)

    async def wrapped_timeout():
        try:
            raise TimeoutError
        except TimeoutError as exc:
            raise TransientSourceError("sirene", "timed out") from exc

    async def raw_timeout():
        raise TimeoutError

    async def scenario():
        for fetch in (wrapped_timeout, raw_timeout):
            with pytest.raises(TransientSourceError):
                await guard.call("siren", "1", fetch)
        return await guard.snapshot()

    snapshot = run(backend, scenario())
    assert snapshot.failures == 2
    assert [(r.outcome, r.error_class) for r in ledger_rows(ledger)] == [
        ("timeout", "TransientSourceError"),
        ("timeout", "TransientSourceError"),
    ]


# --- cache and cost ----------------------------------------------------------------------------------


def test_cache_hit_makes_no_fetch_and_costs_nothing(backend, ledger):
    guard = make_guard(backend, ledger, source="rne", price_tiers=(PriceTier(0, 0.02),), cache_ttl_s=86400)
    fetch = Fetcher(OK)

    async def scenario():
        first = await guard.call("company", "552100554", fetch, decode=decode_response)
        second = await guard.call("company", "552100554", fetch, decode=decode_response)
        return first, second

    first, second = run(backend, scenario())
    assert fetch.calls == 1
    assert (first.from_cache, first.cost) == (False, 0.02)
    assert second.from_cache is True and second.cost == 0.0 and second.attempts == 0
    assert second.value.model == {"siren": "552100554"} and second.value.http_status == 200
    assert second.cached_at is not None
    rows = ledger_rows(ledger)
    assert [(r.outcome, r.cost, r.cache_hit, r.attempts) for r in rows] == [
        ("ok", 0.02, False, 1),
        ("cache_hit", 0.0, True, 0),
    ]
    assert rows[0].request_key == rows[1].request_key and len(rows[0].request_key) == 64
    assert "552100554" not in rows[0].request_key
    assert (rows[1].run_id, rows[1].task_id) == ("run-1", "task-1")


def test_error_and_malformed_responses_are_never_cached(backend, ledger):
    guard = make_guard(backend, ledger, failure_threshold=10)
    fetch = Fetcher(MalformedResponse("sirene", "HTML error page", http_status=200), transient(500), OK, OK)

    async def scenario():
        for _ in range(2):
            with pytest.raises(TransientSourceError):
                await guard.call("siren", "552100554", fetch, decode=decode_response)
        live = await guard.call("siren", "552100554", fetch, decode=decode_response)
        cached = await guard.call("siren", "552100554", fetch, decode=decode_response)
        return live, cached

    live, cached = run(backend, scenario())
    assert fetch.calls == 3
    assert live.from_cache is False and cached.from_cache is True
    assert [r.outcome for r in ledger_rows(ledger)] == ["error", "error", "ok", "cache_hit"]


def test_cache_entries_expire_after_the_source_ttl(backend):
    clock = FakeClock()
    guard = make_guard(backend, clock=clock, cache_ttl_s=3600)
    fetch = Fetcher(["a"], ["b"])

    async def scenario():
        first = await guard.call("search", "q", fetch, codec=JsonCodec())
        clock.advance(3599)
        within = await guard.call("search", "q", fetch, codec=JsonCodec())
        clock.advance(2)
        after = await guard.call("search", "q", fetch, codec=JsonCodec())
        return first, within, after

    first, within, after = run(backend, scenario())
    assert (first.value, within.value, after.value) == (["a"], ["a"], ["b"])
    assert (within.from_cache, after.from_cache) == (True, False)
    assert fetch.calls == 2


def test_max_age_zero_skips_the_cache_read(backend):
    guard = make_guard(backend)
    fetch = Fetcher(b"v1", b"v2")

    async def scenario():
        await guard.call("list", "sdn.xml", fetch, codec=BytesCodec())
        return await guard.call("list", "sdn.xml", fetch, codec=BytesCodec(), max_age_s=0)

    fresh = run(backend, scenario())
    assert fresh.value == b"v2" and fresh.from_cache is False and fetch.calls == 2


def test_not_found_is_cached_only_with_a_not_found_ttl(backend, ledger):
    missing = RecordNotFound("rne", "unknown SIREN", http_status=404)
    short = make_guard(backend, ledger, source="rne", not_found_ttl_s=600)
    never = make_guard(backend, ledger, source="rbe", not_found_ttl_s=0)
    fetch_short, fetch_never = Fetcher(missing), Fetcher(missing)

    async def scenario():
        for guard, fetch in ((short, fetch_short), (never, fetch_never)):
            for _ in range(2):
                with pytest.raises(RecordNotFound):
                    await guard.call("company", "000000000", fetch, decode=decode_response)

    run(backend, scenario())
    assert (fetch_short.calls, fetch_never.calls) == (1, 2)
    rows = ledger_rows(ledger)
    assert [(r.source, r.outcome, r.http_status) for r in rows] == [
        ("rne", "not_found", 404),
        ("rne", "cache_hit", 404),
        ("rbe", "not_found", 404),
        ("rbe", "not_found", 404),
    ]


def test_cost_follows_the_monthly_price_tiers(backend, ledger):
    guard = make_guard(backend, ledger, source="rbe", price_tiers=(PriceTier(0, 0.05), PriceTier(2, 0.03)))

    async def scenario():
        costs = []
        for key in ("a", "b", "c", "d"):
            costs.append((await guard.call("owners", key, Fetcher(OK), cacheable=False)).cost)
        return costs

    assert run(backend, scenario()) == [0.05, 0.05, 0.03, 0.03]
    assert [r.cost for r in ledger_rows(ledger)] == [0.05, 0.05, 0.03, 0.03]


def test_cache_is_the_fallback_when_the_source_prefers_fresh_answers(backend, ledger):
    guard = make_guard(backend, ledger, prefer_cache=False, failure_threshold=1)
    fetch = Fetcher(OK, transient(), OK)

    async def scenario():
        live = await guard.call("siren", "552100554", fetch, decode=decode_response)
        with pytest.raises(TransientSourceError):
            await guard.call("siren", "552100554", fetch, decode=decode_response)
        fallback = await guard.call("siren", "552100554", fetch, decode=decode_response)
        return live, fallback

    live, fallback = run(backend, scenario())
    assert fetch.calls == 2
    assert live.from_cache is False and fallback.from_cache is True
    assert [r.outcome for r in ledger_rows(ledger)] == ["ok", "error", "cache_hit"]


# --- rate limit --------------------------------------------------------------------------------------


def test_rate_limit_refuses_past_the_allowed_wait(backend, ledger):
    guard = make_guard(backend, ledger, rate_limit=2, rate_window_s=60, rate_max_wait_s=0.5)
    fetch = Fetcher(OK)

    async def scenario():
        await guard.call("siren", "a", fetch, cacheable=False)
        await guard.call("siren", "b", fetch, cacheable=False)
        with pytest.raises(RateLimited):
            await guard.call("siren", "c", fetch, cacheable=False)

    run(backend, scenario())
    assert fetch.calls == 2
    assert [r.outcome for r in ledger_rows(ledger)] == ["ok", "ok", "rate_limited"]


def test_rate_limit_makes_callers_wait_for_a_slot(backend):
    guard = make_guard(backend, rate_limit=2, rate_window_s=1, rate_max_wait_s=10)
    stamps: list[float] = []

    async def fetch():
        stamps.append(time.monotonic())
        return OK

    async def scenario():
        for key in "abcde":
            await guard.call("siren", key, fetch, cacheable=False)

    run(backend, scenario())
    assert len(stamps) == 5
    # 2 per moving second: the 3rd call waits for the 1st to leave the window, the 5th for the 3rd.
    assert stamps[2] - stamps[0] >= 0.9
    assert stamps[4] - stamps[2] >= 0.9


def test_a_rate_limited_probe_gives_its_slot_back(backend):
    clock = FakeClock()
    guard = make_guard(
        backend, clock=clock, failure_threshold=1, reset_timeout_s=10, rate_limit=1, rate_max_wait_s=0
    )

    async def scenario():
        with pytest.raises(TransientSourceError):
            await guard.call("siren", "a", Fetcher(transient()), cacheable=False)
        clock.advance(11)
        with pytest.raises(RateLimited):
            await guard.call("siren", "b", Fetcher(OK), cacheable=False)
        return await guard.breaker.acquire()

    permit = run(backend, scenario())
    assert permit.probe is True


# --- process life --------------------------------------------------------------------------------------


def test_one_guard_serves_successive_event_loops(backend):
    """An Airflow task may call asyncio.run more than once with the same guard."""
    guard = make_guard(backend)
    fetch = Fetcher(["answer"])

    first = asyncio.run(guard.call("search", "q", fetch, codec=JsonCodec()))
    second = asyncio.run(guard.call("search", "q", fetch, codec=JsonCodec()))
    run(backend, guard.snapshot())
    assert (first.from_cache, second.from_cache, second.value) == (False, True, ["answer"])
    assert fetch.calls == 1


def test_a_cached_body_the_parser_now_refuses_is_refetched(backend, caplog):
    guard = make_guard(backend)
    fetch = Fetcher(Response(b"not json", 200, {}), OK)

    async def scenario():
        await guard.call(
            "siren", "552100554", fetch, codec=None, decode=lambda raw, status: Response(raw, 200, {})
        )
        return await guard.call("siren", "552100554", fetch, decode=decode_response)

    again = run(backend, scenario())
    assert again.from_cache is False and again.value is OK and fetch.calls == 2
    assert "unreadable (JSONDecodeError): refetching" in caplog.text
