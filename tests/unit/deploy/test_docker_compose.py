"""docker-compose.yaml agrees with the code (no Docker engine needed: the file is parsed and checked)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"]


def _env(name: str) -> dict[str, str]:
    """A service's environment as compose builds it: its env files in order, then its `environment` entries."""
    from dotenv import dotenv_values

    env: dict[str, str] = {}
    for path in SERVICES[name].get("env_file", []):
        env.update({k: v for k, v in dotenv_values(REPO / path).items() if v is not None})
    env.update(SERVICES[name].get("environment") or {})
    return env


def _code_files():
    for root in ("include", "plugins", "dags"):
        yield from (REPO / root).rglob("*.py")


def _connection_ids_in_code() -> set[str]:
    found = set()
    for path in _code_files():
        text = path.read_text()
        found |= set(re.findall(r'default_conn_name = "([a-z0-9_]+)"', text))
        found |= set(re.findall(r'conn_id="([a-z0-9_]+)"', text))
    return found


def test_every_component_is_there():
    expected = {"postgres", "redis", "emulator", "mailpit", "airflow-init", *AIRFLOW_SERVICES}
    assert expected <= set(SERVICES)


def test_celery_executor_with_scalable_workers():
    for name in AIRFLOW_SERVICES:
        env = _env(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    worker = SERVICES["airflow-worker"]
    assert worker["command"] == "celery worker"
    # --scale needs no fixed container name or host port.
    assert "container_name" not in worker and "ports" not in worker


def test_init_migrates_both_databases_first():
    command = " ".join(SERVICES["airflow-init"]["command"])
    assert "airflow db migrate" in command and "kyc db upgrade" in command
    for name in AIRFLOW_SERVICES:
        assert SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_code_is_mounted(name):
    mounts = {v.split(":")[0] for v in SERVICES[name]["volumes"]}
    assert {"./dags", "./plugins", "./include"} <= mounts
    for source in mounts:
        assert (REPO / source).exists(), source


def test_every_connection_and_setting_the_code_reads_is_configured():
    env = _env("airflow-worker")
    conn_ids = _connection_ids_in_code()
    assert {"kyc_db", "kyc_sirene", "kyc_rne", "kyc_bodacc"} <= conn_ids
    for conn_id in conn_ids:
        value = env.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        assert value, f"connection {conn_id} is not configured"
        assert json.loads(value)["conn_type"]
    assert env["KYC_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["KYC_REDIS_URL"].startswith("redis://redis:")
    # The KYC store is its own database, never Airflow's metadata database.
    assert env["KYC_DATABASE_URL"].rsplit("/", 1)[1] != env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]


def test_emulator_service_uses_the_cli():
    command = SERVICES["emulator"]["command"]
    assert command[:3] == ["kyc", "emulator", "serve"]
    host_urls = [json.loads(v)["host"] for k, v in _env("airflow-worker").items() if k.startswith("AIRFLOW_CONN_KYC_") and "host" in json.loads(v)]
    assert any(url.startswith("http://emulator:8090/") for url in host_urls)


def test_database_init_creates_the_kyc_database_and_app_role():
    sql = (REPO / "docker" / "postgres-init.sql").read_text()
    assert "CREATE DATABASE kyc" in sql and "CREATE USER kyc_app" in sql
    assert "grant-app-role kyc_app" in " ".join(SERVICES["airflow-init"]["command"])
