"""Resilience shared by every worker process: circuit breaker, rate limit, retries, cache, call ledger."""

from kyc_core.resilience.backend import (
    BreakerSnapshot,
    MemoryBackend,
    RedisBackend,
    StateBackend,
    make_backend,
)
from kyc_core.resilience.breaker import CircuitBreaker
from kyc_core.resilience.config import PriceTier, SourceConfig, load_source_config
from kyc_core.resilience.guard import (
    BytesCodec,
    Guarded,
    JsonCodec,
    SourceGuard,
    build_guard,
    get_backend,
    get_ledger,
)
from kyc_core.resilience.infra import InfrastructureUnavailable
from kyc_core.resilience.ledger import CallContext, CallLedger, CallRecord

__all__ = [
    "BreakerSnapshot",
    "BytesCodec",
    "CallContext",
    "CallLedger",
    "CallRecord",
    "CircuitBreaker",
    "Guarded",
    "InfrastructureUnavailable",
    "JsonCodec",
    "MemoryBackend",
    "PriceTier",
    "RedisBackend",
    "SourceConfig",
    "SourceGuard",
    "StateBackend",
    "build_guard",
    "get_backend",
    "get_ledger",
    "load_source_config",
    "make_backend",
]
