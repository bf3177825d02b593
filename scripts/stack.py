"""The scale-out deployment on one machine: Airflow with the CeleryExecutor and two Celery workers, as local processes.

`stack.py start` (make stack) and `stack.py stop` (make stack-stop). It runs what docker-compose.yaml declares,
from the same settings (docker/airflow.env, docker/init.env) and the same init command, with the service addresses
replaced by the PostgreSQL and Redis of this machine and local ports distinct from the demo's:

- creates (idempotently) the roles and databases the settings' URLs name: Airflow's metadata database (also the
  Celery result backend) and the KYC database, owned by the KYC schema owner; tasks connect as the app role;
- runs compose's `airflow-init` command: `airflow db migrate`, the UI users of docker/users.json with their KYC roles
  (FAB's auth manager, `kyc_airflow.auth`), the assessment pool, `kyc db upgrade` (as the schema owner) and
  `kyc db grant-app-role`;
- starts the mail sink, the source emulator, the api-server, scheduler, dag-processor, triggerer and two
  `airflow celery worker` processes with their own Celery host names, and waits until Airflow is healthy and both
  workers answer a Celery ping. Each Airflow process runs under `stack.py supervise`, which starts it again when it
  exits with an error (compose's `restart: on-failure`): the scheduler, dag-processor and triggerer exit when
  PostgreSQL goes away, and come back when it returns.

State (Airflow home, logs, PID file, generated secrets) lives under `.stack/` (STACK_HOME); `stop` stops exactly
the process groups recorded there, and checks none of their processes is left.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
STACK_HOME = Path(os.environ.get("STACK_HOME", REPO / ".stack")).resolve()
AIRFLOW_HOME = STACK_HOME / "airflow"
#: The UI users, their passwords and roles (compose mounts the same file).
USERS_FILE = REPO / "docker" / "users.json"
LOGS = STACK_HOME / "logs"
PIDFILE = STACK_HOME / "pids.json"
#: Ports distinct from the demo's (8080, 8090, 1025), so `make stack` and `make demo` can run side by side.
PORT = int(os.environ.get("STACK_PORT", "8180"))
EMULATOR_PORT = int(os.environ.get("STACK_EMULATOR_PORT", "8190"))
SMTP_PORT = int(os.environ.get("STACK_SMTP_PORT", "1125"))
PG_HOST = os.environ.get("STACK_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("STACK_PG_PORT", "5432"))
REDIS_HOST = os.environ.get("STACK_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("STACK_REDIS_PORT", "6379"))
#: A superuser of that PostgreSQL, used only to create the roles and databases.
PG_ADMIN_URL = os.environ.get("STACK_PG_ADMIN_URL", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres")
#: Appended to every database name (a second stack on the same server, or a test's own databases).
DB_SUFFIX = os.environ.get("STACK_DATABASE_SUFFIX", "")
#: Redis database of the Celery broker when not the settings' (a second stack on the same Redis).
BROKER_DB = os.environ.get("STACK_BROKER_DB", "")
WORKERS = int(os.environ.get("STACK_WORKERS", "2"))
BASE = f"http://127.0.0.1:{PORT}"
BASE_URL = BASE
EMULATOR_COMPANIES = 1000
EMULATOR_SEED = 42
COMPONENTS = (
    ("api-server", ["api-server"]),
    ("scheduler", ["scheduler", "--skip-serve-logs"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer", "--skip-serve-logs"]),
)


def say(message: str) -> None:
    """Progress on stdout, flushed so `make` shows it as it happens."""
    print(f"[stack] {message}", flush=True)


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr."""
    sys.stderr.write(f"[stack] error: {message}\n")
    raise SystemExit(1)


# --- settings: docker/airflow.env with local addresses ------------------------------------------------


def service_addresses() -> dict[str, tuple[str, int]]:
    """Compose service address -> the local one that replaces it."""
    return {
        "postgres:5432": (PG_HOST, PG_PORT),
        "redis:6379": (REDIS_HOST, REDIS_PORT),
        "emulator:8090": ("127.0.0.1", EMULATOR_PORT),
        "mailpit:1025": ("127.0.0.1", SMTP_PORT),
        "airflow-apiserver:8080": ("127.0.0.1", PORT),
        "localhost:8080": ("127.0.0.1", PORT),
    }


def localize_url(url: str) -> str:
    """A compose URL with the local address (and the database suffix, the broker database) in place."""
    parts = urlsplit(url)
    if not parts.scheme or parts.hostname is None:
        return url
    local = service_addresses().get(f"{parts.hostname}:{parts.port}")
    if local is None:
        return url
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    path = parts.path
    if parts.scheme.startswith(("postgresql", "db+postgresql")) and DB_SUFFIX and len(path) > 1:
        path = path + DB_SUFFIX
    return urlunsplit((parts.scheme, f"{userinfo}{local[0]}:{local[1]}", path, parts.query, parts.fragment))


def localize_value(value: str) -> str:
    """One setting with its service addresses replaced: a URL, or a JSON connection (host URL, host and port, extra url)."""
    if value.startswith("{"):
        conn = json.loads(value)
        host, port = conn.get("host"), conn.get("port")
        if isinstance(host, str) and "://" in host:
            conn["host"] = localize_url(host)
        elif host and port and f"{host}:{port}" in service_addresses():
            conn["host"], conn["port"] = service_addresses()[f"{host}:{port}"]
        extra = conn.get("extra")
        if isinstance(extra, dict) and isinstance(extra.get("url"), str):
            extra["url"] = localize_url(extra["url"])
        return json.dumps(conn)
    if "://" in value:
        return localize_url(value)
    return value


def read_env_files(*names: str) -> dict[str, str]:
    """The settings of these files in docker/, later files overriding earlier ones, with local addresses."""
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    for name in names:
        path = REPO / "docker" / name
        if not path.exists():
            fail(f"{path} is missing")
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    local = {key: localize_value(value) for key, value in merged.items()}
    if BROKER_DB and "AIRFLOW__CELERY__BROKER_URL" in local:
        local["AIRFLOW__CELERY__BROKER_URL"] = local["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[0] + f"/{BROKER_DB}"
    return local


def compose_service(name: str) -> dict:
    """A service of docker-compose.yaml (its env files and command are what the stack runs)."""
    import yaml

    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"][name]


def _secrets() -> dict[str, str]:
    path = STACK_HOME / "secrets.json"
    STACK_HOME.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def stack_env(*env_files: str) -> dict[str, str]:
    """Environment of the stack's processes: the shared settings, local paths and ports, generated secrets."""
    # Nothing of the caller's Airflow or KYC configuration leaks in (AIRFLOW_CONFIG, AIRFLOW_CONN_*, KYC_*...).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KYC_"))}
    env.update(read_env_files(*env_files))
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(AIRFLOW_HOME / "plugins"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(PORT),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(AIRFLOW_HOME / "logs"),
        KYC_HOME=str(STACK_HOME / "kyc"),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **_secrets(),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def users() -> dict[str, str]:
    """The UI users and their passwords (docker/users.json, the file compose mounts)."""
    return {u["username"]: u["password"] for u in json.loads(USERS_FILE.read_text())}


def user_roles() -> dict[str, str]:
    """The UI users and their roles (docker/users.json)."""
    return {u["username"]: ", ".join(u["roles"]) for u in json.loads(USERS_FILE.read_text())}


# --- databases -----------------------------------------------------------------------------------------


def _pg_target(url: str) -> tuple[str, str, str]:
    """(role, password, database) of a PostgreSQL URL."""
    parts = urlsplit(url.replace("db+postgresql", "postgresql", 1))
    if not parts.username or not parts.path.strip("/"):
        fail(f"a PostgreSQL URL in docker/airflow.env has no user or database: {parts.scheme}://{parts.hostname}/...")
    return parts.username, parts.password or "", parts.path.strip("/")


def ensure_databases(env: dict[str, str], init_env: dict[str, str]) -> None:
    """Create the roles and databases the settings name, when missing (safe to repeat)."""
    import psycopg
    from psycopg import sql

    meta_role, meta_password, meta_db = _pg_target(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    owner, owner_password, kyc_db = _pg_target(init_env["KYC_DATABASE_URL"])
    app_url = json.loads(env["AIRFLOW_CONN_KYC_DB"])["extra"]["url"]
    app_role, app_password, app_db = _pg_target(app_url)
    if app_db != kyc_db:
        fail(f"the task role's database ({app_db}) is not the KYC database ({kyc_db}) in docker/*.env")
    if kyc_db == meta_db:
        fail("the KYC database must not be Airflow's metadata database")
    try:
        conn = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable as a superuser ({str(exc).strip().splitlines()[0]})")
    with conn:
        for role, password in ((meta_role, meta_password), (owner, owner_password), (app_role, app_password)):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
                say(f"created role {role}")
        for database, db_owner in ((meta_db, meta_role), (kyc_db, owner)):
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(db_owner)))
                say(f"created database {database} (owner {db_owner})")
            else:
                say(f"database {database} exists")


def check_redis(env: dict[str, str]) -> None:
    """Fail with one line when the broker's Redis does not answer."""
    import redis

    url = env["AIRFLOW__CELERY__BROKER_URL"]
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        fail(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable ({exc})")


# --- processes -----------------------------------------------------------------------------------------


def read_pids() -> dict[str, int]:
    """Process name -> PID (and process group) recorded by `start`."""
    try:
        return json.loads(PIDFILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def alive(pid: int) -> bool:
    """Whether the process runs (our own exited children are reaped first)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def group_members(pgids: set[int]) -> list[int]:
    """Live processes (not zombies) in these process groups."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) in pgids:
            found.append(int(entry.name))
    return found


def start_process(name: str, argv: list[str], env: dict[str, str]) -> int:
    """Start a process in its own session (its children are stopped with it), logging to a file."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child from here on
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=REPO)
    pids = read_pids()
    pids[name] = proc.pid
    PIDFILE.write_text(json.dumps(pids, indent=2))
    say(f"started {name} (pid {proc.pid}, log {LOGS / (name + '.log')})")
    return proc.pid


#: Restart waits of a supervised component, in seconds (the last one repeats).
RESTART_WAITS_S = (2, 5, 10, 30)


def supervise(name: str, argv: list[str]) -> int:
    """Run one component and start it again whenever it exits with an error (PostgreSQL or Redis gone for a while
    makes Airflow's scheduler, dag-processor and triggerer exit): what compose's `restart: on-failure` does. A clean
    exit, or SIGTERM from `stack.py stop` (sent to the whole process group), ends the supervision."""
    stopping = False
    child: subprocess.Popen | None = None

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    restarts = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        code = child.wait()
        if stopping or code == 0:
            return code
        if time.monotonic() - started > 300:
            restarts = 0  # it had been up a while: a new fault, not the same one
        wait = RESTART_WAITS_S[min(restarts, len(RESTART_WAITS_S) - 1)]
        restarts += 1
        print(f"[supervise] {name} exited with code {code}; restart {restarts} in {wait}s", flush=True)
        time.sleep(wait)
        if stopping:
            return code


def start_supervised(name: str, argv: list[str], env: dict[str, str]) -> int:
    """`start_process` of a component under `supervise` (same process group, same log)."""
    return start_process(name, [sys.executable, str(Path(__file__).resolve()), "supervise", name, "--", *argv], env)


def stop() -> int:
    """Stop every process group the stack recorded, and check that none of their processes is left."""
    pids = read_pids()
    if not pids:
        say(f"nothing to stop (no {PIDFILE})")
        return 0
    groups = set(pids.values())
    # Workers first, alone: their warm shutdown lets running tasks end while the API server still answers them.
    workers = {name: pid for name, pid in pids.items() if name.startswith("worker")}
    others = {name: pid for name, pid in pids.items() if name not in workers}
    for batch, wait_s in ((workers, 30), (others, 60)):
        for name, pid in batch.items():
            if group_members({pid}):
                try:
                    os.killpg(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                say(f"stopping {name} (pid {pid})")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and group_members(set(batch.values())):
            for pid in batch.values():
                alive(pid)
            time.sleep(0.5)
    left = group_members(groups)
    if left:
        say(f"killing {len(left)} process(es) that did not stop within 60 s: {left}")
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(1)
        for pid in pids.values():
            alive(pid)
    left = group_members(groups)
    if left:
        fail(f"processes still running after SIGKILL: {left}")
    PIDFILE.unlink(missing_ok=True)
    say("stopped; no process of the stack is left")
    return 0


# --- readiness -----------------------------------------------------------------------------------------


def check_running() -> None:
    """Fail at once, naming it and its last log line, when a started process has exited."""
    for name, pid in read_pids().items():
        if not alive(pid):
            lines = (LOGS / f"{name}.log").read_text(errors="replace").strip().splitlines() or ["(empty log)"]
            fail(f"{name} exited: {lines[-1][:300]} (see {LOGS / (name + '.log')})")


def _get_json(path: str, timeout: float = 3) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(BASE + path, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def wait_healthy(timeout: float) -> None:
    """Poll /api/v2/monitor/health until every component reports healthy."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        check_running()
        try:
            status, body = _get_json("/api/v2/monitor/health")
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


def worker_names() -> list[str]:
    """The Celery host names of the stack's workers."""
    return [f"kyc-worker-{n}@{socket.gethostname()}" for n in range(1, WORKERS + 1)]


def ping_workers(broker_url: str, timeout: float = 2.0) -> list[str]:
    """Host names of the Celery workers that answer a ping on this broker."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def wait_workers(broker_url: str, timeout: float) -> None:
    """Wait until every worker of the stack answers a Celery ping."""
    expected = set(worker_names())
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        check_running()
        seen = set(ping_workers(broker_url))
        if expected <= seen:
            say(f"Celery workers answering: {', '.join(sorted(seen))}")
            return
        time.sleep(2)
    fail(f"Celery workers not answering after {timeout:.0f}s (expected {sorted(expected)}, got {sorted(seen)}); see {LOGS}")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# --- main flows ----------------------------------------------------------------------------------------


def start() -> int:
    """Create the databases, run the init command, start every process, wait until all are ready."""
    started = time.monotonic()
    if any(alive(pid) for pid in read_pids().values()):
        fail(f"a stack is already running from {STACK_HOME}: `make stack-stop` first")
    PIDFILE.unlink(missing_ok=True)
    for port, what in ((PORT, "STACK_PORT"), (EMULATOR_PORT, "STACK_EMULATOR_PORT"), (SMTP_PORT, "STACK_SMTP_PORT")):
        if not _port_free(port):
            fail(f"port {port} on 127.0.0.1 is in use (set {what})")
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    (AIRFLOW_HOME / "plugins").mkdir(exist_ok=True)
    worker_files = compose_service("airflow-worker").get("env_file") or compose_service("airflow-apiserver")["env_file"]
    init_service = compose_service("airflow-init")
    env = stack_env(*(Path(f).name for f in worker_files))
    init_env = stack_env(*(Path(f).name for f in init_service["env_file"]))
    say(f"settings from {', '.join(worker_files)}; Airflow home {AIRFLOW_HOME}")
    check_redis(env)
    ensure_databases(env, init_env)
    # The container path of the users file is the repository's here.
    init_command = init_service["command"][-1].replace("/opt/airflow/users.json", str(USERS_FILE))
    say(f"init (docker-compose.yaml airflow-init): {init_command}")
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "init.log", "ab") as log:
        done = subprocess.run(["bash", "-c", init_command], env=init_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        fail(f"the init command failed (exit {done.returncode}); see {LOGS / 'init.log'}")
    say(f"databases ready ({time.monotonic() - started:.0f}s)")
    airflow, kyc = str(VENV_BIN / "airflow"), str(VENV_BIN / "kyc")
    ok = False
    try:
        start_process("mailsink", [kyc, "mailsink", "--port", str(SMTP_PORT), "--dir", str(STACK_HOME / "mail")], env)
        start_process("emulator", [kyc, "emulator", "serve", "--host", "127.0.0.1", "--port", str(EMULATOR_PORT),
                                   "--companies", str(EMULATOR_COMPANIES), "--seed", str(EMULATOR_SEED),
                                   "--sirene-api-key", "demo-sirene-key", "--rne-account", "demo:demo-rne-pass"], env)
        for name, args in COMPONENTS:
            start_supervised(name, [airflow, *args], env)
        for n, hostname in enumerate(worker_names(), start=1):
            # On one machine the api-server reads task logs from the shared log folder: no per-worker log server.
            start_supervised(f"worker-{n}", [airflow, "celery", "worker", "--celery-hostname", hostname, "--skip-serve-logs"],
                             env)
        wait_healthy(timeout=240)
        wait_workers(env["AIRFLOW__CELERY__BROKER_URL"], timeout=180)
        ok = True
    finally:
        if not ok:
            stop()
    elapsed = time.monotonic() - started
    (STACK_HOME / "started.json").write_text(json.dumps({"seconds": round(elapsed, 1), "workers": worker_names()}))
    summary(env, elapsed)
    return 0


def summary(env: dict[str, str], elapsed: float) -> None:
    """Where everything is and how to use it."""
    roles = user_roles()
    logins = ", ".join(f"{u} / {p} ({roles[u]})" for u, p in users().items())
    kyc_url = json.loads(env["AIRFLOW_CONN_KYC_DB"])["extra"]["url"]
    print()
    say(f"ready in {elapsed:.0f}s: CeleryExecutor with {WORKERS} workers ({', '.join(worker_names())})")
    say(f"Airflow UI and REST API: {BASE}/  (users: {logins})")
    say(f"source emulator http://127.0.0.1:{EMULATOR_PORT}, mail sink 127.0.0.1:{SMTP_PORT} (messages in {STACK_HOME / 'mail'})")
    say(f"broker {env['AIRFLOW__CELERY__BROKER_URL']}; KYC database {_describe(kyc_url)} (tasks connect as the app role)")
    say("DAGs start paused; load the lists, then onboard:")
    admin = users().get("admin", "admin")
    from kyc_dev.emulator.dataset import Dataset

    dataset = Dataset(EMULATOR_COMPANIES, EMULATOR_SEED)
    siren = dataset.siren(21)
    name = dataset.company(siren).name
    print(f"""    TOKEN=$(curl -s -X POST {BASE}/auth/token -H 'Content-Type: application/json' \\
      -d '{{"username": "admin", "password": "{admin}"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    for dag in kyc_sanctions_refresh kyc_sanctions_delta_screening kyc_onboarding kyc_case_review; do
      curl -s -X PATCH {BASE}/api/v2/dags/$dag -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{"is_paused": false}}' >/dev/null; done
    curl -s -X POST {BASE}/api/v2/dags/kyc_onboarding/dagRuns -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{{"logical_date": null, "conf": {{"customers": [{{"customer": {{"kind": "entity", "siren": "{siren}", "declared_name": "{name}"}}, "segment": "cgp"}}]}}}}'""")
    say(f"logs in {LOGS}; stop everything with: make stack-stop")
    sys.stdout.flush()


def _describe(url: str) -> str:
    from kyc_core.store.db import describe_url

    return describe_url(url)


def status() -> int:
    """Which recorded processes run, and which workers answer."""
    pids = read_pids()
    if not pids:
        say("not running")
        return 1
    for name, pid in pids.items():
        say(f"{name:<14} pid {pid:<8} {'running' if alive(pid) else 'stopped'}")
    env = stack_env("airflow.env")
    say(f"workers answering: {', '.join(ping_workers(env['AIRFLOW__CELERY__BROKER_URL'])) or 'none'}")
    return 0


def main() -> int:
    """CLI of the stack script."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "env", "supervise"])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="supervise: NAME -- ARGV (used by start)")
    args = parser.parse_args()
    if args.action == "supervise":
        name, _, argv = args.command[0], args.command[1], args.command[2:]
        return supervise(name, argv)
    if args.action == "start":
        return start()
    if args.action == "stop":
        return stop()
    if args.action == "status":
        return status()
    env = stack_env("airflow.env")
    for key in sorted(k for k in env if k.startswith(("AIRFLOW", "KYC_")) and "SECRET" not in k and "FERNET" not in k):
        print(f"export {key}={shlex.quote(env[key])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
