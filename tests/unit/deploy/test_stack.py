"""`make stack` and docker compose are one deployment: same settings file, same init, a Dockerfile built from the lock."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = ["airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"]
ENV_FILE = "docker/airflow.env"
#: Compose service addresses the stack replaces with local ones.
SERVICE_ADDRESSES = ("postgres:5432", "redis:6379", "emulator:8090", "mailpit", "airflow-apiserver:8080", "localhost:8080")
#: Container paths the stack replaces with paths of the checkout.
PATH_SETTINGS = {"AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"}


def _load_stack(monkeypatch, **env: str):
    for key in ("STACK_DATABASE_SUFFIX", "STACK_BROKER_DB", "STACK_PORT", "STACK_EMULATOR_PORT", "STACK_SMTP_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("stack_script", REPO / "scripts" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings(path: str) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(REPO / path).items() if v is not None}


def _make_var(name: str) -> str:
    found = re.search(rf"^{name}\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), flags=re.M)
    assert found, name
    return found.group(1)


def test_the_image_installs_every_package_from_the_lock():
    dockerfile = (REPO / "Dockerfile").read_text()
    run_lines = " ".join(line for line in dockerfile.replace("\\\n", " ").splitlines() if line.startswith("RUN"))
    assert "uv.lock" in dockerfile.split("uv export", 1)[0], "uv.lock must be copied before it is exported"
    assert re.search(r"uv export --frozen\b", run_lines) and "--no-dev" in run_lines
    assert "--require-hashes" in run_lines
    # The project itself adds nothing the lock did not pin.
    for install in re.findall(r"pip install[^&]*-e [^&]*", run_lines):
        assert "--no-deps" in install, install
    assert f'UV_VERSION={_make_var("UV_VERSION")}' in dockerfile, "the image's uv is not the Makefile's"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_every_airflow_service_reads_the_shared_settings_file(name):
    files = SERVICES[name].get("env_file")
    assert files and files[0] == ENV_FILE, name
    # The file is the one source: a service's own `environment` holds only the deployment's secrets.
    own = set(SERVICES[name].get("environment") or {})
    assert own <= {"AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"}, own


def test_only_the_init_step_sees_the_schema_owner():
    assert SERVICES["airflow-init"]["env_file"] == [ENV_FILE, "docker/init.env"]
    owner = urlsplit(_settings("docker/init.env")["KYC_DATABASE_URL"])
    shared = _settings(ENV_FILE)
    task_role = urlsplit(json.loads(shared["AIRFLOW_CONN_KYC_DB"])["extra"]["url"])
    assert owner.username != task_role.username and owner.path == task_role.path
    assert urlsplit(shared["KYC_DATABASE_URL"]).username == task_role.username
    assert f"grant-app-role {task_role.username}" in SERVICES["airflow-init"]["command"][-1]
    sql = (REPO / "docker" / "postgres-init.sql").read_text()
    assert f"CREATE USER {owner.username} " in sql and f"CREATE USER {task_role.username} " in sql
    assert f"CREATE DATABASE {owner.path.strip('/')} OWNER {owner.username}" in sql


def test_the_settings_file_reads_alike_in_compose_and_python():
    for line in (REPO / ENV_FILE).read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            assert not value.startswith(("'", '"')) and " #" not in value, f"quotes or an inline comment: {line}"


def test_compose_declares_scalable_celery_workers():
    worker = SERVICES["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert "container_name" not in worker and "ports" not in worker
    assert "--scale airflow-worker=" in (REPO / "docker-compose.yaml").read_text()
    assert _settings(ENV_FILE)["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_the_stack_runs_the_compose_settings_with_local_addresses(monkeypatch):
    stack = _load_stack(monkeypatch)
    shared = _settings(ENV_FILE)
    env = stack.stack_env("airflow.env")
    for key, value in shared.items():
        assert key in env, key
        if key in PATH_SETTINGS:
            assert env[key].startswith(str(REPO)), key
        elif any(address in value for address in SERVICE_ADDRESSES):
            assert not any(address in env[key] for address in SERVICE_ADDRESSES), (key, env[key])
        else:
            assert env[key] == value, key
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/2"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:airflow@127.0.0.1:5432/airflow"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{stack.PORT}/execution/"
    smtp = json.loads(env["AIRFLOW_CONN_KYC_SMTP"])
    assert (smtp["host"], smtp["port"]) == ("127.0.0.1", stack.SMTP_PORT)
    assert json.loads(env["AIRFLOW_CONN_KYC_SIRENE"])["host"] == f"http://127.0.0.1:{stack.EMULATOR_PORT}/sirene"
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    # The init step migrates as the schema owner; every other process connects as the task role.
    init = stack.stack_env("airflow.env", "init.env")
    assert urlsplit(init["KYC_DATABASE_URL"]).username == "kyc"
    assert urlsplit(env["KYC_DATABASE_URL"]).username == "kyc_app"


def test_a_second_stack_gets_its_own_databases_and_broker(monkeypatch, tmp_path):
    stack = _load_stack(monkeypatch, STACK_DATABASE_SUFFIX="_t1", STACK_BROKER_DB="3", STACK_HOME=str(tmp_path))
    env = stack.stack_env("airflow.env")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/airflow_t1")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("/airflow_t1")
    assert json.loads(env["AIRFLOW_CONN_KYC_DB"])["extra"]["url"].endswith("/kyc_t1")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/3"
    assert env["KYC_REDIS_URL"] == "redis://127.0.0.1:6379/1"


def test_the_stack_does_not_collide_with_the_demo(monkeypatch):
    stack = _load_stack(monkeypatch)
    demo_defaults = {8080, 8090, 1025}
    assert not {stack.PORT, stack.EMULATOR_PORT, stack.SMTP_PORT} & demo_defaults
    assert stack.STACK_HOME.name == ".stack"
    names = stack.worker_names()
    assert len(names) == 2 and len(set(names)) == 2


def test_make_has_the_stack_targets():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^stack: .*\n\t.*scripts/stack.py start", makefile, flags=re.M)
    assert re.search(r"^stack-stop:\n\t.*scripts/stack.py stop", makefile, flags=re.M)
