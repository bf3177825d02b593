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


def _token(base: str, username: str) -> str:
    password = next(u["password"] for u in json.loads((REPO / "docker" / "users.json").read_text()) if u["username"] == username)
    status, body = _http(base, "POST", "/auth/token", {"username": username, "password": password})
    assert status == 201, (username, status, body)
    return body["access_token"]


def _first_review_answered_by_an_analyst(stack, base: str) -> None:
    """The sanctioned customer's first review, answered over REST by analyst1 under FAB's auth manager: an
    integrator may not answer it, the analyst's answer is recorded under the analyst's login."""
    import psycopg

    analyst, integrator = _token(base, "analyst1"), _token(base, "integrator1")
    detail = None
    deadline = time.monotonic() + 240
    while detail is None and time.monotonic() < deadline:
        status, body = _http(base, "GET", "/api/v2/dags/kyc_case_review/dagRuns/~/hitlDetails?response_received=false",
                             token=analyst)
        assert status == 200, body
        detail = next((d for d in body["hitl_details"] if d["task_instance"]["task_id"] == "review_1"
                       and d["task_instance"]["state"] == "awaiting_input"), None)
        time.sleep(3)
    assert detail is not None, "no first review awaited an answer"
    ti = detail["task_instance"]
    path = (f"/api/v2/dags/kyc_case_review/dagRuns/{urllib.parse.quote(ti['dag_run_id'], safe='')}"
            f"/taskInstances/review_1/{ti['map_index']}/hitlDetails")
    answer = {"chosen_options": [detail["options"][0]],
              "params_input": {"rationale": "stack test: list entry and register extract compared"}}
    time.sleep(3)  # a person reads the request first (see the README's known issue on instant answers)
    assert _http(base, "PATCH", path, answer, integrator)[0] == 403
    status, body = _http(base, "PATCH", path, answer, analyst)
    assert status == 200, body
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/kyc{stack['suffix']}") as conn:
        for _ in range(60):
            rows = conn.execute("SELECT payload::json->>'reviewer_id', actor FROM audit_event WHERE event_type = 'human_review'").fetchall()
            if rows:
                break
            time.sleep(2)
    assert rows == [("analyst1", "user:analyst1")], rows


def test_roles_keep_event_logs_and_run_conf_from_analysts(stack):
    """FAB's auth manager with the KYC roles: an analyst reads cases and review requests, never the audit log or a
    run (its conf); an integrator starts and polls onboarding runs only; the admin reads everything."""
    result, base = stack["result"], stack["base"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    admin, analyst, integrator = (_token(base, u) for u in ("admin", "analyst1", "integrator1"))
    for _ in range(90):
        if _http(base, "GET", "/api/v2/dags/kyc_onboarding", token=admin)[0] == 200:
            break
        time.sleep(2)
    # The DAG is paused: the run is created (its conf scrubbed to the rejected fields) and waits.
    run_id = f"roles__{uuid.uuid4().hex[:8]}"
    conf = {"customers": [{"customer": {"kind": "entity", "siren": "123456789", "declared_name": "ROLE TEST SA"},
                           "segment": "cgp", "channel": "api"}]}
    status, body = _http(base, "POST", "/api/v2/dags/kyc_onboarding/dagRuns",
                         {"dag_run_id": run_id, "logical_date": None, "conf": conf}, integrator)
    assert status == 200, body
    run = f"/api/v2/dags/kyc_onboarding/dagRuns/{run_id}"

    # Integrator: its own DAG's runs (with references only), nothing else.
    status, body = _http(base, "GET", run, token=integrator)
    assert status == 200 and "ROLE TEST" not in json.dumps(body) and "rejected_fields" in body["conf"], body
    assert _http(base, "GET", "/api/v2/eventLogs", token=integrator)[0] == 403
    assert _http(base, "GET", "/api/v2/dags/kyc_sanctions_refresh/dagRuns", token=integrator)[0] == 403
    assert _http(base, "GET", "/api/v2/dags/~/dagRuns/~/hitlDetails", token=integrator)[0] == 403
    assert _http(base, "GET", "/kyc/api/cases", token=integrator)[0] == 403  # cases hold names: not an integrator's
    # The workspace's intake endpoint is the integrator's: an invalid request is refused field by field (no run).
    status, body = _http(base, "POST", "/kyc/api/intake", conf, integrator)
    assert status == 422 and body["errors"], body
    assert _http(base, "POST", "/kyc/api/intake", conf, analyst)[0] == 403

    # Analyst: the case list and the review requests, but no run (so no conf) and no audit log.
    assert _http(base, "GET", "/kyc/api/cases", token=analyst)[0] == 200
    assert _http(base, "GET", "/api/v2/dags/~/dagRuns/~/hitlDetails", token=analyst)[0] == 200
    for path in (run, "/api/v2/dags/kyc_onboarding/dagRuns", "/api/v2/dags/~/dagRuns", "/api/v2/eventLogs",
                 "/api/v2/eventLogs?dag_id=kyc_onboarding"):
        status, body = _http(base, "GET", path, token=analyst)
        assert status == 403, (path, status, body)
    assert _http(base, "POST", "/api/v2/dags/kyc_onboarding/dagRuns", {"logical_date": None, "conf": conf}, analyst)[0] == 403

    # Admin: the same reads succeed, so the refusals above are the roles, not a broken endpoint.
    status, logs = _http(base, "GET", "/api/v2/eventLogs?dag_id=kyc_onboarding&limit=100", token=admin)
    assert status == 200 and logs["total_entries"] >= 1
    assert "ROLE TEST" not in json.dumps(logs)
    assert _http(base, "GET", run, token=admin)[0] == 200
    # Nothing of it runs: the DAG stays paused for the test below, which starts its own runs.
    assert _http(base, "PATCH", run, {"state": "failed"}, admin)[0] == 200


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

    token = _token(base, "admin")
    for dag_id in ("kyc_sanctions_refresh", "kyc_onboarding", "kyc_full_rescreen", "kyc_case_review"):
        for _ in range(90):
            if _http(base, "GET", f"/api/v2/dags/{dag_id}", token=token)[0] == 200:
                break
            time.sleep(2)
        assert _http(base, "PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, token)[0] == 200

    refresh, refresh_state, refresh_s = _trigger_and_wait(base, token, "kyc_sanctions_refresh", {}, timeout=300)
    assert refresh_state == "success", refresh_state

    ds = Dataset(1000, 42)
    # Clean companies, and one whose officer is listed: its rejection waits for a four-eyes review.
    sirens = [ds.siren(i) for i in range(30, 30 + CUSTOMERS - 1)] + [ds.known_positives()[0].siren]
    customers = [{"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name},
                  "segment": "cgp", "channel": "api", "external_ref": f"STACK-{n:03d}"} for n, siren in enumerate(sirens)]
    onboarding, onboarding_state, onboarding_s = _trigger_and_wait(base, token, "kyc_onboarding", {"customers": customers},
                                                                   timeout=420)
    assert onboarding_state == "success", onboarding_state
    _first_review_answered_by_an_analyst(stack, base)

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
