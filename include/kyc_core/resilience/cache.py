"""Response cache keyed by source + operation + hashed request key, with its own freshness check.

An entry is one byte string: a JSON header line (format version, HTTP status, stored-at epoch
seconds, not-found flag) then the payload bytes verbatim. Freshness is decided from the stored-at
time against the TTL the caller asks for, so the backend's own expiry is only garbage collection.
Only answers are stored: successes, and "not found" when the source's `not_found_ttl_s` allows it;
errors and malformed bodies never reach the cache (the guard stores after a successful parse only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from kyc_core.resilience.backend import StateBackend

_VERSION = 1


def request_hash(source: str, operation: str, request_key: str) -> str:
    """Stable key of one request; what the ledger and the cache store instead of the raw key."""
    return hashlib.sha256(f"{source}\x1f{operation}\x1f{request_key}".encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer."""

    payload: bytes
    http_status: int | None
    stored_at: float
    not_found: bool = False

    def age(self, now: float) -> float:
        """Seconds since it was stored."""
        return now - self.stored_at


def encode_entry(entry: CacheEntry) -> bytes:
    """Header line + payload."""
    header = {"v": _VERSION, "s": entry.http_status, "t": entry.stored_at, "nf": entry.not_found}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + entry.payload


def decode_entry(blob: bytes) -> CacheEntry | None:
    """The entry, or None for anything unreadable (treated as a miss, never as an answer)."""
    head, sep, payload = blob.partition(b"\n")
    if not sep:
        return None
    try:
        header = json.loads(head)
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("v") != _VERSION:
        return None
    return CacheEntry(payload, header.get("s"), float(header.get("t", 0)), bool(header.get("nf")))


class ResponseCache:
    """One source's slice of the shared cache."""

    def __init__(self, source: str, backend: StateBackend) -> None:
        self.source = source
        self.backend = backend

    def key(self, operation: str, req_hash: str) -> str:
        """Backend key (the backend adds its prefix)."""
        return f"{self.source}:{operation}:{req_hash}"

    async def get(self, operation: str, req_hash: str, *, now: float, max_age_s: float) -> CacheEntry | None:
        """A stored entry no older than `max_age_s`, else None."""
        if max_age_s <= 0:
            return None
        blob = await self.backend.cache_get(self.key(operation, req_hash))
        if blob is None:
            return None
        entry = decode_entry(blob)
        if entry is None or entry.age(now) > max_age_s or entry.age(now) < -60:
            return None
        return entry

    async def put(self, operation: str, req_hash: str, entry: CacheEntry, ttl_s: float) -> None:
        """Store `entry` for `ttl_s` seconds; a zero TTL stores nothing."""
        if ttl_s <= 0:
            return
        await self.backend.cache_set(self.key(operation, req_hash), encode_entry(entry), ttl_s)
