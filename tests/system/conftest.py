"""Fixtures shared by the DAG tests: Airflow's metadata database and the connections a worker would have."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def airflow_db():
    """Airflow's metadata database (the test process's throwaway SQLite file), migrated."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def emulator_connections(emulator, monkeypatch):
    """Point the KYC connections at a KYC database and the emulator's registers, as `AIRFLOW_CONN_*` variables."""
    from kyc_dev.emulator.server import credentials

    def connect(store: str) -> None:
        creds = credentials(emulator.state.config)
        account = next(a for a in creds["rne"] if a["beneficial_owners"])
        connections = {
            "KYC_DB": {"conn_type": "kyc_database", "extra": {"url": store}},
            "KYC_SIRENE": {"conn_type": "insee_sirene", "host": emulator.urls["sirene"],
                           "password": creds["sirene"]["api_key"]},
            "KYC_RNE": {"conn_type": "inpi_rne", "host": emulator.urls["rne"], "login": account["username"],
                        "password": account["password"], "extra": {"rbe_entitled": True}},
            "KYC_BODACC": {"conn_type": "bodacc", "host": emulator.urls["bodacc"]},
        }
        for name, value in connections.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(value))

    return connect
