"""Load and fault suite against the Celery stack (`make stack`): onboarding triggers in bursts, one reconciliation table.

    make stack
    .venv/bin/python bench/chaos.py [--requests 100] [--burst 20] [--pause 5] [--invalid-every 10]
                                    [--sanctioned-every 10] [--fault none|kill-worker|source-outage] [--drain-timeout 1800]

Every request is one `kyc_onboarding` trigger through the REST API for one emulator company (a new one each time),
sent in bursts of `--burst` with `--pause` seconds between bursts. Every `--invalid-every`-th request carries a
SIREN with a bad check digit (it must end as a rejected input), every `--sanctioned-every`-th a company whose officer
is on the lists (it must never be approved).

**Client retry (documented for integrators in the README):** each request has its own `dag_run_id`; on an HTTP 5xx
or a connection error the same body is sent again after 1, 2, 4, 8 and 16 s; a 409 means an earlier attempt created
the run. A request is **lost** when no attempt created a run, or when its run produced neither a decision nor an
`input_rejected` event by the end of the drain.

A run still queued or running when `--drain-timeout` ends is **pending** (counted apart; a load larger than the
machine drains in that time). Reconciliation: requests = decisions + rejected inputs + lost + pending; duplicates (more than one decision for a request's
customer and run); wrong approvals (a sanctioned company approved); drain time (last trigger to last outcome);
trigger-to-decision p50/p95 (the POST that created the run to the decision row's `created_at`); paid calls (the
ledger's rows with a cost since the load began against the answers the emulator's paid routes gave, 2xx and 404, the
emulator's own counter: `/_admin/stats?by=route`); `kyc audit verify` (the chain, and every decision row against the
content hash its audit event holds).

Faults during the load (one per run, `--fault-at` seconds after the first trigger):
- `kill-worker`: `kill -9` of the process group of the stack's `worker-1` (the Celery worker and its task
  processes), restarted 30 s later with the stack's own command;
- `source-outage`: RNE answers 503 for 60 s in the emulator (decisions go to `review` / `source_unavailable`);
- `restart-redis`, `restart-postgres`: **not run by default and refused unless `--servers-are-mine`**: the stack uses
  this machine's PostgreSQL and Redis, which other users share; on a machine of your own, the suite runs
  `STACK_REDIS_RESTART` / `STACK_PG_RESTART` (shell commands you give, e.g. `systemctl restart redis`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RETRY_WAITS_S = (1, 2, 4, 8, 16)


def _stack():
    spec = importlib.util.spec_from_file_location("stack_script", REPO / "scripts" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STACK = _stack()
BASE = STACK.BASE


def say(message: str) -> None:
    """Progress on stderr, the table on stdout."""
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


def http(method: str, path: str, body: object | None = None, token: str | None = None, timeout: float = 30) -> tuple[int, object]:
    """One JSON request to the stack's API server; status 0 for a connection error."""
    request = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:300]
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return 0, str(exc)


def token() -> str:
    """An admin token for the stack (users of docker/users.json)."""
    status, body = http("POST", "/auth/token", {"username": "admin", "password": STACK.users()["admin"]})
    if status not in (200, 201) or not isinstance(body, dict):
        raise SystemExit(f"[chaos] error: the stack at {BASE} refused the login ({status}); is `make stack` running?")
    return body["access_token"]


def trigger(auth: str, run_id: str, conf: dict) -> tuple[str, int, float | None]:
    """POST one run with the documented retry: (outcome, attempts, time the run was created)."""
    for attempt, wait in enumerate((*RETRY_WAITS_S, None), start=1):
        sent = time.time()
        status, _ = http("POST", "/api/v2/dags/kyc_onboarding/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf},
                         auth)
        if status in (200, 201):
            return "created", attempt, sent
        if status == 409:
            return "created", attempt, None
        if 400 <= status < 500:
            return "refused", attempt, sent
        if wait is None:
            break
        time.sleep(wait)
    return "lost", len(RETRY_WAITS_S) + 1, None


def run_state(auth: str, run_id: str) -> str | None:
    """The state Airflow reports for an onboarding run (None when it cannot say)."""
    status, body = http("GET", f"/api/v2/dags/kyc_onboarding/dagRuns/{run_id}", token=auth)
    return body.get("state") if status == 200 and isinstance(body, dict) else None


def requests_plan(count: int, invalid_every: int, sanctioned_every: int, tag: str) -> list[dict]:
    """One request per trigger: its run id, conf and what it must end as."""
    from kyc_dev.emulator.dataset import Dataset

    ds = Dataset(STACK.EMULATOR_COMPANIES, STACK.EMULATOR_SEED)
    sanctioned = sorted({k.siren for k in ds.known_positives()})
    sanctioned_set = set(sanctioned)
    clean = (ds.siren(i) for i in range(STACK.EMULATOR_COMPANIES) if ds.siren(i) not in sanctioned_set)
    plan = []
    for n in range(count):
        ref = f"CHAOS-{tag}-{n:05d}"
        if invalid_every and n % invalid_every == invalid_every - 1:
            siren, kind = "552100555", "invalid"
        elif sanctioned_every and n % sanctioned_every == sanctioned_every // 2 and sanctioned:
            siren, kind = sanctioned[(n // sanctioned_every) % len(sanctioned)], "sanctioned"
        else:
            siren, kind = next(clean), "clean"
        name = ds.company(siren).name if kind != "invalid" else "Bad Key SARL"
        plan.append({"run_id": f"chaos__{tag}_{n:05d}", "kind": kind, "conf": {"customers": [
            {"customer": {"kind": "entity", "siren": siren, "declared_name": name}, "segment": "cgp", "channel": "api",
             "external_ref": ref}]}})
    return plan


def outcomes(kyc_url: str, run_ids: list[str]) -> dict[str, dict]:
    """Run id -> what the KYC database holds for it: decisions (outcome, created_at) and input rejections."""
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import AuditEvent, Decision
    from sqlalchemy import select

    found: dict[str, dict] = {r: {"decisions": [], "rejected": False} for r in run_ids}
    with session_scope(kyc_url) as session:
        for run_id, outcome, created in session.execute(
            select(Decision.run_id, Decision.outcome, Decision.created_at).where(Decision.run_id.in_(run_ids))
        ):
            found[run_id]["decisions"].append((outcome, created))
        for (run_id,) in session.execute(
            select(AuditEvent.run_id).where(AuditEvent.run_id.in_(run_ids), AuditEvent.event_type == "input_rejected")
        ):
            found[run_id]["rejected"] = True
    return found


#: The emulator routes a paid register bills (RNE and its beneficial owners share one endpoint), by route prefix.
PAID_ROUTES = {"rne": "GET /rne/api/companies/", "rbe": "GET /rne/api/companies/", "bodacc": "GET /bodacc/"}


def paid_calls(kyc_url: str, since: datetime, emulator_admin: str) -> tuple[int, int]:
    """(paid rows in the ledger since `since`, answers the emulator's paid routes gave: 2xx and 404, what is billed)."""
    from kyc_core.resilience.config import load_source_config
    from kyc_core.store.calls import billable_calls
    from kyc_core.store.db import session_scope

    paid = [source for source in PAID_ROUTES if load_source_config(source).is_paid]
    with session_scope(kyc_url) as session:
        ledger = billable_calls(session, paid, since)
    with urllib.request.urlopen(emulator_admin + "?by=route", timeout=10) as reply:
        routes = json.loads(reply.read())
    prefixes = {PAID_ROUTES[source] for source in paid}
    billed = sum(count for route, statuses in routes.items() if route.startswith(tuple(prefixes))
                 for status, count in statuses.items() if status.startswith("2") or status == "404")
    return ledger, billed


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))] if ordered else float("nan")


def fault(kind: str, env: dict[str, str]) -> None:
    """Inject one fault into the running stack (see the module docstring)."""
    if kind == "kill-worker":
        pid = STACK.read_pids().get("worker-1")
        if pid is None:
            say("no worker-1 recorded: fault skipped")
            return
        say(f"kill -9 of worker-1 (process group {pid})")
        os.killpg(pid, signal.SIGKILL)
        time.sleep(30)
        STACK.start_supervised("worker-1", [str(STACK.VENV_BIN / "airflow"), "celery", "worker", "--celery-hostname",
                                            STACK.worker_names()[0], "--skip-serve-logs"], env)
        say("worker-1 restarted")
    elif kind == "source-outage":
        base = f"http://127.0.0.1:{STACK.EMULATOR_PORT}/_admin/faults"
        request = urllib.request.Request(base, data=json.dumps({"source": "rne", "outage": "503"}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        say("RNE outage (503) for 60 s")
        time.sleep(60)
        urllib.request.urlopen(urllib.request.Request(base + "?source=rne", method="DELETE"), timeout=10).close()
        say("RNE outage over")
    elif kind in ("restart-redis", "restart-postgres"):
        command = os.environ.get("STACK_REDIS_RESTART" if kind == "restart-redis" else "STACK_PG_RESTART", "")
        if not command:
            say(f"{kind}: no restart command given (STACK_REDIS_RESTART / STACK_PG_RESTART): fault skipped")
            return
        say(f"{kind}: {command}")
        subprocess.run(command, shell=True, check=False)  # noqa: S602 - a command the operator gave for their own server


def main() -> int:
    """Run the load (and one fault), drain, print the reconciliation table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between bursts")
    parser.add_argument("--invalid-every", type=int, default=10)
    parser.add_argument("--sanctioned-every", type=int, default=10)
    parser.add_argument("--fault", choices=["none", "kill-worker", "source-outage", "restart-redis", "restart-postgres"],
                        default="none")
    parser.add_argument("--fault-at", type=float, default=60, help="seconds after the first trigger the fault starts")
    parser.add_argument("--servers-are-mine", action="store_true",
                        help="allow restart-redis / restart-postgres (never on a shared PostgreSQL or Redis)")
    parser.add_argument("--drain-timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.requests < 1 or args.burst < 1:
        parser.error("--requests and --burst must be at least 1")
    if args.fault in ("restart-redis", "restart-postgres") and not args.servers_are_mine:
        parser.error(f"--fault {args.fault} restarts a server other users may share: add --servers-are-mine if it is yours")
    env = STACK.stack_env("airflow.env")
    kyc_url = env["KYC_DATABASE_URL"]
    auth = token()
    # Reviews stay out of the measure: kyc_case_review is left as it is (paused on a new stack, its runs queue).
    for dag_id in ("kyc_onboarding", "kyc_sanctions_refresh", "kyc_sanctions_delta_screening"):
        http("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, auth)
    refresh = f"chaos_lists__{uuid.uuid4().hex[:6]}"
    say("loading the lists through kyc_sanctions_refresh")
    http("POST", "/api/v2/dags/kyc_sanctions_refresh/dagRuns", {"dag_run_id": refresh, "logical_date": None, "conf": {}}, auth)
    for _ in range(150):
        status, body = http("GET", f"/api/v2/dags/kyc_sanctions_refresh/dagRuns/{refresh}", token=auth)
        if isinstance(body, dict) and body.get("state") in ("success", "failed"):
            say(f"list refresh: {body['state']}")
            break
        time.sleep(2)
    # The paid-call reconciliation counts from here: the emulator's own counts and the ledger's rows.
    emulator_admin = f"http://127.0.0.1:{STACK.EMULATOR_PORT}/_admin/stats"
    urllib.request.urlopen(urllib.request.Request(emulator_admin, method="DELETE"), timeout=10).close()
    ledger_since = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    plan = requests_plan(args.requests, args.invalid_every, args.sanctioned_every, tag)
    say(f"{args.requests} onboarding triggers in bursts of {args.burst} every {args.pause:.0f}s against {BASE} "
        f"(tag {tag}; {sum(p['kind'] == 'invalid' for p in plan)} invalid, {sum(p['kind'] == 'sanctioned' for p in plan)} "
        f"sanctioned); fault: {args.fault}")
    fault_thread = None
    if args.fault != "none":
        fault_thread = threading.Timer(args.fault_at, fault, args=(args.fault, env))
        fault_thread.start()
    started = time.time()
    for first in range(0, len(plan), args.burst):
        burst = plan[first:first + args.burst]
        threads = []
        for item in burst:
            def send(item: dict = item) -> None:
                item["http"], item["attempts"], item["sent"] = trigger(auth, item["run_id"], item["conf"])
            threads.append(threading.Thread(target=send))
            threads[-1].start()
        for thread in threads:
            thread.join()
        say(f"sent {min(first + args.burst, len(plan))}/{len(plan)}")
        if first + args.burst < len(plan):
            time.sleep(args.pause)
    last_trigger = time.time()
    run_ids = [p["run_id"] for p in plan]
    deadline = time.monotonic() + args.drain_timeout
    seen: dict[str, dict] = {}
    while True:
        try:
            seen = outcomes(kyc_url, run_ids)
        except Exception as exc:  # noqa: BLE001 - the fault may be the KYC database itself: wait for it
            if time.monotonic() > deadline:
                raise SystemExit(f"[chaos] error: the KYC database did not come back before the drain timeout ({exc})") from None
            say(f"KYC database unreachable ({type(exc).__name__}), waiting for it")
            time.sleep(10)
            continue
        pending = [p for p in plan if p["http"] == "created" and not seen[p["run_id"]]["decisions"]
                   and not seen[p["run_id"]]["rejected"]]
        say(f"draining: {len(plan) - len(pending)}/{len(plan)} accounted for")
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(10)
    if fault_thread is not None:
        fault_thread.join()
    decisions = [p for p in plan if seen[p["run_id"]]["decisions"]]
    rejected = [p for p in plan if not seen[p["run_id"]]["decisions"] and (seen[p["run_id"]]["rejected"] or p["http"] == "refused")]
    unaccounted = [p for p in plan if p not in decisions and p not in rejected]
    # A run still queued or running when the drain timeout ends is pending (a load larger than the drain allowed),
    # not lost; a run that ended without a decision or a rejection, or a request that created no run, is lost.
    pending = [p for p in unaccounted if p["http"] == "created" and run_state(auth, p["run_id"]) in ("queued", "running")]
    lost = [p for p in unaccounted if p not in pending]
    duplicates = sum(len(seen[p["run_id"]]["decisions"]) - 1 for p in decisions)
    wrong = [p for p in decisions if p["kind"] == "sanctioned" and any(o == "approve" for o, _ in seen[p["run_id"]]["decisions"])]
    misrouted = [p for p in rejected if p["kind"] != "invalid"] + [p for p in decisions if p["kind"] == "invalid"]
    latencies = [min(c for _, c in seen[p["run_id"]]["decisions"]).timestamp() - p["sent"] for p in decisions if p["sent"]]
    ends = [c.timestamp() for p in decisions for _, c in seen[p["run_id"]]["decisions"]]
    drain = (max(ends) - last_trigger) if ends else float("nan")
    retried = sum(p["attempts"] > 1 for p in plan)
    ledger, billed = paid_calls(kyc_url, ledger_since, emulator_admin)
    audit = subprocess.run([str(STACK.VENV_BIN / "kyc"), "audit", "verify"], env=env, capture_output=True, text=True)
    audit_line = (audit.stdout.strip() or audit.stderr.strip()).splitlines()[-1:] or ["no output"]
    rows = [
        ("requests", len(plan)),
        ("decisions", len(decisions)),
        ("rejected inputs", len(rejected)),
        ("lost", len(lost)),
        ("pending at the drain timeout (run queued or running)", len(pending)),
        ("requests = decisions + rejected + lost + pending",
         "yes" if len(plan) == len(decisions) + len(rejected) + len(lost) + len(pending) else "NO"),
        ("triggers retried after a 5xx / connection error", retried),
        ("duplicate decisions", duplicates),
        ("wrong approvals (sanctioned approved)", len(wrong)),
        ("valid requests rejected, or invalid decided", len(misrouted)),
        ("load duration (first to last trigger)", f"{last_trigger - started:.0f} s"),
        ("drain time (last trigger to last decision)", f"{drain:.0f} s"),
        ("throughput", f"{len(decisions) / max(1.0, (max(ends) if ends else last_trigger) - started) * 60:.1f} decisions/min"),
        ("trigger-to-decision p50 / p95", f"{_pct(latencies, 50):.0f} s / {_pct(latencies, 95):.0f} s"
         if latencies else "-"),
        ("paid calls: ledger rows / register answers", f"{ledger} / {billed}"),
        ("fault", args.fault),
        ("kyc audit verify", audit_line[0][:100]),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"chaos run {tag}: {args.requests} requests, bursts of {args.burst}, {STACK.WORKERS} Celery workers, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    if lost:
        print("  lost run ids: " + ", ".join(p["run_id"] for p in lost[:20]))
    return 0 if not lost and not duplicates and not wrong and not misrouted and ledger == billed and audit.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
