"""Where breaker, rate-limit, cache and usage state lives: Redis (shared by every worker) or this process.

Each Airflow task try is its own process, so with Redis nothing here is kept in the Python object
except the connection: every breaker transition is one Lua script (atomic across workers), the rate
limit is the `limits` library's moving window (itself a Lua script on Redis), cache entries and
monthly usage counters are plain keys. All keys start with the configured prefix. A Redis failure
is raised as `InfrastructureUnavailable` naming redis, never as an error of the source being called.

Without a Redis URL (the zero-setup demo) :class:`MemoryBackend` keeps the same state in this
process only, under a lock, with the same transitions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter as SyncMovingWindow

from kyc_core.resilience.infra import is_redis_failure, redis_operation

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

#: Monthly usage counters outlive their month a little so a late cost report can still read them.
USAGE_TTL_S = 40 * 24 * 3600


@dataclass(frozen=True)
class Admission:
    """The breaker's answer to "may I call?": allow (closed), probe (the single half-open call) or reject."""

    verdict: str
    state: str
    retry_at: float | None = None
    transition: tuple[str, str] | None = None


@dataclass(frozen=True)
class BreakerSnapshot:
    """Current breaker state of one source, for monitoring and tests."""

    state: str
    failures: int
    open_until: float | None


class StateBackend(Protocol):
    """Operations the guard needs; each one is atomic across every process sharing the backend."""

    async def breaker_acquire(
        self, source: str, token: str, now: float, probe_lease_s: float
    ) -> Admission: ...

    async def breaker_success(self, source: str, token: str) -> tuple[str, str] | None: ...

    async def breaker_failure(
        self, source: str, token: str, now: float, threshold: int, reset_timeout_s: float
    ) -> tuple[str, str] | None: ...

    async def breaker_force_open(self, source: str, until: float) -> tuple[str, str] | None: ...

    async def breaker_release(self, source: str, token: str) -> None: ...

    async def breaker_snapshot(self, source: str) -> BreakerSnapshot: ...

    async def rate_hit(self, source: str, limit: int, window_s: int) -> tuple[bool, float]: ...

    async def cache_get(self, key: str) -> bytes | None: ...

    async def cache_set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def incr_usage(self, source: str, month: str) -> int: ...

    async def get_usage(self, source: str, month: str) -> int: ...

    async def aclose(self) -> None: ...


def rate_item(limit: int, window_s: int) -> RateLimitItemPerSecond:
    """The `limits` item for `limit` requests per `window_s` seconds."""
    return RateLimitItemPerSecond(limit, window_s)


# --- Redis -----------------------------------------------------------------------------------------

# KEYS[1] breaker hash; ARGV now, token, probe lease. Returns verdict, state, retry_at, previous state.
_ACQUIRE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'probe_until')
local state = h[1] or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return {'allow', 'closed', '', ''} end
if state == 'open' then
  local open_until = tonumber(h[2]) or 0
  if now < open_until then return {'reject', 'open', h[2], ''} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_token', ARGV[2], 'probe_until', tostring(now + tonumber(ARGV[3])))
  return {'probe', 'half_open', '', 'open'}
end
local probe_until = tonumber(h[3]) or 0
if now < probe_until then return {'reject', 'half_open', h[3], ''} end
redis.call('HSET', KEYS[1], 'probe_token', ARGV[2], 'probe_until', tostring(now + tonumber(ARGV[3])))
return {'probe', 'half_open', '', ''}
"""

# KEYS[1] breaker hash; ARGV token. Returns {old, new} on a transition, {} otherwise.
_SUCCESS = """
local h = redis.call('HMGET', KEYS[1], 'state', 'probe_token')
local state = h[1] or 'closed'
if state == 'half_open' then
  if h[2] == ARGV[1] then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'open_until', 0, 'probe_token', '', 'probe_until', 0)
    return {'half_open', 'closed'}
  end
  return {}
end
if state == 'closed' then redis.call('HSET', KEYS[1], 'failures', 0) end
return {}
"""

# KEYS[1] breaker hash; ARGV token, now, threshold, reset timeout.
_FAILURE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'probe_token')
local state = h[1] or 'closed'
local now = tonumber(ARGV[2])
if state == 'half_open' then
  if h[2] == ARGV[1] then
    redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', tostring(now + tonumber(ARGV[4])), 'probe_token', '', 'probe_until', 0)
    return {'half_open', 'open'}
  end
  return {}
end
if state == 'open' then return {} end
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if n >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', tostring(now + tonumber(ARGV[4])))
  return {'closed', 'open'}
end
return {}
"""

# KEYS[1] breaker hash; ARGV until. Opens (or keeps open) until at least `until`.
_FORCE_OPEN = """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until')
local state = h[1] or 'closed'
local until_ = tonumber(ARGV[1])
if state == 'open' and (tonumber(h[2]) or 0) >= until_ then return {} end
redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', ARGV[1], 'probe_token', '', 'probe_until', 0)
return {state, 'open'}
"""

# KEYS[1] breaker hash; ARGV token. Frees the probe slot without judging the source.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'probe_token') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'probe_token', '', 'probe_until', 0)
end
return 1
"""


def _text(value: bytes | str | None) -> str:
    """Redis replies as text."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _transition(reply) -> tuple[str, str] | None:
    """A Lua {old, new} reply as a tuple, or None when nothing changed."""
    if not reply:
        return None
    return _text(reply[0]), _text(reply[1])


def limits_uri(redis_url: str) -> str:
    """The `limits` async storage URI for a redis-py URL."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class _LoopBound:
    """Redis clients of one event loop: redis.asyncio connections cannot cross loops."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self.acquire = self.client.register_script(_ACQUIRE)
        self.success = self.client.register_script(_SUCCESS)
        self.failure = self.client.register_script(_FAILURE)
        self.force_open = self.client.register_script(_FORCE_OPEN)
        self.release = self.client.register_script(_RELEASE)
        self.limits_storage = RedisStorage(
            limits_uri(url), implementation="redispy", key_prefix=prefix + "ratelimit"
        )
        self.limiter = MovingWindowRateLimiter(self.limits_storage)


class RedisBackend:
    """State shared through Redis by every worker process; keys under `prefix`."""

    def __init__(self, url: str, prefix: str = "kyc:") -> None:
        self.url = url
        self.prefix = prefix
        self._bound: _LoopBound | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _io(self) -> _LoopBound:
        """Clients for the running loop, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        if self._bound is None or self._loop is not loop:
            self._bound = _LoopBound(self.url, self.prefix)
            self._loop = loop
        return self._bound

    def breaker_key(self, source: str) -> str:
        """Redis hash holding one source's breaker."""
        return f"{self.prefix}breaker:{source}"

    @redis_operation("breaker")
    async def breaker_acquire(self, source: str, token: str, now: float, probe_lease_s: float) -> Admission:
        """Admit, admit as the probe, or reject, in one atomic step."""
        reply = await self._io().acquire(
            keys=[self.breaker_key(source)], args=[repr(now), token, repr(probe_lease_s)]
        )
        verdict, state, retry_at, previous = (_text(part) for part in reply)
        return Admission(
            verdict=verdict,
            state=state,
            retry_at=float(retry_at) if retry_at else None,
            transition=(previous, state) if previous else None,
        )

    @redis_operation("breaker")
    async def breaker_success(self, source: str, token: str) -> tuple[str, str] | None:
        """Reset the failure count; close the breaker when `token` is the probe."""
        return _transition(await self._io().success(keys=[self.breaker_key(source)], args=[token]))

    @redis_operation("breaker")
    async def breaker_failure(
        self, source: str, token: str, now: float, threshold: int, reset_timeout_s: float
    ) -> tuple[str, str] | None:
        """Count a failure; open at the threshold, or reopen when `token` is the failed probe."""
        args: list[str | int] = [token, repr(now), threshold, repr(reset_timeout_s)]
        return _transition(await self._io().failure(keys=[self.breaker_key(source)], args=args))

    @redis_operation("breaker")
    async def breaker_force_open(self, source: str, until: float) -> tuple[str, str] | None:
        """Open until at least `until` (a spent quota)."""
        return _transition(await self._io().force_open(keys=[self.breaker_key(source)], args=[repr(until)]))

    @redis_operation("breaker")
    async def breaker_release(self, source: str, token: str) -> None:
        """Free the probe slot held by `token` without judging the source."""
        await self._io().release(keys=[self.breaker_key(source)], args=[token])

    @redis_operation("breaker")
    async def breaker_snapshot(self, source: str) -> BreakerSnapshot:
        """Current state as stored."""
        raw = await self._io().client.hgetall(self.breaker_key(source))
        data = {_text(k): _text(v) for k, v in raw.items()}
        open_until = float(data.get("open_until") or 0) or None
        return BreakerSnapshot(data.get("state", CLOSED), int(data.get("failures") or 0), open_until)

    @redis_operation("rate_limit")
    async def rate_hit(self, source: str, limit: int, window_s: int) -> tuple[bool, float]:
        """Take one slot of the moving window; when refused, also when the oldest slot frees."""
        io = self._io()
        item = rate_item(limit, window_s)
        if await io.limiter.hit(item, source):
            return True, 0.0
        stats = await io.limiter.get_window_stats(item, source)
        return False, float(stats.reset_time)

    @redis_operation("cache")
    async def cache_get(self, key: str) -> bytes | None:
        """Stored bytes or None."""
        value = await self._io().client.get(self.prefix + "cache:" + key)
        return value.encode() if isinstance(value, str) else value

    @redis_operation("cache")
    async def cache_set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store bytes for `ttl_s` seconds."""
        await self._io().client.set(self.prefix + "cache:" + key, value, px=max(1, int(ttl_s * 1000)))

    @redis_operation("usage")
    async def incr_usage(self, source: str, month: str) -> int:
        """Count one billable request this month; the new count."""
        key = f"{self.prefix}usage:{source}:{month}"
        pipe = self._io().client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, USAGE_TTL_S)
        count, _ = await pipe.execute()
        return int(count)

    @redis_operation("usage")
    async def get_usage(self, source: str, month: str) -> int:
        """Billable requests counted this month."""
        value = await self._io().client.get(f"{self.prefix}usage:{source}:{month}")
        return int(value or 0)

    async def aclose(self) -> None:
        """Close the connections of the current loop."""
        if self._bound is not None and self._loop is asyncio.get_running_loop():
            try:
                await self._bound.client.aclose()
            except Exception as exc:  # noqa: BLE001 - a dead server leaves nothing to close cleanly
                if not is_redis_failure(exc):
                    raise
        self._bound = None
        self._loop = None


# --- In-process fallback ---------------------------------------------------------------------------


@dataclass
class _Breaker:
    state: str = CLOSED
    failures: int = 0
    open_until: float = 0.0
    probe_token: str = ""
    probe_until: float = 0.0


class MemoryBackend:
    """The same state and transitions in this process only (no Redis configured)."""

    def __init__(self, max_cache_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, _Breaker] = {}
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._usage: dict[tuple[str, str], int] = {}
        self._max_cache_entries = max_cache_entries
        from limits.storage import MemoryStorage

        # The synchronous limits storage: its state is not tied to one event loop, and each hit is a
        # few list operations under its own lock, cheap enough to run on the loop.
        self._limiter = SyncMovingWindow(MemoryStorage())

    def _breaker(self, source: str) -> _Breaker:
        return self._breakers.setdefault(source, _Breaker())

    async def breaker_acquire(self, source: str, token: str, now: float, probe_lease_s: float) -> Admission:
        """Admit, admit as the probe, or reject."""
        with self._lock:
            b = self._breaker(source)
            if b.state == CLOSED:
                return Admission("allow", CLOSED)
            if b.state == OPEN:
                if now < b.open_until:
                    return Admission("reject", OPEN, retry_at=b.open_until)
                b.state, b.probe_token, b.probe_until = HALF_OPEN, token, now + probe_lease_s
                return Admission("probe", HALF_OPEN, transition=(OPEN, HALF_OPEN))
            if now < b.probe_until:
                return Admission("reject", HALF_OPEN, retry_at=b.probe_until)
            b.probe_token, b.probe_until = token, now + probe_lease_s
            return Admission("probe", HALF_OPEN)

    async def breaker_success(self, source: str, token: str) -> tuple[str, str] | None:
        """Reset the failure count; close the breaker when `token` is the probe."""
        with self._lock:
            b = self._breaker(source)
            if b.state == HALF_OPEN:
                if b.probe_token == token:
                    self._breakers[source] = _Breaker()
                    return HALF_OPEN, CLOSED
                return None
            if b.state == CLOSED:
                b.failures = 0
            return None

    async def breaker_failure(
        self, source: str, token: str, now: float, threshold: int, reset_timeout_s: float
    ) -> tuple[str, str] | None:
        """Count a failure; open at the threshold, or reopen when `token` is the failed probe."""
        with self._lock:
            b = self._breaker(source)
            if b.state == HALF_OPEN:
                if b.probe_token == token:
                    b.state, b.open_until, b.probe_token, b.probe_until = OPEN, now + reset_timeout_s, "", 0.0
                    return HALF_OPEN, OPEN
                return None
            if b.state == OPEN:
                return None
            b.failures += 1
            if b.failures >= threshold:
                b.state, b.open_until = OPEN, now + reset_timeout_s
                return CLOSED, OPEN
            return None

    async def breaker_force_open(self, source: str, until: float) -> tuple[str, str] | None:
        """Open until at least `until`."""
        with self._lock:
            b = self._breaker(source)
            if b.state == OPEN and b.open_until >= until:
                return None
            old = b.state
            b.state, b.open_until, b.probe_token, b.probe_until = OPEN, until, "", 0.0
            return old, OPEN

    async def breaker_release(self, source: str, token: str) -> None:
        """Free the probe slot held by `token`."""
        with self._lock:
            b = self._breaker(source)
            if b.probe_token == token:
                b.probe_token, b.probe_until = "", 0.0

    async def breaker_snapshot(self, source: str) -> BreakerSnapshot:
        """Current state."""
        with self._lock:
            b = self._breaker(source)
            return BreakerSnapshot(b.state, b.failures, b.open_until or None)

    async def rate_hit(self, source: str, limit: int, window_s: int) -> tuple[bool, float]:
        """Take one slot of the moving window; when refused, also when the oldest slot frees."""
        item = rate_item(limit, window_s)
        if self._limiter.hit(item, source):
            return True, 0.0
        return False, float(self._limiter.get_window_stats(item, source).reset_time)

    async def cache_get(self, key: str) -> bytes | None:
        """Stored bytes or None."""
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return entry[1]

    async def cache_set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store bytes for `ttl_s` seconds, evicting the least recently used beyond the size bound."""
        with self._lock:
            self._cache[key] = (time.monotonic() + ttl_s, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_cache_entries:
                self._cache.popitem(last=False)

    async def incr_usage(self, source: str, month: str) -> int:
        """Count one billable request this month; the new count."""
        with self._lock:
            count = self._usage.get((source, month), 0) + 1
            self._usage[(source, month)] = count
            return count

    async def get_usage(self, source: str, month: str) -> int:
        """Billable requests counted this month."""
        with self._lock:
            return self._usage.get((source, month), 0)

    async def aclose(self) -> None:
        """Nothing to close."""


def make_backend(redis_url: str | None, prefix: str = "kyc:") -> RedisBackend | MemoryBackend:
    """Redis when a URL is given, a fresh in-process backend otherwise."""
    return RedisBackend(redis_url, prefix) if redis_url else MemoryBackend()
