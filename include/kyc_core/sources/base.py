"""What every registry client shares: the fetched-result wrapper and the hook for the resilience layer."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from kyc_core.errors import UserError

T = TypeVar("T")
M = TypeVar("M")


@dataclass(frozen=True)
class Fetched(Generic[M]):
    """One HTTP answer: the parsed model and the exact bytes received, for raw snapshots."""

    model: M
    raw: bytes
    http_status: int
    url: str = ""
    #: Set by a cache layer when the answer did not come from the network.
    from_cache: bool = False

    @property
    def content_hash(self) -> str:
        """SHA-256 of the raw payload, the key of a stored snapshot."""
        return hashlib.sha256(self.raw).hexdigest()

    def cached(self) -> Fetched[M]:
        """The same answer marked as served from a cache."""
        return replace(self, from_cache=True)


@dataclass(frozen=True)
class FetchedPages(Generic[M]):
    """A multi-page answer: the combined model and every page as it was received."""

    model: M
    pages: tuple[Fetched[Any], ...]
    #: The source's own count of matching records (may exceed what was fetched when capped).
    total: int | None = None

    @property
    def http_status(self) -> int:
        """Status of the last page (all pages succeeded, or an error was raised)."""
        return self.pages[-1].http_status if self.pages else 0

    @property
    def from_cache(self) -> bool:
        """True only when every page came from a cache."""
        return bool(self.pages) and all(p.from_cache for p in self.pages)


class SourceGuard(Protocol):
    """The resilience layer's entry point (breaker, rate limit, retries, cache, ledger) for one source."""

    async def call(
        self,
        operation: str,
        request_key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        decode: Callable[[bytes, int | None], T] | None = None,
    ) -> Any:
        """Run `fetch` (one HTTP attempt per invocation) under the source's protections.

        Returns the fetch result itself, or a wrapper exposing it as `.value` with a `.from_cache`
        flag; `decode` rebuilds a result from a cached raw body and status.
        """
        ...


def unwrap(outcome: Any) -> Any:
    """The Fetched answer inside a guard's outcome, marked when it was served from cache."""
    if isinstance(outcome, (Fetched, FetchedPages)):
        return outcome
    value = getattr(outcome, "value", None)
    if isinstance(value, Fetched):
        return value.cached() if getattr(outcome, "from_cache", False) else value
    raise TypeError(f"guard returned {type(outcome).__name__}, not a fetched answer")


def decoder(parse: Callable[[Any], M]) -> Callable[[bytes, int | None], Fetched[M]]:
    """A `decode` for the guard's cache: re-parse a stored body exactly as a live answer is parsed."""

    def decode(raw: bytes, http_status: int | None) -> Fetched[M]:
        return Fetched(parse(json.loads(raw)), raw, http_status or 200)

    return decode


class BaseClient:
    """Shared plumbing: one aiohttp session passed in, bounded concurrency, optional guard."""

    #: Source name used in errors, the ledger and the breaker key.
    source: str = ""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        guard: SourceGuard | None = None,
        max_concurrency: int = 4,
        timeout_s: float = 20.0,
        semaphore: asyncio.Semaphore | None = None,
    ):
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._guard = guard
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._semaphore = semaphore or asyncio.Semaphore(max_concurrency)

    def url(self, path: str) -> str:
        """Absolute URL of a path relative to the configured base URL."""
        return f"{self.base_url}/{path.lstrip('/')}"

    async def _guarded(
        self,
        operation: str,
        request_key: str,
        fetch: Callable[[], Awaitable[Fetched[M]]],
        parse: Callable[[Any], M],
        guard: SourceGuard | None = None,
    ) -> Fetched[M]:
        """Hand the single-attempt `fetch` to the guard (with a cache decoder), or run it once."""
        guard = guard or self._guard
        if guard is None:
            return await fetch()
        return unwrap(await guard.call(operation, request_key, fetch, decode=decoder(parse)))


def checked_siren(value: str) -> str:
    """A SIREN with spaces removed, or UserError when it fails the Luhn check."""
    try:
        return stdnum_siren.validate(value)
    except ValidationError as exc:
        raise UserError(f"invalid SIREN {value!r}: {exc}") from exc


#: La Poste's establishments are numbered outside the Luhn rule, and some real ones (e.g.
#: 35600000000345) fail even the digit-sum exception that stdnum applies to them.
LA_POSTE_SIREN = "356000000"


def checked_siret(value: str) -> str:
    """A SIRET with spaces removed, or UserError when it fails the check that applies to it."""
    compact = stdnum_siret.compact(value)
    if compact.isdigit() and len(compact) == 14 and compact.startswith(LA_POSTE_SIREN):
        return compact
    try:
        return stdnum_siret.validate(compact)
    except ValidationError as exc:
        raise UserError(f"invalid SIRET {value!r}: {exc}") from exc
