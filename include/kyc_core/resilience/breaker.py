"""Circuit breaker per source, its state held by the backend so every worker sees the same breaker.

closed: calls pass; consecutive failures are counted and reset by any answer (a "not found" is an
answer). open: calls fail fast with CircuitOpen until the reset timeout (or a quota's reset time).
half-open: exactly one probe call across all workers; its success closes, its failure reopens.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kyc_core.errors import CircuitOpen
from kyc_core.resilience.backend import BreakerSnapshot, StateBackend
from kyc_core.resilience.config import SourceConfig

logger = logging.getLogger(__name__)

#: Called on every state change with (source, old_state, new_state, reason); may be async.
StateChangeCallback = Callable[[str, str, str, str], Awaitable[None] | None]


@dataclass(frozen=True)
class Permit:
    """Permission for one attempt; `probe` marks the single half-open call."""

    token: str
    probe: bool


class CircuitBreaker:
    """One source's breaker over a shared backend."""

    def __init__(
        self,
        source: str,
        backend: StateBackend,
        config: SourceConfig,
        *,
        on_state_change: StateChangeCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.backend = backend
        self.config = config
        self.on_state_change = on_state_change
        # Wall clock, not monotonic: the open-until instant is compared across processes.
        self.clock = clock

    async def acquire(self) -> Permit:
        """A permit for one attempt, or CircuitOpen."""
        token = uuid.uuid4().hex
        admission = await self.backend.breaker_acquire(
            self.source, token, self.clock(), self.config.probe_timeout_s
        )
        if admission.transition:
            await self._report(*admission.transition, "reset timeout elapsed, one probe call allowed")
        if admission.verdict == "reject":
            retry_at = datetime.fromtimestamp(admission.retry_at, UTC) if admission.retry_at else None
            raise CircuitOpen(self.source, f"circuit {admission.state}", retry_at=retry_at)
        return Permit(token, admission.verdict == "probe")

    async def record_success(self, permit: Permit) -> None:
        """The source answered (including "not found")."""
        transition = await self.backend.breaker_success(self.source, permit.token)
        if transition:
            await self._report(*transition, "probe call succeeded")

    async def record_failure(self, permit: Permit, error_class: str) -> None:
        """The source failed in a way that counts toward opening."""
        transition = await self.backend.breaker_failure(
            self.source,
            permit.token,
            self.clock(),
            self.config.failure_threshold,
            self.config.reset_timeout_s,
        )
        if transition:
            reason = (
                f"probe call failed ({error_class})"
                if transition[0] == "half_open"
                else f"{self.config.failure_threshold} consecutive failures, last {error_class}"
            )
            await self._report(*transition, reason)

    async def release(self, permit: Permit) -> None:
        """Give back a probe slot that was not used to judge the source (e.g. refused by the rate limit)."""
        if permit.probe:
            await self.backend.breaker_release(self.source, permit.token)

    async def force_open(self, until: float, reason: str) -> None:
        """Open until at least `until` whatever the state (a spent quota)."""
        transition = await self.backend.breaker_force_open(self.source, until)
        if transition:
            await self._report(*transition, reason)

    async def snapshot(self) -> BreakerSnapshot:
        """The state as every worker sees it."""
        return await self.backend.breaker_snapshot(self.source)

    async def _report(self, old: str, new: str, reason: str) -> None:
        """Log the change and tell the owner (who writes the audit event); a failing callback is logged."""
        logger.warning("circuit breaker %s: %s -> %s (%s)", self.source, old, new, reason)
        if self.on_state_change is None:
            return
        try:
            result = self.on_state_change(self.source, old, new, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # The transition already happened for every worker; failing this call would not undo it.
            logger.exception("circuit breaker %s: state change callback failed", self.source)
