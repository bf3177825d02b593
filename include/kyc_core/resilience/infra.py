"""Faults of our own infrastructure (Redis, the KYC database), told apart from the registers' failures.

A register that does not answer is the register's fault: its breaker counts it and the decision says
`source_unavailable`. Redis (the shared breaker, rate-limit and cache state) or the KYC database
being unreachable says nothing about any register: it must trip no breaker, leave no failed
`source_call` row and be reported as `infrastructure_unavailable`, naming the component, so that
on-call is alerted about the right thing. Decisions still fail closed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from kyc_core.errors import KycError, StoreUnavailable

#: The components an infrastructure fault can name (never a register).
REDIS = "redis"
KYC_DATABASE = "kyc_database"
COMPONENTS = (REDIS, KYC_DATABASE)

#: The reason code and source-check detail of a register not consulted because of our infrastructure.
INFRASTRUCTURE_UNAVAILABLE = "infrastructure_unavailable"

P = ParamSpec("P")
R = TypeVar("R")


class InfrastructureUnavailable(KycError):
    """Redis or the KYC database could not be used; no register is to blame and nothing may be approved on it."""

    def __init__(self, component: str, operation: str, *, error_class: str | None = None) -> None:
        if component not in COMPONENTS:
            raise ValueError(f"unknown infrastructure component {component!r}")
        super().__init__(f"{component} unavailable during {operation}" + (f" ({error_class})" if error_class else ""))
        self.component = component
        self.operation = operation
        self.error_class = error_class

    def payload(self) -> dict[str, str | None]:
        """What an audit event records: the component, the operation and the error class (no data)."""
        return {"component": self.component, "operation": self.operation, "error_class": self.error_class}


def is_redis_failure(exc: BaseException) -> bool:
    """Whether `exc` says the Redis server could not be used (connection, timeout, server error)."""
    from limits.errors import StorageError
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | StorageError | OSError)


def is_database_failure(exc: BaseException) -> bool:
    """Whether `exc` says the KYC database could not be used (unreachable, refused, connection lost)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, StoreUnavailable | OperationalError | InterfaceError | PoolTimeout | OSError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def redis_operation(
    operation: str,
) -> Callable[[Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]], Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]]:
    """Decorate a Redis backend method: a Redis failure becomes :class:`InfrastructureUnavailable` naming redis."""

    def wrap(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def inner(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(self, *args, **kwargs)
            except InfrastructureUnavailable:
                raise
            except Exception as exc:
                if is_redis_failure(exc):
                    raise InfrastructureUnavailable(REDIS, operation, error_class=type(exc).__name__) from exc
                raise

        return inner

    return wrap


def database_unavailable(exc: BaseException, operation: str) -> InfrastructureUnavailable | None:
    """The infrastructure error naming the KYC database when `exc` is one, else None."""
    if isinstance(exc, InfrastructureUnavailable):
        return exc
    if is_database_failure(exc):
        return InfrastructureUnavailable(KYC_DATABASE, operation, error_class=type(exc).__name__)
    return None


def record_infrastructure_event(
    session: Any,
    fault: InfrastructureUnavailable,
    *,
    actor: str,
    run_id: str | None = None,
    customer_id: str | None = None,
    detail: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Append one `infrastructure_unavailable` audit event naming the component (in the caller's transaction)."""
    from kyc_core.store.audit import EventType, append_event

    append_event(
        session,
        EventType.INFRASTRUCTURE_UNAVAILABLE,
        actor=actor,
        run_id=run_id,
        customer_id=customer_id,
        payload={**fault.payload(), **(detail or {})},
        idempotency_key=idempotency_key,
    )
