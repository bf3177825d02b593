"""Per-source resilience settings: breaker, rate limit, retries, cache TTL and price tiers.

Defaults follow the design document (breaker 5 failures / 60 s, retries 3 from 1 s capped at 60 s,
Sirene 30 requests per minute, TTLs RNE 24 h, RBE 7 d, Sirene and BODACC 1 d, sanctions lists 1 h,
INPI RNE 0.02 EUR then 0.015 past 50k a month, RBE 0.05 then 0.03 past 20k, BODACC 0.01).
Every field can be overridden per source from a dict or from the JSON environment variable
``KYC_SOURCE_CONFIG``, e.g. ``{"sirene": {"rate_limit": 10}, "*": {"retry_initial_s": 0.5}}``
(``"*"`` applies to every source, a named source wins over it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from kyc_core.errors import UserError

HOUR = 3600.0
DAY = 24 * HOUR

#: Environment variable holding JSON overrides, keyed by source name (or "*" for all).
ENV_VAR = "KYC_SOURCE_CONFIG"


@dataclass(frozen=True)
class PriceTier:
    """Price of each request of the month once more than `after` requests were made this month."""

    after: int
    price_eur: float


@dataclass(frozen=True)
class SourceConfig:
    """Resilience and cost settings of one source."""

    # Consecutive failures (transient errors, quota) that open the breaker.
    failure_threshold: int = 5
    # How long the breaker stays open before one probe call is let through.
    reset_timeout_s: float = 60.0
    # Lease of the single half-open probe: a worker that dies mid-probe frees it after this long.
    # Longer than a rate-limit wait plus one request, so a live probe never loses its lease.
    probe_timeout_s: float = 120.0
    # Requests allowed per window across every worker; None means no local limit.
    rate_limit: int | None = None
    # Length of the moving rate-limit window in whole seconds (the limits library counts seconds).
    rate_window_s: int = 60
    # How long a call may wait for a rate-limit slot before failing with RateLimited.
    rate_max_wait_s: float = 30.0
    # Total tries of one call (first attempt included) for retryable errors.
    retry_attempts: int = 3
    # First backoff window; each retry draws uniformly in [0, initial * 2**n] ("full jitter").
    retry_initial_s: float = 1.0
    # Upper bound of any backoff window.
    retry_max_s: float = 60.0
    # How long a successful answer is served from cache; 0 disables caching.
    cache_ttl_s: float = DAY
    # How long a "not found" answer is served from cache; 0 never caches it.
    not_found_ttl_s: float = 0.0
    # Read the cache before calling (saves paid requests); False calls first and uses
    # the cache only when the source cannot be called (breaker open, rate limited).
    prefer_cache: bool = True
    # Monthly price tiers, ascending by `after`; empty means free.
    price_tiers: tuple[PriceTier, ...] = field(default_factory=tuple)

    @property
    def is_paid(self) -> bool:
        """Whether any request of this source costs money."""
        return any(tier.price_eur > 0 for tier in self.price_tiers)

    def price_of(self, nth_this_month: int) -> float:
        """Price in EUR of the n-th billable request of the month (1-based)."""
        price = 0.0
        for tier in sorted(self.price_tiers, key=lambda t: t.after):
            if nth_this_month > tier.after:
                price = tier.price_eur
        return price


DEFAULTS: dict[str, SourceConfig] = {
    # INSEE documents 30 requests per minute per application for Sirene 3.11.
    "sirene": SourceConfig(rate_limit=30, rate_window_s=60, cache_ttl_s=DAY),
    "rne": SourceConfig(
        cache_ttl_s=DAY, price_tiers=(PriceTier(0, 0.02), PriceTier(50_000, 0.015)), not_found_ttl_s=HOUR
    ),
    "rbe": SourceConfig(cache_ttl_s=7 * DAY, price_tiers=(PriceTier(0, 0.05), PriceTier(20_000, 0.03))),
    "bodacc": SourceConfig(cache_ttl_s=DAY, price_tiers=(PriceTier(0, 0.01),)),
    # recherche-entreprises documents 7 requests per second.
    "recherche": SourceConfig(rate_limit=7, rate_window_s=1, cache_ttl_s=DAY),
    # A sanctions list must never be served older than an hour: designations apply immediately.
    "ofac": SourceConfig(cache_ttl_s=HOUR),
    "eu": SourceConfig(cache_ttl_s=HOUR),
    "un": SourceConfig(cache_ttl_s=HOUR),
}

_FIELDS = {f.name for f in fields(SourceConfig)}


def _tiers(value: Any) -> tuple[PriceTier, ...]:
    """Price tiers from [[after, price], ...] or [{"after": n, "price_eur": p}, ...]."""
    tiers = []
    for item in value:
        if isinstance(item, PriceTier):
            tiers.append(item)
        elif isinstance(item, Mapping):
            tiers.append(PriceTier(int(item["after"]), float(item["price_eur"])))
        else:
            after, price = item
            tiers.append(PriceTier(int(after), float(price)))
    return tuple(sorted(tiers, key=lambda t: t.after))


def apply_overrides(base: SourceConfig, overrides: Mapping[str, Any], *, source: str = "") -> SourceConfig:
    """A copy of `base` with the given fields replaced; unknown fields are a configuration error."""
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise UserError(
            f"unknown source config field(s) for {source or 'source'}: {', '.join(sorted(unknown))}"
        )
    changes = dict(overrides)
    if "price_tiers" in changes:
        changes["price_tiers"] = _tiers(changes["price_tiers"])
    config = replace(base, **changes)
    validate(config, source)
    return config


def validate(config: SourceConfig, source: str = "") -> None:
    """Refuse settings that would disable a safety net by accident."""
    where = f" for {source}" if source else ""
    if config.failure_threshold < 1:
        raise UserError(f"failure_threshold must be >= 1{where}")
    if config.retry_attempts < 1:
        raise UserError(f"retry_attempts must be >= 1{where}")
    if config.rate_limit is not None and (config.rate_limit < 1 or config.rate_window_s < 1):
        raise UserError(f"rate_limit and rate_window_s must be >= 1{where}")
    if min(config.reset_timeout_s, config.probe_timeout_s, config.cache_ttl_s, config.not_found_ttl_s) < 0:
        raise UserError(f"durations must not be negative{where}")


def _env_overrides() -> dict[str, Any]:
    """The parsed `KYC_SOURCE_CONFIG` JSON, or nothing."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{ENV_VAR} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict):
        raise UserError(f"{ENV_VAR} must be a JSON object keyed by source name")
    return data


def load_source_config(source: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> SourceConfig:
    """Defaults for `source`, then `KYC_SOURCE_CONFIG`, then `overrides` (same shape: {source|"*": {...}})."""
    config = DEFAULTS.get(source, SourceConfig())
    for layer in (_env_overrides(), overrides or {}):
        for key in ("*", source):
            if key in layer:
                config = apply_overrides(config, layer[key], source=source)
    return config
