"""Fixtures: one quota-free emulator per module, a fresh embedded KYC database and state per test."""

from __future__ import annotations

import pytest
from kyc_core.registry import RegistryEndpoints
from kyc_core.resilience import CallLedger, MemoryBackend
from kyc_core.store.migrate import upgrade
from kyc_dev.emulator.server import EmulatorConfig, credentials, start_emulator_in_thread

COMPANIES = 120
SEED = 11
#: Fast retries and a low breaker threshold so fault scenarios finish in well under a second.
FAST = {"*": {"retry_attempts": 2, "retry_initial_s": 0.01, "retry_max_s": 0.02, "failure_threshold": 2}}


@pytest.fixture(scope="module")
def emulator():
    """A quota-free emulator shared by one module; faults and counters reset after each test."""
    config = EmulatorConfig(companies=COMPANIES, seed=SEED, quotas={})
    running = start_emulator_in_thread(config=config)
    running.config = config
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _clean_emulator(request):
    yield
    if "emulator" in request.fixturenames:
        running = request.getfixturevalue("emulator")
        running.state.faults.clear()
        running.state.stats.reset()


@pytest.fixture
def endpoints(emulator) -> RegistryEndpoints:
    """Endpoints of the emulator with the account entitled to beneficial owners."""
    return RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.config))


@pytest.fixture
def kyc_db(sqlite_url) -> str:
    """An embedded KYC database at the current schema."""
    upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def options(kyc_db):
    """Fetch options isolating breaker/cache state and the ledger to this test."""
    return {
        "database_url": kyc_db,
        "backend": MemoryBackend(),
        "ledger": CallLedger(kyc_db),
        "source_config": FAST,
    }
