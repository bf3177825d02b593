"""Retries with exponential backoff and full jitter, for transient source errors only.

tenacity's `AsyncRetrying` fits the async call path as is: its `sleep` is injectable (tests
record the delays instead of waiting) and `wait_random_exponential` is the "full jitter" schedule:
attempt n waits uniformly in [0, min(cap, initial * 2**(n-1))].
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from kyc_core.errors import SourceError
from kyc_core.resilience.config import SourceConfig

Sleep = Callable[[float], Awaitable[None]]


def is_retryable(exc: BaseException) -> bool:
    """Only errors marked retryable (5xx, timeouts, connection errors, malformed bodies) are retried."""
    return isinstance(exc, SourceError) and exc.retryable


def retrying(config: SourceConfig, *, sleep: Sleep = asyncio.sleep) -> AsyncRetrying:
    """The retry loop of one call; re-raises the last error itself, never a RetryError."""
    return AsyncRetrying(
        stop=stop_after_attempt(config.retry_attempts),
        wait=wait_random_exponential(multiplier=config.retry_initial_s, max=config.retry_max_s),
        retry=retry_if_exception(is_retryable),
        sleep=sleep,
        reraise=True,
    )
