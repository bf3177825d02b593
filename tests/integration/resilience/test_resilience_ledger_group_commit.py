"""Paid rows are committed before `write_now` returns, and concurrent callers share commits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from kyc_core.resilience import CallLedger, CallRecord
from kyc_core.store.db import session_scope
from kyc_core.store.models import SourceCall
from sqlalchemy import select


def test_every_caller_returns_with_its_row_committed_and_commits_are_shared(store):
    ledger = CallLedger(store, batch_size=1000, flush_interval_s=3600)
    flushes: list[int] = []
    lock = threading.Lock()
    original = ledger.flush

    def counted() -> int:
        written = original()
        with lock:
            flushes.append(written)
        return written

    ledger.flush = counted  # type: ignore[method-assign]
    missing: list[str] = []

    def one(n: int) -> None:
        key = f"req-{n}"
        ledger.write_now(CallRecord("rne", "company", datetime.now(UTC), 1.0, "ok", cost=0.02, request_key=key))
        with session_scope(store) as s:
            if s.scalar(select(SourceCall.id).where(SourceCall.request_key == key)) is None:
                missing.append(key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(120)))
    assert missing == []
    assert sum(flushes) == 120 and ledger.pending == 0
    # Callers whose row another flush committed did not commit again.
    assert len([n for n in flushes if n]) < 120
