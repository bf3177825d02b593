"""The call ledger: one `source_call` row per guarded call, buffered and bulk-inserted.

Rows are appended to an in-process buffer and written with one multi-row INSERT when the buffer
reaches `batch_size`, when `flush_interval_s` has passed since the last write (checked on the next
call), on `close()`, and at interpreter exit. A failed write keeps the rows for the next flush, so
a database hiccup slows nothing on the call path and loses no cost data unless the process dies.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert

from kyc_core.store.db import get_engine
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
        self._last_flush = time.monotonic()
        atexit.register(_flush_at_exit, weakref.ref(self))

    @property
    def pending(self) -> int:
        """Rows not yet written."""
        with self._buffer_lock:
            return len(self._buffer)

    def record(self, row: CallRecord) -> bool:
        """Buffer one row; True when a flush is due."""
        if row.outcome not in OUTCOMES:
            raise ValueError(f"unknown call outcome {row.outcome!r}")
        with self._buffer_lock:
            if len(self._buffer) >= self.max_buffer:
                # Bounded memory when the database stays down: the oldest rows go first, loudly.
                del self._buffer[0]
                logger.error("call ledger buffer full (%d rows): oldest row dropped", self.max_buffer)
            self._buffer.append(asdict(row))
            return self._due_locked()

    def _due_locked(self) -> bool:
        return len(self._buffer) >= self.batch_size or (
            bool(self._buffer) and time.monotonic() - self._last_flush >= self.flush_interval_s
        )

    def flush(self) -> int:
        """Write every buffered row in one INSERT; the number written. Raises if the database refuses."""
        with self._flush_lock:
            with self._buffer_lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            try:
                with get_engine(self.database_url).begin() as conn:
                    conn.execute(insert(SourceCall), rows)
            except Exception:
                with self._buffer_lock:
                    self._buffer[:0] = rows
                raise
            self._last_flush = time.monotonic()
            self.written += len(rows)
            return len(rows)

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
