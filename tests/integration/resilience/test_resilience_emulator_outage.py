"""A Sirene outage on the local emulator opens the shared breaker for every worker; recovery closes it."""

from __future__ import annotations

import multiprocessing

import pytest
import resilience_workers
from kyc_core.store.db import get_engine
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from kyc_dev.emulator.faults import FaultSpec
from kyc_dev.emulator.server import EmulatorConfig, base_urls, credentials, start_emulator_in_thread
from sqlalchemy import select

pytestmark = pytest.mark.redis

SPAWN = multiprocessing.get_context("spawn")


def in_process(name: str, *args):
    """Run one worker in a fresh spawned interpreter and return its result."""
    results = SPAWN.Queue()
    proc = SPAWN.Process(target=resilience_workers.entry, args=(results, 0, name, args))
    proc.start()
    _, value = results.get(timeout=90)
    proc.join(timeout=30)
    assert proc.exitcode == 0, value
    return value


@pytest.fixture
def emulator():
    running = start_emulator_in_thread(config=EmulatorConfig(companies=20, seed=3, quotas={}))
    yield running
    running.stop()


def sirene_requests(emulator) -> int:
    return emulator.state.stats.snapshot().get("sirene", {}).get("requests", 0)


def test_outage_opens_the_breaker_in_every_worker_and_recovery_closes_it(emulator, redis_url, sqlite_url):
    url, prefix = redis_url
    upgrade(sqlite_url)
    target = {
        "base_url": base_urls(emulator.root)["sirene"],
        "api_key": credentials(emulator.state.config)["sirene"]["api_key"],
        "siren": emulator.state.dataset.siren(0),
    }
    config = {"failure_threshold": 3, "reset_timeout_s": 600, "retry_attempts": 2, "retry_initial_s": 0.01}

    emulator.state.faults.set("sirene", FaultSpec(outage="503"))
    first = in_process("sirene_lookups", url, prefix, config, target, 3, sqlite_url)
    requests_during_outage = sirene_requests(emulator)
    second = in_process("sirene_lookups", url, prefix, config, target, 2, sqlite_url)
    requests_after_second = sirene_requests(emulator)

    emulator.state.faults.clear("sirene")
    # Later workers' clocks run past the reset timeout instead of the test waiting for it.
    probe = in_process("sirene_lookups", url, prefix, config, target, 1, sqlite_url, 601.0)
    cached = in_process("sirene_lookups", url, prefix, config, target, 1, sqlite_url, 602.0)

    # Call 1: two failed attempts; call 2: the third failure opens, its retry is refused; call 3: refused.
    assert first == {"outcomes": ["transient", "transient", "circuit_open"], "changes": [("closed", "open")]}
    assert requests_during_outage == 3
    assert second == {"outcomes": ["circuit_open", "circuit_open"], "changes": []}
    assert requests_after_second == 3
    assert probe == {"outcomes": ["live"], "changes": [("open", "half_open"), ("half_open", "closed")]}
    assert cached == {"outcomes": ["cached"], "changes": []}
    assert sirene_requests(emulator) == 4

    with get_engine(sqlite_url).connect() as conn:
        rows = list(conn.execute(select(SourceCall.__table__).order_by(SourceCall.started_at, SourceCall.id)))
    assert [(r.outcome, r.attempts, r.http_status) for r in rows] == [
        ("error", 2, 503),
        ("error", 1, 503),
        ("circuit_open", 0, None),
        ("circuit_open", 0, None),
        ("circuit_open", 0, None),
        ("ok", 1, 200),
        ("cache_hit", 0, 200),
    ]
    assert {r.operation for r in rows} == {"legal_unit"} and all(r.cost == 0 for r in rows)
