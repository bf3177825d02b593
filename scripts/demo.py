"""The demo: start the stores, the source emulator and Airflow on loopback, onboard sample customers
through the REST API, print what happened. `demo.py run` (make demo) and `demo.py stop` (make stop)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEMO_HOME = Path(os.environ.get("DEMO_HOME", REPO / ".demo")).resolve()
AIRFLOW_HOME = DEMO_HOME / "airflow"
LOGS = DEMO_HOME / "logs"
PIDFILE = DEMO_HOME / "pids.json"
PORT = int(os.environ.get("DEMO_PORT", "8080"))
EMULATOR_PORT = int(os.environ.get("DEMO_EMULATOR_PORT", "8090"))
BASE = f"http://127.0.0.1:{PORT}"
USERS = {"admin": "admin", "analyst1": "analyst1", "analyst2": "analyst2"}
COMPONENTS = (
    ("api-server", ["api-server"]),
    ("scheduler", ["scheduler", "--skip-serve-logs"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer", "--skip-serve-logs"]),
)


def say(message: str) -> None:
    """Progress on stdout, flushed so `make` shows it as it happens."""
    print(f"[demo] {message}", flush=True)


def fail(message: str) -> None:
    """Stop with one line on stderr."""
    sys.stderr.write(f"[demo] error: {message}\n")
    raise SystemExit(1)


# --- processes ---------------------------------------------------------------------------------------


def _read_pids() -> dict[str, int]:
    try:
        return json.loads(PIDFILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _alive(pid: int) -> bool:
    try:
        # Reap our own exited children first, or they linger as zombies that look alive.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_pid(name: str, pid: int) -> None:
    pids = _read_pids()
    pids[name] = pid
    PIDFILE.write_text(json.dumps(pids, indent=2))


def start(name: str, argv: list[str], env: dict[str, str]) -> int:
    """Start a process in its own session (so its children can be stopped with it), logging to a file."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child from here on
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO
    )
    _record_pid(name, proc.pid)
    say(f"started {name} (pid {proc.pid}, log {LOGS / (name + '.log')})")
    return proc.pid


def stop_all() -> int:
    """Stop every process the demo started, by the PIDs it recorded."""
    pids = _read_pids()
    if not pids:
        say("nothing to stop")
        return 0
    for name, pid in pids.items():
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            say(f"stopping {name} (pid {pid})")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.5)
    for name, pid in pids.items():
        if _alive(pid):
            say(f"{name} did not stop in time: killing pid {pid}")
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    PIDFILE.unlink(missing_ok=True)
    say("stopped")
    return 0


# --- configuration -----------------------------------------------------------------------------------


def _secrets() -> dict[str, str]:
    path = DEMO_HOME / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "JWT_SECRET": secrets.token_urlsafe(64),
        "FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def render_config() -> None:
    """Write $AIRFLOW_HOME/airflow.cfg from airflow.cfg.template and the demo users' passwords."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    values = {
        "DAGS_FOLDER": str(REPO / "dags"),
        "PLUGINS_FOLDER": str(AIRFLOW_HOME / "plugins"),
        "DAGS_PAUSED": "False",
        "PORT": str(PORT),
        "AUTH_USERS": ",".join(f"{u}:admin" if u == "admin" else f"{u}:user" for u in USERS),
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW_DB_URL": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        **_secrets(),
    }
    (AIRFLOW_HOME / "plugins").mkdir(exist_ok=True)
    template = string.Template((REPO / "airflow.cfg.template").read_text())
    (AIRFLOW_HOME / "airflow.cfg").write_text(template.substitute(values))
    (AIRFLOW_HOME / "passwords.json").write_text(json.dumps(USERS))


def demo_env() -> dict[str, str]:
    """Environment of every process: Airflow home, the KYC stores and the connections."""
    env = dict(os.environ)
    kyc_url = os.environ.get("KYC_DATABASE_URL") or f"sqlite:///{DEMO_HOME / 'kyc.db'}"
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW_CONFIG=str(AIRFLOW_HOME / "airflow.cfg"),
        KYC_HOME=str(DEMO_HOME),
        KYC_DATABASE_URL=kyc_url,
        AIRFLOW_CONN_KYC_DB=json.dumps({"conn_type": "kyc_database", "extra": {"url": kyc_url}}),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    emulator = f"http://127.0.0.1:{EMULATOR_PORT}"
    env.update(
        {
            "AIRFLOW_CONN_KYC_SIRENE": json.dumps({"conn_type": "insee_sirene", "host": f"{emulator}/sirene", "password": "demo-sirene-key"}),
            "AIRFLOW_CONN_KYC_RNE": json.dumps({"conn_type": "inpi_rne", "host": f"{emulator}/rne", "login": "demo", "password": "demo"}),
            "AIRFLOW_CONN_KYC_BODACC": json.dumps({"conn_type": "bodacc", "host": f"{emulator}/bodacc"}),
            "AIRFLOW_CONN_KYC_SANCTIONS_LISTS": json.dumps({"conn_type": "sanctions_list", "host": f"{emulator}/lists"}),
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# --- REST --------------------------------------------------------------------------------------------


def http(method: str, path: str, body: object | None = None, token: str | None = None, timeout: float = 15) -> tuple[int, object]:
    """One JSON request to the API server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except json.JSONDecodeError:
            return exc.code, raw.decode(errors="replace")


def wait_healthy(timeout: float = 180) -> None:
    """Poll /api/v2/monitor/health until every component reports healthy."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = http("GET", "/api/v2/monitor/health", timeout=3)
            if status == 200 and isinstance(body, dict):
                states = {k: (v or {}).get("status") for k, v in body.items() if isinstance(v, dict)}
                last = ", ".join(f"{k}={v}" for k, v in states.items())
                if states and all(v == "healthy" for v in states.values()):
                    say(f"Airflow healthy ({last})")
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(1)
    fail(f"Airflow not healthy after {timeout:.0f}s ({last}); see {LOGS}")


def token_for(user: str) -> str:
    """A JWT for a demo user."""
    status, body = http("POST", "/auth/token", {"username": user, "password": USERS[user]})
    if status not in (200, 201) or not isinstance(body, dict):
        fail(f"login as {user} refused ({status})")
    return body["access_token"]


def wait_for_dag(token: str, dag_id: str, timeout: float = 120) -> None:
    """Wait until the dag-processor has parsed the DAG, then make sure it is unpaused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http("GET", f"/api/v2/dags/{dag_id}", token=token)
        if status == 200:
            if body.get("is_paused"):
                http("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, token=token)
            return
        time.sleep(1)
    status, errors = http("GET", "/api/v2/importErrors", token=token)
    fail(f"DAG {dag_id} not parsed after {timeout:.0f}s; import errors: {json.dumps(errors)[:500]}")


def trigger(token: str, dag_id: str, conf: dict) -> str:
    """Trigger one run through the REST API; returns its run id."""
    status, body = http("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}, token=token)
    if status not in (200, 201):
        fail(f"trigger of {dag_id} refused ({status}): {json.dumps(body)[:300]}")
    return body["dag_run_id"]


def wait_runs(token: str, dag_id: str, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
    """Poll the runs until each is finished; returns run id -> state."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_id in run_ids:
            if states.get(run_id) in ("success", "failed"):
                continue
            status, body = http("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}", token=token)
            if status == 200:
                states[run_id] = body["state"]
        done = sum(states.get(r) in ("success", "failed") for r in run_ids)
        if done == len(run_ids):
            return states
        say(f"waiting for runs: {done}/{len(run_ids)} finished")
        time.sleep(3)
    return states


# --- results -----------------------------------------------------------------------------------------


def results_table(samples: list[dict], run_ids: list[str], states: dict[str, str], kyc_url: str) -> list[list[str]]:
    """One row per sample: what was expected, what happened, and what the KYC database now holds."""
    from sqlalchemy import select

    from kyc_core.onboarding.customers import customer_id_for, customer_ref
    from kyc_core.onboarding.request import InvalidRequest, parse_request
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import AuditEvent, Customer, Decision

    rows = []
    with session_scope(kyc_url) as session:
        for sample, run_id in zip(samples, run_ids, strict=True):
            state = states.get(run_id, "unknown")
            try:
                request = parse_request(sample["conf"])
                ids = [customer_id_for(customer_ref(item)) for item in request.customers]
            except InvalidRequest:
                ids = []
            if ids:
                for cid in ids:
                    customer = session.get(Customer, cid)
                    decision = session.scalars(
                        select(Decision).where(Decision.customer_id == cid, Decision.run_id == run_id)
                    ).first()
                    outcome = decision.outcome if decision else (customer.status if customer else "-")
                    rows.append([sample["label"], state, cid[:8], customer.kind if customer else "-", outcome])
            else:
                event = session.scalars(
                    select(AuditEvent).where(AuditEvent.run_id == run_id, AuditEvent.event_type == "input_rejected")
                ).first()
                reason = "-"
                if event is not None:
                    errors = json.loads(event.payload).get("errors", [])
                    reason = "rejected: " + "; ".join(e["field"] for e in errors)
                rows.append([sample["label"], state, "-", "-", reason])
    return rows


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


# --- main flows --------------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def run() -> int:
    """Set up, start, trigger, report; then keep running or stop (DEMO_KEEP_RUNNING=0)."""
    keep_running = os.environ.get("DEMO_KEEP_RUNNING", "1") not in ("0", "false", "no")
    if any(_alive(pid) for pid in _read_pids().values()):
        fail("a demo is already running: `make stop` first")
    PIDFILE.unlink(missing_ok=True)
    for port in (PORT, EMULATOR_PORT):
        if not _port_free(port):
            fail(f"port {port} on 127.0.0.1 is in use (set DEMO_PORT / DEMO_EMULATOR_PORT)")
    DEMO_HOME.mkdir(parents=True, exist_ok=True)
    render_config()
    env = demo_env()
    airflow = str(VENV_BIN / "airflow")
    kyc = str(VENV_BIN / "kyc")
    started = time.monotonic()
    ok = False
    try:
        say("migrating Airflow's metadata database")
        _check(subprocess.run([airflow, "db", "migrate"], env=env, stdout=_log("airflow-db-migrate"), stderr=subprocess.STDOUT), "airflow db migrate")
        say(f"migrating the KYC database ({_describe(env['KYC_DATABASE_URL'])})")
        _check(subprocess.run([kyc, "db", "upgrade"], env=env), "kyc db upgrade")
        if _emulator_available():
            start(
                "emulator",
                [kyc, "emulator", "serve", "--host", "127.0.0.1", "--port", str(EMULATOR_PORT),
                 "--sirene-api-key", "demo-sirene-key", "--rne-account", "demo:demo"],
                env,
            )
        for name, args in COMPONENTS:
            start(name, [airflow, *args], env)
        wait_healthy()
        token = token_for("admin")
        wait_for_dag(token, "kyc_onboarding")
        samples = json.loads((REPO / "scripts" / "demo_customers.json").read_text())
        run_ids = []
        for sample in samples:
            run_id = trigger(token, "kyc_onboarding", sample["conf"])
            say(f"triggered kyc_onboarding for '{sample['label']}': {run_id}")
            run_ids.append(run_id)
        states = wait_runs(token, "kyc_onboarding", run_ids)
        rows = results_table(samples, run_ids, states, env["KYC_DATABASE_URL"])
        print()
        print_table(["sample", "run", "customer", "kind", "result"], rows)
        print()
        unexpected = [s["label"] for s, r in zip(samples, run_ids, strict=True) if states.get(r) != s["expect"]]
        audit = subprocess.run([kyc, "audit", "verify"], env=env, capture_output=True, text=True)
        say(audit.stdout.strip() or audit.stderr.strip())
        ok = not unexpected and audit.returncode == 0
        if unexpected:
            sys.stderr.write(f"[demo] runs that did not end as expected: {', '.join(unexpected)}\n")
        say(f"done in {time.monotonic() - started:.0f}s")
    finally:
        if not keep_running or not ok:
            stop_all()
    if keep_running and ok:
        print()
        say(f"Airflow UI: {BASE}/  (login admin / admin; reviewers analyst1 / analyst1, analyst2 / analyst2)")
        say(f"KYC database: {_describe(env['KYC_DATABASE_URL'])}; logs in {LOGS}")
        say("stop everything with: make stop")
    return 0 if ok else 1


def _emulator_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("kyc_core.emulator.server") is not None


def _log(name: str):
    LOGS.mkdir(parents=True, exist_ok=True)
    return open(LOGS / f"{name}.log", "ab")  # noqa: SIM115


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        fail(f"{what} failed (exit {result.returncode}); see {LOGS}")


def _describe(url: str) -> str:
    from kyc_core.store.db import describe_url

    return describe_url(url)


def main() -> int:
    """CLI of the demo script."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["run", "stop", "clean"])
    args = parser.parse_args()
    if args.action == "run":
        return run()
    if args.action == "stop":
        return stop_all()
    stop_all()
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    say(f"removed {DEMO_HOME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
