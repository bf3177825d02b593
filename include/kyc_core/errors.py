"""Error classes that operators and DAGs act on; every layer raises these, never bare exceptions."""

from __future__ import annotations

from datetime import datetime


class KycError(Exception):
    """Base of every error the product raises on purpose."""


class UserError(KycError):
    """Bad input from a person (argument, file, configuration): reported in one line, no traceback."""


class StoreUnavailable(UserError):
    """The KYC database cannot be reached or is not at the expected schema."""


class SourceError(KycError):
    """A call to an external source did not give a usable answer."""

    #: Whether a retry may help (transient network/server trouble).
    retryable = False
    #: Whether the failure counts toward opening the circuit breaker.
    counts_as_failure = False

    def __init__(self, source: str, message: str, *, operation: str | None = None, http_status: int | None = None):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.operation = operation
        self.http_status = http_status


class RecordNotFound(SourceError):
    """The source answered that the record does not exist: an answer, not a failure."""


class SourceUnusable(SourceError):
    """Credentials or configuration are wrong (401/403, bad base URL): fail now, never retry."""


class TransientSourceError(SourceError):
    """5xx, timeout, connection error, malformed body: retried with backoff, counts toward the breaker."""

    retryable = True
    counts_as_failure = True


class MalformedResponse(TransientSourceError):
    """The body could not be parsed (HTML error page, truncated, bad JSON, wrong content type)."""


class QuotaExceeded(SourceError):
    """The source's quota is spent: the breaker stays open until `reset_at`."""

    counts_as_failure = True

    def __init__(self, source: str, message: str, *, reset_at: datetime | None = None, **kwargs):
        super().__init__(source, message, **kwargs)
        self.reset_at = reset_at


class CircuitOpen(SourceError):
    """The source's breaker is open: no call was made."""

    def __init__(self, source: str, message: str = "circuit open", *, retry_at: datetime | None = None, **kwargs):
        super().__init__(source, message, **kwargs)
        self.retry_at = retry_at


class RateLimited(SourceError):
    """The local rate limiter refused the call within the allowed wait."""
