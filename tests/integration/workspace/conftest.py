"""Fixtures: real cases in a real KYC database, and the workspace behind Airflow's own auth manager."""

from __future__ import annotations

import pytest
from seeding import seed_cases


@pytest.fixture(scope="module")
def airflow_db():
    """Airflow's metadata database: the DAG permission check looks up the DAG's team there."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def cases(store, emulator, load_lists) -> dict[str, dict]:
    """Approve, reject (two reviewers), EDD and an outage review, assessed by the core."""
    load_lists()
    return seed_cases(store, emulator)


@pytest.fixture
def auth(airflow_db):
    """Airflow's configured auth manager, initialised as the api-server does; mints tokens per user."""
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = init_auth_manager()

    def token(username: str, role: str | None) -> str:
        return manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))

    yield token
    purge_cached_app()


@pytest.fixture
def workspace(auth, store, redis_url):
    """A client of the workspace app reading the test database and the test's Redis key prefix."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from kyc_airflow.workspace.app import URL_PREFIX, WorkspaceConfig, create_app

    url, prefix = redis_url
    root = FastAPI()
    root.mount(URL_PREFIX, create_app(WorkspaceConfig(database_url=store, redis_url=url, key_prefix=prefix)))
    with TestClient(root) as client:
        yield client
