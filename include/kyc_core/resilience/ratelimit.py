"""Rate limit per source across every worker: the `limits` library's moving window.

The library is used rather than a hand-written Lua token bucket because its Redis moving window
is already one Lua script per hit (check and record in a single atomic step), so two processes
can never both take the last slot.

The moving window (a Lua check-and-push on Redis) admits at most `limit` calls in any `window_s`
span, which is what a per-minute API quota means; a fixed window would allow twice the limit
around a window boundary. A refused caller sleeps until the oldest call leaves the window, then
tries again, for at most `max_wait_s`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from kyc_core.errors import RateLimited
from kyc_core.resilience.backend import StateBackend

Sleep = Callable[[float], Awaitable[None]]

#: Small random extra wait so workers refused together do not all retry in the same millisecond.
_SPREAD_S = 0.05


class RateLimiter:
    """Waits for a slot of one source's shared moving window."""

    def __init__(
        self,
        source: str,
        backend: StateBackend,
        limit: int | None,
        window_s: int,
        max_wait_s: float,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.backend = backend
        self.limit = limit
        self.window_s = window_s
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        # The limits library stamps window entries with time.time(); waits must be measured on the same clock.
        self.clock = clock

    async def acquire(self) -> float:
        """Take a slot, waiting if needed; the seconds waited, or RateLimited past `max_wait_s`."""
        if self.limit is None:
            return 0.0
        waited = 0.0
        while True:
            allowed, free_at = await self.backend.rate_hit(self.source, self.limit, self.window_s)
            if allowed:
                return waited
            delay = max(0.001, free_at - self.clock()) + random.uniform(0, _SPREAD_S)
            if waited + delay > self.max_wait_s:
                raise RateLimited(
                    self.source,
                    f"rate limit {self.limit}/{self.window_s}s: no slot within {self.max_wait_s:g}s",
                )
            await self.sleep(delay)
            waited += delay
