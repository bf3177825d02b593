"""Breaker and rate limit shared between OS processes through the real Redis (each process is spawned)."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import resilience_workers
from kyc_core.store.db import get_engine
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from sqlalchemy import select

pytestmark = pytest.mark.redis

SPAWN = multiprocessing.get_context("spawn")


def run_processes(jobs: list[tuple[str, tuple]], *, timeout: float = 90) -> list:
    """Run each (worker name, args) in its own spawned process at once; their results in order."""
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=resilience_workers.entry, args=(results, i, name, args))
        for i, (name, args) in enumerate(jobs)
    ]
    for proc in procs:
        proc.start()
    collected = {}
    deadline = time.monotonic() + timeout
    while len(collected) < len(procs):
        index, value = results.get(timeout=max(1.0, deadline - time.monotonic()))
        collected[index] = value
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0, collected
    return [collected[i] for i in range(len(procs))]


def one(name: str, *args):
    return run_processes([(name, args)])[0]


def test_failures_in_one_process_open_the_breaker_for_another_and_recovery_closes_it(redis_url):
    url, prefix = redis_url
    config = {"failure_threshold": 5, "reset_timeout_s": 600.0, "retry_attempts": 1}

    opened = one("fail_calls", url, prefix, config, 5)
    blocked = one("try_call", url, prefix, config)
    # The reset timeout elapses for the next worker: its clock runs 601 s ahead instead of the test waiting.
    probe = one("try_call", url, prefix, config, 601.0)
    after = one("try_call", url, prefix, config)

    assert opened == [("closed", "open")]
    assert blocked == {"outcome": "circuit_open", "fetched": 0, "changes": []}
    assert probe == {
        "outcome": "ok",
        "fetched": 1,
        "changes": [("open", "half_open"), ("half_open", "closed")],
    }
    assert after == {"outcome": "ok", "fetched": 1, "changes": []}


def test_exactly_one_probe_across_racing_processes(redis_url):
    url, prefix = redis_url
    # A long probe lease: nobody reports, so the single probe stays in flight for the whole race.
    config = {"failure_threshold": 1, "reset_timeout_s": 0.5, "probe_timeout_s": 300, "retry_attempts": 1}
    assert one("fail_calls", url, prefix, config, 1) == [("closed", "open")]
    time.sleep(0.6)

    processes, tasks = 4, 25
    barrier = SPAWN.Barrier(processes)
    results = run_processes([("race_for_probe", (url, prefix, config, tasks, barrier))] * processes)

    verdicts = [v for per_process in results for v in per_process]
    assert len(verdicts) == processes * tasks
    assert verdicts.count("probe") == 1
    assert verdicts.count("refused") == processes * tasks - 1


def test_rate_limit_holds_across_two_processes(redis_url, db_url):
    url, prefix = redis_url
    upgrade(db_url)
    limit, window = 4, 2
    config = {"rate_limit": limit, "rate_window_s": window, "rate_max_wait_s": 30, "retry_attempts": 1}
    barrier = SPAWN.Barrier(2)
    calls = 5

    stamps_a, stamps_b = run_processes([("hammer", (url, prefix, config, calls, barrier, db_url))] * 2)

    stamps = sorted(stamps_a + stamps_b)
    assert len(stamps_a) == len(stamps_b) == calls
    # 10 calls at 4 per 2 s: calls 5-8 wait one window, calls 9-10 a second one. A per-process limiter
    # would let both processes run 4 calls at once and finish within the first window.
    assert stamps[-1] - stamps[0] >= 2 * window - 0.5
    # No span shorter than the window holds more than the limit (0.5 s of slack for a loaded machine).
    span = window - 0.5
    busiest = max(sum(1 for t in stamps if start <= t < start + span) for start in stamps)
    assert busiest <= limit
    with get_engine(db_url).connect() as conn:
        outcomes = [r.outcome for r in conn.execute(select(SourceCall.__table__))]
    assert outcomes == ["ok"] * (2 * calls)
