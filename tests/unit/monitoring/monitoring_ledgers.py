"""A synthetic call ledger whose window figures are computed by hand in the tests that use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kyc_core.monitoring.windows import Row

NOW = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def synthetic() -> list[Row]:
    rows = []
    # Inside 15 min: 18 answers (latencies 100..1800), 2 failures (503 at 3000 ms, timeout at 10000 ms).
    for i in range(1, 19):
        rows.append(Row(at(i * 0.5), "ok", 100.0 * i, 200))
    rows.append(Row(at(10), "error", 3000.0, 503, "TransientSourceError"))
    rows.append(Row(at(11), "timeout", 10000.0, None, "TransientSourceError"))
    # Probes inside 15 min: one answer (50 ms), one failure (60 ms).
    rows.append(Row(at(2), "ok", 50.0, 200, operation="probe"))
    rows.append(Row(at(3), "error", 60.0, 502, "TransientSourceError", operation="probe"))
    # Not calls, and our own credentials: never in availability or p95.
    rows.append(Row(at(1), "cache_hit", 1.0, 200))
    rows.append(Row(at(1), "circuit_open", 0.1, None, "CircuitOpen"))
    rows.append(Row(at(4), "error", 20.0, 401, "SourceUnusable"))
    # Between 15 min and 1 h: 10 answers at 500 ms.
    for i in range(10):
        rows.append(Row(at(20 + i), "ok", 500.0, 200))
    # Exactly at the 15-minute boundary: inside (the window is [now - 15 min, now)).
    rows.append(Row(at(15), "ok", 400.0, 200))
    # At `now` itself: outside.
    rows.append(Row(NOW, "error", 9999.0, 500))
    return rows
