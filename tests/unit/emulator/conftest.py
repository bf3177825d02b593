"""Fixtures: an emulator on an ephemeral loopback port, stopped after use."""

from __future__ import annotations

import pytest
from kyc_dev.emulator.server import EmulatorConfig, start_emulator_in_thread

COMPANIES = 300
SEED = 7


@pytest.fixture(scope="module")
def emulator():
    """A quota-free emulator shared by one test module (faults are cleared after each test)."""
    running = start_emulator_in_thread(config=EmulatorConfig(companies=COMPANIES, seed=SEED, quotas={}))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    """Tests that set faults on the shared emulator never leak them into the next test."""
    yield
    if "emulator" in request.fixturenames:
        running = request.getfixturevalue("emulator")
        running.state.faults.clear()
        running.state.stats.reset()


@pytest.fixture
def dataset(emulator):
    """The dataset the shared emulator serves."""
    return emulator.state.dataset
