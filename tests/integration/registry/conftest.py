"""Fixtures: the source emulator on an ephemeral loopback port, driven over its admin API like in production."""

from __future__ import annotations

import json
import urllib.request

import pytest
from kyc_core.registry import RegistryEndpoints
from kyc_dev.emulator.server import EmulatorConfig, credentials, start_emulator_in_thread

COMPANIES = 80
SEED = 5


class Admin:
    """The emulator's `/_admin` API over HTTP (faults, request counters)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") + "/_admin"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}

    def set_faults(self, source: str, **spec) -> None:
        """Replace one source's faults."""
        self._call("POST", "/faults", {"source": source, **spec})

    def clear_faults(self, source: str | None = None) -> None:
        """Remove the faults of one source, or of all."""
        self._call("DELETE", "/faults" + (f"?source={source}" if source else ""))

    def requests(self) -> dict[str, int]:
        """Requests that reached the emulator, per source."""
        return {source: s["requests"] for source, s in self._call("GET", "/stats").items()}

    def reset_stats(self) -> None:
        """Forget every counter."""
        self._call("DELETE", "/stats")


@pytest.fixture(scope="module")
def emulator():
    """A quota-free emulator shared by one module."""
    config = EmulatorConfig(companies=COMPANIES, seed=SEED, quotas={})
    running = start_emulator_in_thread(config=config)
    running.config = config
    yield running
    running.stop()


@pytest.fixture
def admin(emulator):
    """The admin API of the shared emulator, with faults and counters reset around each test."""
    api = Admin(emulator.root)
    api.clear_faults()
    api.reset_stats()
    yield api
    api.clear_faults()


@pytest.fixture
def endpoints(emulator) -> RegistryEndpoints:
    """Endpoints of the emulator with the account entitled to beneficial owners."""
    return RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.config))
