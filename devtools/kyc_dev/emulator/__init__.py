"""Local emulator of every source (Sirene, RNE, BODACC, recherche-entreprises, OFAC/UN/EU lists).

Serves the real wire formats on the real paths from a deterministic generated dataset, with runtime
fault injection. See README.md beside this file for base URLs, credentials and the admin API.
"""

from kyc_dev.emulator.dataset import Company, Dataset, KnownHomonym, KnownPositive
from kyc_dev.emulator.server import (
    EmulatorConfig,
    RunningEmulator,
    base_urls,
    create_app,
    run_emulator,
    start_emulator_in_thread,
)

__all__ = [
    "Company",
    "Dataset",
    "EmulatorConfig",
    "KnownHomonym",
    "KnownPositive",
    "RunningEmulator",
    "base_urls",
    "create_app",
    "run_emulator",
    "start_emulator_in_thread",
]
