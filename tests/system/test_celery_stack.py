"""`make stack` for real: Airflow with the CeleryExecutor and two Celery workers on this machine's PostgreSQL and Redis.

The stack is started by its script with its own home, ports, databases and broker database; mapped tasks must run on
both workers (each task instance's Celery task id is found in exactly one worker's log) and succeed; the stack is
then stopped and none of the processes it started may be left. Runs under CI=true or when selected with
`-m celery_stack`; it takes a few minutes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK = [sys.executable, str(REPO / "scripts" / "stack.py")]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The test stack's broker database: not the settings' (2), so a stack started by hand keeps its own queue.
BROKER_DB = "3"
CUSTOMERS = 4
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = [pytest.mark.celery_stack, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_services() -> None:
    import psycopg
    import redis

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"PostgreSQL and Redis are required on 127.0.0.1 ({exc})", pytrace=False)
        pytest.skip(f"PostgreSQL or Redis unavailable ({exc}): skipped locally")


def _members(pgids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) in pgids:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    """The stack started by `stack.py start` with its own everything; stopped and its databases dropped afterwards."""
    if not IN_CI and "celery_stack" not in (request.config.getoption("-m") or ""):
        pytest.skip("the Celery stack test runs under CI=true or with `-m celery_stack`")
    _require_services()
    home = tmp_path_factory.mktemp("stack") / "stack"
    suffix = f"_t{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KYC_", "STACK_"))}
    env.update(STACK_HOME=str(home), STACK_PORT=str(port), STACK_EMULATOR_PORT=str(_free_port()),
               STACK_SMTP_PORT=str(_free_port()), STACK_DATABASE_SUFFIX=suffix, STACK_BROKER_DB=BROKER_DB)
    started = time.monotonic()
    result = subprocess.run([*STACK, "start"], env=env, capture_output=True, text=True, timeout=600)
    info = {"result": result, "home": home, "env": env, "base": f"http://127.0.0.1:{port}", "suffix": suffix,
            "start_s": time.monotonic() - started, "pids": json.loads((home / "pids.json").read_text())
            if (home / "pids.json").exists() else {}}
    try:
        yield info
    finally:
        subprocess.run([*STACK, "stop"], env=env, capture_output=True, text=True, timeout=180)
        import psycopg
        import redis

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in ("airflow", "kyc"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}{suffix}" WITH (FORCE)')
        broker = redis.Redis(host="127.0.0.1", port=6379, db=int(BROKER_DB))
        for key in broker.scan_iter(count=1000):
            broker.delete(key)


def _http(base: str, method: str, path: str, body: object | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _trigger_and_wait(base: str, token: str, dag_id: str, conf: dict, timeout: float) -> tuple[str, str, float]:
    run_id = f"stack_test__{uuid.uuid4().hex[:8]}"
    status, body = _http(base, "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf},
                         token)
    assert status in (200, 201), body
    started = time.monotonic()
    state = "queued"
    while time.monotonic() - started < timeout:
        status, body = _http(base, "GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}", token=token)
        state = body.get("state", state)
        if state in ("success", "failed"):
            break
        time.sleep(2)
    return run_id, state, time.monotonic() - started


def _task_instances(suffix: str, run_ids: list[str]) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/airflow{suffix}") as conn:
        return conn.execute(
            "SELECT run_id, task_id, map_index, state, external_executor_id FROM task_instance WHERE run_id = ANY(%s)",
            (run_ids,),
        ).fetchall()


def _worker_of_celery_task(home: Path) -> dict[str, str]:
    """Celery task id -> the worker whose log says it received it."""
    found: dict[str, str] = {}
    for log in sorted((home / "logs").glob("worker-*.log")):
        for task_id in re.findall(r"execute_workload\[([0-9a-f-]{36})\] received", log.read_text(errors="replace")):
            assert task_id not in found, f"Celery task {task_id} received by two workers"
            found[task_id] = log.stem
    return found


def test_two_workers_share_mapped_tasks_and_the_stack_stops_cleanly(stack):
    from celery import Celery
    from kyc_dev.emulator.dataset import Dataset

    result, base, home = stack["result"], stack["base"], stack["home"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Celery workers answering: kyc-worker-1@" in result.stdout and "kyc-worker-2@" in result.stdout
    assert set(stack["pids"]) >= {"api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2",
                                  "emulator", "mailsink"}

    # Both workers are registered on the stack's own broker.
    app = Celery(broker=f"redis://127.0.0.1:6379/{BROKER_DB}")
    try:
        answering = {name for reply in app.control.ping(timeout=3) or [] for name in reply}
    finally:
        app.close()
    assert len({n for n in answering if n.startswith("kyc-worker-")}) == 2, answering

    token = _http(base, "POST", "/auth/token", {"username": "admin", "password": "admin"})[1]["access_token"]
    for dag_id in ("kyc_sanctions_refresh", "kyc_onboarding", "kyc_full_rescreen"):
        for _ in range(90):
            if _http(base, "GET", f"/api/v2/dags/{dag_id}", token=token)[0] == 200:
                break
            time.sleep(2)
        assert _http(base, "PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, token)[0] == 200

    refresh, refresh_state, refresh_s = _trigger_and_wait(base, token, "kyc_sanctions_refresh", {}, timeout=300)
    assert refresh_state == "success", refresh_state

    ds = Dataset(1000, 42)
    customers = [{"customer": {"kind": "entity", "siren": ds.siren(i), "declared_name": ds.company(ds.siren(i)).name},
                  "segment": "cgp", "channel": "api", "external_ref": f"STACK-{i:03d}"} for i in range(30, 30 + CUSTOMERS)]
    onboarding, onboarding_state, onboarding_s = _trigger_and_wait(base, token, "kyc_onboarding", {"customers": customers},
                                                                   timeout=420)
    assert onboarding_state == "success", onboarding_state

    print(f"\n[celery stack] start {stack['start_s']:.0f}s; refresh run {refresh_s:.0f}s; onboarding of {CUSTOMERS} "
          f"customers {onboarding_s:.0f}s", flush=True)
    # The whole book (the customers just onboarded) rescreened in one shard per customer: shards on both workers.
    rescreen, rescreen_state, rescreen_s = _trigger_and_wait(
        base, token, "kyc_full_rescreen", {"reason": "stack test: shards over two workers", "shard_size": 1}, timeout=300)
    print(f"[celery stack] full rescreen in {CUSTOMERS} shards {rescreen_s:.0f}s: {rescreen_state}", flush=True)
    assert rescreen_state == "success", rescreen_state
    rows = _task_instances(stack["suffix"], [refresh, onboarding, rescreen])
    shards = [r for r in rows if r[0] == rescreen and r[1] == "rescreen_shard"]
    assert len(shards) == CUSTOMERS and all(r[3] == "success" for r in shards), shards
    # One mapped task instance per customer and stage of the per-customer group, whatever the stages are.
    mapped = [r for r in rows if r[0] == onboarding and r[2] >= 0]
    assert len(mapped) >= CUSTOMERS and {r[2] for r in mapped} == set(range(CUSTOMERS)), mapped
    assert not [r for r in rows if r[3] not in ("success", "skipped")], rows
    where = _worker_of_celery_task(home)
    ran = [r for r in rows if r[4]]
    assert ran and all(r[4] in where for r in ran), "a task instance's Celery task is in no worker's log"
    workers_used = {where[r[4]] for r in ran}
    assert workers_used == {"worker-1", "worker-2"}, workers_used
    # The mapped task instances themselves (per-customer stages, rescreen shards) ran on both workers.
    assert {where[r[4]] for r in ran if r[2] >= 0} == {"worker-1", "worker-2"}
    per_worker = {w: sum(where[r[4]] == w for r in ran) for w in sorted(workers_used)}

    stopped = time.monotonic()
    stop = subprocess.run([*STACK, "stop"], env=stack["env"], capture_output=True, text=True, timeout=180)
    stop_s = time.monotonic() - stopped
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "no process of the stack is left" in stop.stdout
    assert not _members(set(stack["pids"].values()))
    assert not (home / "pids.json").exists()
    print(f"[celery stack] task instances per worker {per_worker}; stop {stop_s:.0f}s")
