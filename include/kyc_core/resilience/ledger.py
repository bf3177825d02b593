"""The call ledger: one `source_call` row per guarded call, buffered and bulk-inserted.

Rows are appended to an in-process buffer and written with one multi-row INSERT when the buffer
reaches `batch_size`, when `flush_interval_s` has passed since the last write (checked on the next
call), on `close()`, and at interpreter exit. A failed write keeps the rows for the next flush, so
a database hiccup slows nothing on the call path and loses no cost data unless the process dies.

A paid answer is not buffered: `write_now` commits it (with whatever is buffered) before the guard
caches or returns it, so a process killed right after a paid call still has it on record; when the
KYC database refuses, the call fails with `InfrastructureUnavailable` naming it and the answer is not
used. The first write that succeeds after a failed one appends an `infrastructure_unavailable` audit
event naming the KYC database (when the outage began, when writes resumed, how many rows waited).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import insert

from kyc_core.resilience.infra import KYC_DATABASE, InfrastructureUnavailable, database_unavailable
from kyc_core.store.db import session_scope
from kyc_core.store.models import SourceCall

logger = logging.getLogger(__name__)

OUTCOMES = ("ok", "not_found", "error", "timeout", "circuit_open", "rate_limited", "cache_hit")


@dataclass(frozen=True)
class CallContext:
    """Which pipeline run and task made the calls (Airflow run_id and task_id, or a CLI label)."""

    run_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class CallRecord:
    """One row of `source_call`; `request_key` is a hash, never the raw key."""

    source: str
    operation: str
    started_at: datetime
    latency_ms: float
    outcome: str
    http_status: int | None = None
    cost: float = 0.0
    cache_hit: bool = False
    attempts: int = 1
    error_class: str | None = None
    request_key: str | None = None
    run_id: str | None = None
    task_id: str | None = None


class CallLedger:
    """Buffered writer of `source_call` rows to the KYC database."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        batch_size: int = 200,
        flush_interval_s: float = 5.0,
        max_buffer: int = 100_000,
    ) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max_buffer
        self.written = 0
        self._buffer: list[dict] = []
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # Group commit of paid rows: every row gets a sequence number; a flush that succeeds commits every
        # row numbered up to what it took, so a caller whose row another flush committed just returns.
        self._seq = 0
        self._committed_seq = 0
        self._flushing = False
        self._committed = threading.Condition()
        self._last_flush = time.monotonic()
        # Set while writes fail: (first failure time, error class); audited by the first write that succeeds.
        self._outage: tuple[datetime, str] | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    @property
    def pending(self) -> int:
        """Rows not yet written."""
        with self._buffer_lock:
            return len(self._buffer)

    def record(self, row: CallRecord) -> bool:
        """Buffer one row; True when a flush is due."""
        return self._append(row)[0]

    def _append(self, row: CallRecord) -> tuple[bool, int]:
        """Buffer one row; (flush due, its sequence number)."""
        if row.outcome not in OUTCOMES:
            raise ValueError(f"unknown call outcome {row.outcome!r}")
        with self._buffer_lock:
            if len(self._buffer) >= self.max_buffer:
                # Bounded memory when the database stays down: the oldest rows go first, loudly.
                del self._buffer[0]
                logger.error("call ledger buffer full (%d rows): oldest row dropped", self.max_buffer)
            self._buffer.append(asdict(row))
            self._seq += 1
            return self._due_locked(), self._seq

    def _due_locked(self) -> bool:
        return len(self._buffer) >= self.batch_size or (
            bool(self._buffer) and time.monotonic() - self._last_flush >= self.flush_interval_s
        )

    def flush(self) -> int:
        """Write every buffered row in one INSERT; the number written. Raises if the database refuses."""
        with self._flush_lock:
            with self._buffer_lock:
                rows, self._buffer = self._buffer, []
                taken_up_to = self._seq
            if not rows:
                return 0
            try:
                with session_scope(self.database_url) as session:
                    session.execute(insert(SourceCall), rows)
                    if self._outage is not None:
                        self._audit_recovery(session, len(rows))
            except Exception as exc:
                with self._buffer_lock:
                    self._buffer[:0] = rows
                if self._outage is None and database_unavailable(exc, "ledger") is not None:
                    self._outage = (datetime.now(UTC), type(exc).__name__)
                raise
            self._outage = None
            self._last_flush = time.monotonic()
            self.written += len(rows)
            with self._committed:
                self._committed_seq = max(self._committed_seq, taken_up_to)
            return len(rows)

    def _audit_recovery(self, session, rows: int) -> None:
        """The outage of the KYC database this ledger lived through, as an audit event in the write that ended it."""
        from kyc_core.resilience.infra import record_infrastructure_event

        assert self._outage is not None
        since, error_class = self._outage
        record_infrastructure_event(
            session,
            InfrastructureUnavailable(KYC_DATABASE, "ledger", error_class=error_class),
            actor="kyc:ledger",
            detail={"since": since.isoformat(), "resumed_at": datetime.now(UTC).isoformat(), "rows_delayed": rows},
        )

    def write_now(self, row: CallRecord) -> int:
        """Commit `row` (with whatever is buffered) before returning; rows this call wrote (0: another flush did).

        Concurrent callers share commits: while one flush runs, the rows of the others wait for the next
        one. InfrastructureUnavailable (rows kept for the next flush) when the database refuses.
        """
        _due, seq = self._append(row)
        with self._committed:
            while self._committed_seq < seq and self._flushing:
                self._committed.wait()
            if self._committed_seq >= seq:
                return 0
            self._flushing = True
        try:
            return self.flush()
        except Exception as exc:
            fault = database_unavailable(exc, "ledger")
            if fault is None:
                raise
            logger.error("call ledger: KYC database unavailable (%s), %d rows kept", type(exc).__name__, self.pending)
            raise fault from exc
        finally:
            with self._committed:
                self._flushing = False
                self._committed.notify_all()

    async def record_async(self, row: CallRecord) -> None:
        """Buffer one row and, when due, flush in a worker thread; a failed flush is logged, rows kept."""
        if self.record(row):
            try:
                await asyncio.to_thread(self.flush)
            except Exception as exc:
                logger.warning(
                    "call ledger flush failed, %d rows kept for retry: %s", self.pending, type(exc).__name__
                )

    async def aflush(self) -> int:
        """`flush` off the event loop."""
        return await asyncio.to_thread(self.flush)

    def close(self) -> None:
        """Write what is left (raises if the database refuses)."""
        self.flush()


def _flush_at_exit(ref: weakref.ref[CallLedger]) -> None:
    """Last chance for rows of a ledger nobody closed (an Airflow task process ending)."""
    ledger = ref()
    if ledger is None or not ledger.pending:
        return
    try:
        ledger.flush()
    except Exception as exc:
        logger.error("call ledger: %d rows lost at exit: %s", ledger.pending, type(exc).__name__)
