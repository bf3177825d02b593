"""Window arithmetic on synthetic ledgers, against values computed by hand."""

from __future__ import annotations

import pytest
from kyc_core.monitoring.windows import classify, nearest_rank, stats_from_rows
from monitoring_ledgers import NOW, synthetic


@pytest.mark.parametrize(
    ("outcome", "status", "error_class", "expected"),
    [
        ("ok", 200, None, "answer"),
        ("not_found", 404, "RecordNotFound", "answer"),
        ("error", 503, "TransientSourceError", "failure"),
        ("error", None, "MalformedResponse", "failure"),
        ("error", 429, "QuotaExceeded", "failure"),
        ("timeout", None, "TransientSourceError", "failure"),
        ("error", 401, "SourceUnusable", "auth"),
        ("error", 403, None, "auth"),
        ("cache_hit", 200, None, "excluded"),
        ("circuit_open", None, "CircuitOpen", "excluded"),
        ("rate_limited", None, "RateLimited", "excluded"),
    ],
)
def test_classification(outcome, status, error_class, expected):
    assert classify(outcome, status, error_class) == expected


def test_nearest_rank_p95():
    # 20 values 10..200: ceil(0.95 * 20) = 19th value = 190.
    assert nearest_rank([10.0 * i for i in range(20, 0, -1)]) == 190.0
    # 21 values: ceil(19.95) = 20th value.
    assert nearest_rank([float(i) for i in range(1, 22)]) == 20.0
    assert nearest_rank([7.0]) == 7.0
    assert nearest_rank([]) is None


def test_fifteen_minute_window_by_hand():
    s = stats_from_rows(synthetic(), NOW, 900)
    # answers: 18 + 1 probe + boundary 1 = 20; failures: 2 + 1 probe = 3; auth 1.
    assert (s.answers, s.failures, s.auth_failures, s.probes) == (20, 3, 1, 2)
    assert s.availability_pct == pytest.approx(100 * 20 / 23)
    # real calls: 18 + 2 + 1 auth + 1 boundary = 22, of which 2 failed.
    assert (s.real_calls, s.real_failures) == (22, 2)
    assert s.error_rate_pct == pytest.approx(100 * 2 / 22)
    # 24 latencies (answers, failures, auth): sorted 20, 50, 60, 100..1800 (18), 400, 3000, 10000 ->
    # ceil(0.95 * 24) = 23rd = 3000.
    assert s.calls == 24
    assert s.p95_ms == 3000.0


def test_one_hour_window_by_hand():
    s = stats_from_rows(synthetic(), NOW, 3600)
    assert (s.answers, s.failures) == (30, 3)
    assert s.availability_pct == pytest.approx(100 * 30 / 33)
    # 34 latencies: ceil(0.95 * 34) = 33rd of 34 = 3000 (10000 is the 34th).
    assert s.p95_ms == 3000.0


def test_empty_window_measures_nothing():
    s = stats_from_rows([], NOW, 900)
    assert s.availability_pct is None and s.error_rate_pct is None and s.p95_ms is None
