"""Shared fixtures: real-data location, real Postgres and Redis with per-run isolation."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KYC_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Airflow reads its config at import: give the test process a throwaway home before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="kyc-airflow-test-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME}/airflow.db")

PG_ADMIN_URL = os.environ.get("KYC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(what: str, why: str) -> None:
    """Fail under CI (a missing service is a broken build), skip with the reason locally."""
    message = f"{what} unavailable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message}: skipped locally")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample files in ../shared/data (read in place, never copied)."""
    if not (SHARED_DATA / "real").is_dir():
        _unavailable("real sample data", f"{SHARED_DATA}/real does not exist; set KYC_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the real PostgreSQL server's maintenance database."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means the service is not usable
        _unavailable("PostgreSQL at " + PG_ADMIN_URL, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"kyc_test_{uuid.uuid4().hex[:12]}"
    plain = pg_admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_admin_url.rsplit("/", 1)[0] + "/" + name
    yield url
    from kyc_core.store.db import dispose_engines

    dispose_engines()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh embedded database file for one test."""
    return f"sqlite:///{tmp_path / 'kyc.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Run the test on both supported databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def redis_url():
    """The real Redis, with a key prefix unique to this test; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis at " + REDIS_URL, str(exc))
    prefix = f"kyctest:{uuid.uuid4().hex[:10]}:"
    yield REDIS_URL, prefix
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    client.close()


# --- the local source emulator and a KYC database with the emulator's lists ---------------------------

#: Retries stay on, their backoff shrinks to milliseconds.
FAST_RETRIES = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}


@pytest.fixture
def emulator() -> Iterator:
    """The local source emulator (300 companies, no quotas) on an ephemeral loopback port."""
    from kyc_dev.emulator import EmulatorConfig, start_emulator_in_thread

    with start_emulator_in_thread(config=EmulatorConfig(companies=300, quotas={})) as running:
        yield running


@pytest.fixture
def store(db_url: str) -> str:
    """A migrated KYC database (SQLite and PostgreSQL)."""
    from kyc_core.store.migrate import upgrade

    upgrade(db_url)
    return db_url


@pytest.fixture
def sources(emulator) -> dict:
    """The default lists, under the emulator's `/lists` base URL."""
    from kyc_core.lists.sources import DEFAULT_LIST_KEYS, resolve_source

    return {key: resolve_source(key, emulator.root + "/lists") for key in DEFAULT_LIST_KEYS}


@pytest.fixture
def make_guard(store: str):
    """Guards with their own breaker state per source, writing ledger rows to the test database."""
    from kyc_core.resilience import CallLedger, MemoryBackend, SourceGuard, load_source_config

    backend = MemoryBackend()

    def make(source: str) -> SourceGuard:
        return SourceGuard(
            source, backend=backend, config=load_source_config(source, FAST_RETRIES), ledger=CallLedger(store)
        )

    return make


@pytest.fixture
def load_lists(store: str, sources, make_guard):
    """Download and activate the emulator's OFAC, UN and EU lists (the version it serves now)."""
    from kyc_core.lists.refresh import refresh_list

    def run() -> dict[str, str]:
        return {key: refresh_list(src, database_url=store, guard=make_guard(src.source), actor="test").status
                for key, src in sources.items()}

    return run
