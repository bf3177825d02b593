"""The guard every source call goes through: cache, breaker, rate limit, retries, cost and ledger.

Order of one `SourceGuard.call`:

1. cache (when `cacheable` and the source prefers its cache): a fresh entry is returned, marked
   `from_cache`, with a `cache_hit` ledger row costing 0, and `fetch` is not called;
2. then up to `retry_attempts` attempts, each: breaker permit (CircuitOpen when open, or when
   another worker holds the half-open probe) -> rate-limit slot (waits, or RateLimited) -> one
   `fetch()` -> result told to the breaker. Retryable errors back off with full jitter;
   RecordNotFound is an answer (resets the breaker, not retried); SourceUnusable is not retried and
   does not count; QuotaExceeded is not retried and opens the breaker until its `reset_at`;
3. the answer (ok or not found) is charged from the tiered monthly price, and one ledger row is
   written for the whole call (with its attempt count), whatever the outcome; a paid answer's row is
   committed before the answer is cached or returned. Its latency is what the caller waited:
   rate-limit waits and backoff sleeps included.

Redis (breaker, limit, cache, usage) or the KYC database failing is our fault, not the source's:
the call raises `InfrastructureUnavailable` naming the component, the breaker is not charged with it
and no failed ledger row is written for it (a row records only what the source itself answered).

What the cache stores. `fetch` performs one HTTP attempt and returns a result object or raises the
errors of `kyc_core.errors`. The cache keeps bytes only, so a call is cacheable when it says how to
turn its result into bytes and back:

* ``decode=`` a callable ``(raw: bytes, http_status: int | None) -> T``: the result must have
  ``raw`` (the response body) and ``http_status``; those are stored, and a hit re-parses them with
  ``decode``. This is the connectors' way: the raw body is the source of truth, parsing is redone.
* ``codec=`` any object with ``encode(value) -> (bytes, http_status)`` and
  ``decode(bytes, http_status) -> value`` (see :class:`JsonCodec`, :class:`BytesCodec`).
* neither: the answer is not cached (only "not found" may be, per `not_found_ttl_s`).

A payload is stored only after `fetch` returned normally, i.e. after the connector parsed it, so a
malformed body or an error response is never cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from kyc_core.errors import (
    CircuitOpen,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from kyc_core.resilience.backend import BreakerSnapshot, MemoryBackend, RedisBackend, StateBackend
from kyc_core.resilience.breaker import CircuitBreaker, StateChangeCallback
from kyc_core.resilience.cache import CacheEntry, ResponseCache, request_hash
from kyc_core.resilience.config import SourceConfig, load_source_config
from kyc_core.resilience.infra import InfrastructureUnavailable
from kyc_core.resilience.ledger import CallContext, CallLedger, CallRecord
from kyc_core.resilience.ratelimit import RateLimiter
from kyc_core.resilience.retry import Sleep, retrying
from kyc_core.settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Codec(Protocol[T]):
    """Turns a fetch result into cacheable bytes and back."""

    def encode(self, value: T) -> tuple[bytes, int | None]: ...

    def decode(self, payload: bytes, http_status: int | None) -> T: ...


class RawResponseCodec:
    """Stores a connector result's `raw` body and `http_status`; re-parses a hit with `decode`."""

    def __init__(self, decode: Callable[[bytes, int | None], Any]) -> None:
        self._decode = decode

    def encode(self, value: Any) -> tuple[bytes, int | None]:
        """The raw body and status of a connector result."""
        return bytes(value.raw), getattr(value, "http_status", None)

    def decode(self, payload: bytes, http_status: int | None) -> Any:
        """The connector's own parse of the stored body."""
        return self._decode(payload, http_status)


class BytesCodec:
    """For fetches that return the body itself (list downloads)."""

    def encode(self, value: bytes) -> tuple[bytes, int | None]:
        """The bytes as they are."""
        return bytes(value), None

    def decode(self, payload: bytes, http_status: int | None) -> bytes:
        """The bytes as they were."""
        return payload


class JsonCodec:
    """For fetches that return plain JSON-able values."""

    def encode(self, value: Any) -> tuple[bytes, int | None]:
        """Compact JSON."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), None

    def decode(self, payload: bytes, http_status: int | None) -> Any:
        """The JSON value."""
        return json.loads(payload)


@dataclass(frozen=True)
class Guarded(Generic[T]):
    """A source answer and how it was obtained."""

    value: T
    from_cache: bool
    attempts: int
    latency_ms: float
    cost: float = 0.0
    http_status: int | None = None
    # When the served cache entry was stored (None for a live answer).
    cached_at: datetime | None = None


def is_timeout(exc: BaseException) -> bool:
    """Whether a timeout is the root of `exc` (the ledger tells timeouts from other errors)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def outcome_of(exc: BaseException) -> str:
    """Ledger outcome of a failed call."""
    if isinstance(exc, RecordNotFound):
        return "not_found"
    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    return "timeout" if is_timeout(exc) else "error"


def _month(now: float) -> str:
    """Billing month (UTC) of an instant."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


@dataclass
class _Tries:
    """Attempts that reached `fetch` within one call, the last error the source gave, and a Redis fault.

    `infra` is Redis failing while the breaker or the usage counter was told about an attempt that
    reached the source: the source's own outcome is still what its ledger row says, then the call
    raises the infrastructure error instead of using the answer.
    """

    count: int = 0
    last_error: BaseException | None = None
    infra: InfrastructureUnavailable | None = None

    async def quietly(self, step: Awaitable[Any]) -> None:
        """Run a bookkeeping step of the shared state; a Redis fault is kept for later, not raised."""
        try:
            await step
        except InfrastructureUnavailable as fault:
            if self.infra is None:
                self.infra = fault


class SourceGuard:
    """Every call to one source goes through here; state lives in the backend, rows in the ledger."""

    def __init__(
        self,
        source: str,
        *,
        backend: StateBackend,
        config: SourceConfig,
        ledger: CallLedger | None = None,
        context: CallContext | None = None,
        on_state_change: StateChangeCallback | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.backend = backend
        self.config = config
        self.ledger = ledger
        self.context = context or CallContext()
        self.sleep = sleep
        self.clock = clock
        self.breaker = CircuitBreaker(source, backend, config, on_state_change=on_state_change, clock=clock)
        self.limiter = RateLimiter(
            source,
            backend,
            config.rate_limit,
            config.rate_window_s,
            config.rate_max_wait_s,
            sleep=sleep,
        )
        self.cache = ResponseCache(source, backend)

    async def call(
        self,
        operation: str,
        request_key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        cacheable: bool = True,
        decode: Callable[[bytes, int | None], T] | None = None,
        codec: Codec[T] | None = None,
        max_age_s: float | None = None,
    ) -> Guarded[T]:
        """Run `fetch` behind the cache, breaker, rate limit and retries; one ledger row per call.

        A paid answer is written to the ledger (committed) before it is cached or returned. Redis or
        the KYC database failing raises :class:`InfrastructureUnavailable`: the breaker is not
        charged with it and no failed ledger row names the source for it.

        :param operation: what is asked (e.g. "siren", "company"); part of the cache key.
        :param request_key: the request's identity (e.g. a SIREN); only its hash is stored.
        :param fetch: one HTTP attempt returning a result or raising a `kyc_core.errors` class.
        :param cacheable: whether answers of this call may be read from and written to the cache.
        :param decode: re-parses a cached `raw` body (see the module docstring).
        :param codec: alternative to `decode` for results that are not connector responses.
        :param max_age_s: oldest cached answer acceptable (default: the source's TTL; 0 skips the read).
        """
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        req_hash = request_hash(self.source, operation, request_key)
        if codec is None and decode is not None:
            codec = RawResponseCodec(decode)
        max_age = self.config.cache_ttl_s if max_age_s is None else max_age_s

        if cacheable and self.config.prefer_cache:
            served = await self._from_cache(operation, req_hash, codec, max_age, started_at, t0)
            if served is not None:
                return served

        tries = _Tries()
        try:
            try:
                async for attempt in retrying(self.config, sleep=self.sleep):
                    with attempt:
                        result = await self._attempt(operation, fetch, tries)
            except (CircuitOpen, RateLimited) as refused:
                # Refused on a retry: the caller needs the source's own error, not the breaker's echo of it.
                if tries.last_error is not None:
                    raise tries.last_error from refused
                raise
        except InfrastructureUnavailable:
            # Our shared state failed, not the source: a row only for what the source itself did before.
            if tries.last_error is not None:
                await self._log(
                    operation,
                    req_hash,
                    started_at,
                    t0,
                    outcome_of(tries.last_error),
                    attempts=tries.count,
                    exc=tries.last_error,
                )
            raise
        except (CircuitOpen, RateLimited) as exc:
            if cacheable and not self.config.prefer_cache:
                served = await self._from_cache(
                    operation, req_hash, codec, self.config.cache_ttl_s, started_at, t0
                )
                if served is not None:
                    return served
            await self._log(
                operation, req_hash, started_at, t0, outcome_of(exc), attempts=tries.count, exc=exc
            )
            raise
        except RecordNotFound as exc:
            cost = await self._charge(tries)
            await self._log(
                operation, req_hash, started_at, t0, "not_found", attempts=tries.count, exc=exc, cost=cost
            )
            if tries.infra is not None:
                raise tries.infra from exc
            if cacheable and self.config.not_found_ttl_s > 0:
                entry = CacheEntry(b"", exc.http_status, self.clock(), not_found=True)
                await self.cache.put(operation, req_hash, entry, self.config.not_found_ttl_s)
            raise
        except BaseException as exc:
            await self._log(
                operation, req_hash, started_at, t0, outcome_of(exc), attempts=tries.count, exc=exc
            )
            if tries.infra is not None:
                raise tries.infra from exc
            raise

        cost = await self._charge(tries)
        http_status = getattr(result, "http_status", None)
        # The ledger first: a process killed from here on has its paid call on record.
        latency_ms = await self._log(
            operation,
            req_hash,
            started_at,
            t0,
            "ok",
            attempts=tries.count,
            cost=cost,
            http_status=http_status,
        )
        if tries.infra is not None:
            raise tries.infra
        if cacheable and codec is not None:
            await self._store(operation, req_hash, codec, result)
        return Guarded(result, False, tries.count, latency_ms, cost, http_status)

    async def _attempt(self, operation: str, fetch: Callable[[], Awaitable[T]], tries: _Tries) -> T:
        """One attempt: permit, rate-limit slot, fetch, verdict to the breaker."""
        permit = await self.breaker.acquire()
        try:
            await self.limiter.acquire()
        except BaseException:
            await tries.quietly(self.breaker.release(permit))
            raise
        tries.count += 1
        try:
            result = await fetch()
        except RecordNotFound:
            await tries.quietly(self.breaker.record_success(permit))
            raise
        except QuotaExceeded as exc:
            await tries.quietly(self._quota_spent(exc))
            raise
        except SourceError as exc:
            tries.last_error = exc
            if exc.counts_as_failure:
                await tries.quietly(self.breaker.record_failure(permit, type(exc).__name__))
            else:
                await tries.quietly(self.breaker.release(permit))
            raise
        except (TimeoutError, OSError) as exc:
            # A connector let a transport error through: it is transient by nature.
            await tries.quietly(self.breaker.record_failure(permit, type(exc).__name__))
            wrapped = TransientSourceError(self.source, type(exc).__name__, operation=operation)
            tries.last_error = wrapped
            raise wrapped from exc
        except InfrastructureUnavailable:
            # Our own state failed inside the attempt (a nested guarded call): the source is not judged.
            await tries.quietly(self.breaker.release(permit))
            raise
        except Exception as exc:
            # An unexpected parse/connector failure says the answer was unusable: count it, do not retry.
            await tries.quietly(self.breaker.record_failure(permit, type(exc).__name__))
            raise
        except BaseException:
            await tries.quietly(self.breaker.release(permit))
            raise
        await tries.quietly(self.breaker.record_success(permit))
        return result

    async def _quota_spent(self, exc: QuotaExceeded) -> None:
        """Open the breaker until the quota resets (or one reset timeout when the source did not say)."""
        until = exc.reset_at.timestamp() if exc.reset_at else self.clock() + self.config.reset_timeout_s
        stamp = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
        await self.breaker.force_open(until, f"quota exceeded until {stamp}")

    async def _from_cache(
        self,
        operation: str,
        req_hash: str,
        codec: Codec | None,
        max_age: float,
        started_at: datetime,
        t0: float,
    ) -> Guarded | None:
        """A fresh cached answer (ledger row `cache_hit`, cost 0), or None on a miss."""
        entry = await self.cache.get(operation, req_hash, now=self.clock(), max_age_s=max_age)
        if entry is None:
            return None
        cached_at = datetime.fromtimestamp(entry.stored_at, UTC)
        if entry.not_found:
            exc = RecordNotFound(
                self.source, "not found (cached)", operation=operation, http_status=entry.http_status
            )
            await self._log(
                operation, req_hash, started_at, t0, "cache_hit", attempts=0, exc=exc, cache_hit=True
            )
            raise exc
        if codec is None:
            return None
        try:
            value = codec.decode(entry.payload, entry.http_status)
        except Exception as exc:
            # An entry the current parser refuses (format changed) is a miss, not an answer.
            logger.warning(
                "cache entry of %s/%s unreadable (%s): refetching", self.source, operation, type(exc).__name__
            )
            return None
        latency_ms = await self._log(
            operation,
            req_hash,
            started_at,
            t0,
            "cache_hit",
            attempts=0,
            http_status=entry.http_status,
            cache_hit=True,
        )
        return Guarded(value, True, 0, latency_ms, 0.0, entry.http_status, cached_at)

    async def _store(self, operation: str, req_hash: str, codec: Codec, result: Any) -> None:
        """Cache a parsed answer; a result the codec cannot encode is simply not cached."""
        try:
            payload, status = codec.encode(result)
        except Exception as exc:
            logger.warning("answer of %s/%s not cacheable (%s)", self.source, operation, type(exc).__name__)
            return
        entry = CacheEntry(payload, status, self.clock())
        await self.cache.put(operation, req_hash, entry, self.config.cache_ttl_s)

    async def _charge(self, tries: _Tries) -> float:
        """Price of one answered request at this month's tier; free sources count nothing."""
        if not self.config.is_paid:
            return 0.0
        try:
            nth = await self.backend.incr_usage(self.source, _month(self.clock()))
        except InfrastructureUnavailable as fault:
            # The month's count lives in Redis: without it the answer is priced at the first (dearest) tier.
            tries.infra = tries.infra or fault
            return self.config.price_of(1)
        return self.config.price_of(nth)

    async def _log(
        self,
        operation: str,
        req_hash: str,
        started_at: datetime,
        t0: float,
        outcome: str,
        *,
        attempts: int,
        exc: BaseException | None = None,
        cost: float = 0.0,
        http_status: int | None = None,
        cache_hit: bool = False,
    ) -> float:
        """Write the call's ledger row; its latency in ms."""
        latency_ms = (time.perf_counter() - t0) * 1000.0
        if self.ledger is None:
            return latency_ms
        if http_status is None and isinstance(exc, SourceError):
            http_status = exc.http_status
        record = CallRecord(
            source=self.source,
            operation=operation,
            started_at=started_at,
            latency_ms=round(latency_ms, 3),
            outcome=outcome,
            http_status=http_status,
            cost=cost,
            cache_hit=cache_hit,
            attempts=attempts,
            error_class=type(exc).__name__ if exc is not None else None,
            request_key=req_hash,
            run_id=self.context.run_id,
            task_id=self.context.task_id,
        )
        if cost > 0:
            # A paid answer is committed before anyone uses it (a killed process must not lose its cost).
            await asyncio.to_thread(self.ledger.write_now, record)
        else:
            await self.ledger.record_async(record)
        return latency_ms

    async def snapshot(self) -> BreakerSnapshot:
        """The breaker state every worker sees."""
        return await self.breaker.snapshot()

    async def aclose(self) -> None:
        """Write the ledger rows still buffered."""
        if self.ledger is not None:
            await self.ledger.aflush()

    async def __aenter__(self) -> SourceGuard:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


# Per-process reuse of connections and buffers (not of breaker/limit/cache state, which is in Redis).
_REDIS_BACKENDS: dict[tuple[str, str], RedisBackend] = {}
_LEDGERS: dict[str, CallLedger] = {}
#: The in-process fallback: without Redis, one process is the whole world, so its state is here.
_PROCESS_BACKEND = MemoryBackend()


def get_backend(redis_url: str | None = None, key_prefix: str = "kyc:") -> StateBackend:
    """The shared Redis backend for `redis_url` (default: settings), or the in-process fallback."""
    url = redis_url or get_settings().redis_url
    if not url:
        return _PROCESS_BACKEND
    backend = _REDIS_BACKENDS.get((url, key_prefix))
    if backend is None:
        backend = _REDIS_BACKENDS[(url, key_prefix)] = RedisBackend(url, key_prefix)
    return backend


def get_ledger(database_url: str | None = None) -> CallLedger:
    """This process's ledger for `database_url` (default: settings)."""
    url = database_url or get_settings().effective_database_url
    ledger = _LEDGERS.get(url)
    if ledger is None:
        ledger = _LEDGERS[url] = CallLedger(url)
    return ledger


def build_guard(
    source: str,
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
    context: CallContext | None = None,
    on_state_change: StateChangeCallback | None = None,
    config: SourceConfig | None = None,
    key_prefix: str = "kyc:",
) -> SourceGuard:
    """A guard for `source` with settings defaults: Redis when configured, the KYC database ledger."""
    return SourceGuard(
        source,
        backend=get_backend(redis_url, key_prefix),
        config=config or load_source_config(source),
        ledger=get_ledger(database_url),
        context=context,
        on_state_change=on_state_change,
    )
