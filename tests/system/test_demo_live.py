"""The README's first command, for real: Airflow components on loopback, runs triggered through REST.

Also the privacy rule (nothing the demo's processes logged names a sample customer), the KYC store's task role (on
PostgreSQL every component, and so every task, connects as the app role, never as the superuser), and review answers
given within half a second of the review task parking: none may be lost.
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
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST_ANSWERS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _personal_strings(home: Path) -> set[str]:
    samples = json.loads((home / "samples.json").read_text())
    found: set[str] = set()
    for sample in samples:
        for item in sample["conf"]["customers"]:
            subject = item["customer"]
            for key in ("name", "declared_name", "birth_date"):
                if subject.get(key):
                    found.add(subject[key])
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make demo` run to the end and left running (its processes are stopped afterwards)."""
    home = tmp_path_factory.mktemp("live") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KYC_"))}
    port = _free_port()
    env.update(DEMO_HOME=str(home), DEMO_PORT=str(port), DEMO_EMULATOR_PORT=str(_free_port()),
               DEMO_SMTP_PORT=str(_free_port()), DEMO_KEEP_RUNNING="1")
    demo_py = [sys.executable, str(REPO / "scripts" / "demo.py")]
    try:
        result = subprocess.run([*demo_py, "run"], env=env, capture_output=True, text=True, timeout=1500)
        yield {"result": result, "home": home, "base": f"http://127.0.0.1:{port}", "env": env}
    finally:
        # `clean` stops the processes and drops the demo's PostgreSQL metadata database, if it used one.
        subprocess.run([*demo_py, "clean"], env=env, capture_output=True, text=True, timeout=120)


def _postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _store(home: Path) -> dict:
    """The demo's KYC store: its URLs (schema owner, app role) and the app role."""
    return json.loads((home / "kyc_database.json").read_text())


@pytest.mark.airflow_live
def test_tasks_ran_as_the_app_role_never_as_the_superuser(demo):
    import psycopg
    from psycopg import errors
    from sqlalchemy.engine import make_url

    if not _postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432: the demo's KYC store is the embedded SQLite file")
    result, home = demo["result"], demo["home"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    store = _store(home)
    role = store["app_role"]
    # PostgreSQL answers: the demo's KYC store is its own PostgreSQL database, the tasks' role is not the owner's.
    assert role and make_url(store["app_url"]).get_backend_name() == "postgresql", store["app_url"]
    owner = make_url(store["owner_url"]).username
    assert role not in ("postgres", owner) and make_url(store["app_url"]).username == role
    assert f"tasks connect as {role} (not a superuser;" in result.stdout
    # What PostgreSQL saw while the runs went on: every connection to the KYC database was the app role's.
    seen = re.search(rf"tasks connected to the KYC database {store['database']} as (\S+) only \((\d+) connections seen",
                     result.stdout)
    assert seen and seen.group(1) == role and int(seen.group(2)) > 0, result.stdout[-3000:]
    # And now, live: while a kyc_source_sla_monitor run writes source health, PostgreSQL is asked who is connected to
    # the KYC database (tasks, the api-server's plugin): the app role, and nobody else.
    base, admin_url = demo["base"], "postgresql://postgres@127.0.0.1:5432/postgres"
    token = _token(base, "admin", "admin-demo")
    run_id = f"roles__{uuid.uuid4().hex[:8]}"
    status, body = _http(base, "POST", "/api/v2/dags/kyc_source_sla_monitor/dagRuns",
                         {"dag_run_id": run_id, "logical_date": None, "conf": {}}, token=token)
    assert status in (200, 409), body
    connected: set[str] = set()
    state, deadline = "queued", time.monotonic() + 300
    with psycopg.connect(admin_url, autocommit=True) as watch:
        while state not in ("success", "failed") and time.monotonic() < deadline:
            for _ in range(20):
                connected |= {row[0] for row in watch.execute(
                    "SELECT usename FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                    (store["database"],))}
                time.sleep(0.05)
            state = _http(base, "GET", f"/api/v2/dags/kyc_source_sla_monitor/dagRuns/{run_id}", token=token)[1].get("state")
    assert state == "success", state
    assert connected == {role}, connected
    # The role the tasks wrote the decisions with: not a superuser, refused any edit of a decision, any DELETE.
    libpq = make_url(store["app_url"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
        assert conn.execute("SELECT count(*) FROM decision").fetchone()[0] >= 8
        for statement in ("UPDATE decision SET outcome = 'approve' WHERE false", "DELETE FROM decision WHERE false",
                          "DELETE FROM customer WHERE false", "UPDATE audit_event SET actor = 'x' WHERE false"):
            # Refused by the grants when planned ("permission denied for table"), whatever the rows: no row is touched
            # and no append-only trigger (which refuses everyone, a superuser too) is reached.
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
                conn.execute(statement)


@pytest.mark.airflow_live
def test_demo_end_to_end_and_logs_hold_no_personal_data(demo):
    result, home = demo["result"], demo["home"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "audit trail OK" in out
    # Every kind of decision, reached through REST triggers and REST reviews in their own kyc_case_review runs.
    for line in (
        "company, clean register record",
        "company, officer on sanctions lists",
        "person, declared foreign PEP (reviewers split)",
        "company, declared name unlike the register",
        "company, RNE outage during the run",
    ):
        assert line in out
    for outcome in ("approve (final)", "reject (final)", "edd_required (final)"):
        assert outcome in out, outcome
    # Nothing ends as a "review" nobody decided: one reviewer, four eyes, or a senior after a split.
    assert "review (final)" not in out
    assert "analyst1,analyst2,senior1" in out and "analyst1,analyst2" in out
    for code in ("source_unavailable", "company_struck_off", "declared_name_mismatch", "sanctions_possible_match"):
        assert code in out, code
    # One reviewer decided the possible match and ruled its hit a false positive.
    assert re.search(r"company, officer named like a listed person\s+success\s+\S+\s+approve \(final\)\s+\S+\s+analyst1\s", out)
    # Perpetual KYC: a liquidation notice re-opened a case for EDD; the judged hit stayed quiet at the next screening.
    assert re.search(r"liquidation notice: customer \S+ -> edd_required \(pending_review, purpose registry_event", out)
    assert re.search(r"judged false positive, screened again: customer \S+ -> approve \(final, purpose manual; "
                     r"0 open hit\(s\), [1-9]\d* suppressed by a judgement", out)
    assert re.search(r"invalid SIREN \(refused at validation\)\s+failed", out)
    assert "a conf with an unknown segment was refused by the REST API (400)" in out
    assert len(list((home / "mail").glob("*.eml"))) >= 2

    # Each review run's note follows its case: the split PEP case names its three reviewers and the outcome.
    admin = _token(demo["base"], "admin", "admin-demo")
    status, runs = _http(demo["base"], "GET", "/api/v2/dags/kyc_case_review/dagRuns?limit=100", token=admin)
    notes = [r.get("note") or "" for r in runs.get("dag_runs", [])]
    assert status == 200 and any(re.fullmatch(r"edd_required: customer \w{8}, decided edd_required by analyst1, analyst2, "
                                              r"senior1", n) for n in notes), notes

    secrets = _personal_strings(home)
    assert len(secrets) >= 6
    logs = [p for p in home.rglob("*") if p.is_file() and (p.suffix == ".log" or "logs" in p.parts)]
    task_logs = [p for p in logs if "dag_id=kyc_onboarding" in str(p)]
    assert task_logs, "no task logs were written"
    leaks = {(str(p.relative_to(home)), s) for p in logs for s in secrets if s in p.read_text(errors="replace")}
    assert not leaks, f"personal data in logs: {sorted(leaks)[:5]}"


def _http(base: str, method: str, path: str, body: object | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _token(base: str, user: str, password: str) -> str:
    status, body = _http(base, "POST", "/auth/token", {"username": user, "password": password})
    assert status in (200, 201), body
    return body["access_token"]


def _pending_reviews(url: str, count: int) -> list[str]:
    """Decisions proposed as `review` (one reviewer decides), as an assessment leaves them."""
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import Customer, Decision

    now = datetime.now(UTC)
    ids = []
    with session_scope(url) as s:
        for n in range(count):
            cid, did = str(uuid.uuid4()), str(uuid.uuid4())
            s.add(Customer(id=cid, customer_ref=f"RACE-{n:03d}-{cid[:6]}", kind="entity", segment="cgp", identifiers={},
                           profile={}, input_hash="x", status="pending_review", created_at=now, updated_at=now))
            s.flush()
            s.add(Decision(id=did, customer_id=cid, run_id=f"race-{n}", outcome="review", status="pending_review",
                           risk_level="medium", score=0.25, reasons=[{"code": "sanctions_possible_match", "outcome": "review",
                                                                       "text": "a possible match"}],
                           contributions={}, documents=[], created_at=now,
                           lineage={"proposed_outcome": "review", "approvals_required": 1}))
            ids.append(did)
    return ids


@pytest.mark.airflow_live
def test_answers_given_within_half_a_second_of_parking_are_never_lost(demo):
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import AuditEvent
    from sqlalchemy import select

    assert demo["result"].returncode == 0, "the demo did not come up"
    base, home = demo["base"], demo["home"]
    url = _store(home)["app_url"]  # the tasks' own role: it may insert customers and decisions
    admin, analyst = _token(base, "admin", "admin-demo"), _token(base, "analyst1", "analyst1")
    decisions = _pending_reviews(url, FAST_ANSWERS)
    for decision_id in decisions:
        # As an integrator should: a named run id, retried on a 5xx (the demo's SQLite metadata database can be
        # busy); 409 means an earlier attempt did create it.
        for attempt in range(5):
            status, body = _http(base, "POST", "/api/v2/dags/kyc_case_review/dagRuns",
                                 {"dag_run_id": f"case__{decision_id}", "logical_date": None, "conf": {"decision_id": decision_id}},
                                 token=admin)
            if status < 500:
                break
            time.sleep(1 + attempt)
        assert status in (200, 409), body
    ours = {f"case__{decision_id}" for decision_id in decisions}
    answered: dict[str, float] = {}
    delays: list[float] = []
    deadline = time.monotonic() + 1800
    while len(answered) < FAST_ANSWERS and time.monotonic() < deadline:
        status, body = _http(base, "GET", "/api/v2/dags/kyc_case_review/dagRuns/~/hitlDetails?response_received=false&limit=100",
                             token=admin)
        for detail in body.get("hitl_details", []) if status == 200 else []:
            ti = detail["task_instance"]
            if ti["state"] != "awaiting_input" or ti["dag_run_id"] in answered or ti["dag_run_id"] not in ours:
                continue  # (the demo leaves its own last case, the liquidation's EDD review, for a person)
            seen = time.monotonic()
            path = (f"/api/v2/dags/kyc_case_review/dagRuns/{urllib.parse.quote(ti['dag_run_id'], safe='')}"
                    f"/taskInstances/{ti['task_id']}/{ti['map_index']}/hitlDetails")
            # How long after the form was written (just before the task parked) the answer leaves.
            since_form = (datetime.now(UTC) - datetime.fromisoformat(detail["created_at"])).total_seconds()
            code, reply = _http(base, "PATCH", path, {"chosen_options": ["Approve"],
                                                      "params_input": {"rationale": "cleared: different person"}}, token=analyst)
            if code == 200:
                answered[ti["dag_run_id"]] = seen
                delays.append(since_form)
        time.sleep(0.1)
    assert len(answered) == FAST_ANSWERS, f"only {len(answered)} reviews parked and were answered"
    # Answers sent as soon as the form is seen parked (polling every 0.1 s): most within half a second of it.
    delays.sort()
    assert delays[len(delays) // 2] < 0.5, f"median answer {delays[len(delays) // 2]:.2f}s after the form was written"
    states: dict[str, str] = {}
    while time.monotonic() < deadline and len(states) < FAST_ANSWERS:
        for decision_id in decisions:
            run_id = f"case__{decision_id}"
            if run_id not in states:
                status, body = _http(base, "GET", f"/api/v2/dags/kyc_case_review/dagRuns/{urllib.parse.quote(run_id, safe='')}",
                                     token=admin)
                if status == 200 and body["state"] in ("success", "failed"):
                    states[run_id] = body["state"]
        time.sleep(2)
    assert sorted(states.values()) == ["success"] * FAST_ANSWERS, states
    retried = 0
    for decision_id in decisions:
        quoted = urllib.parse.quote(f"case__{decision_id}", safe="")
        _, ti = _http(base, "GET", f"/api/v2/dags/kyc_case_review/dagRuns/{quoted}/taskInstances/review_1", token=admin)
        retried += int(ti.get("try_number", 1) > 1)
    # How often Airflow failed the try around the answer (see the README's known issues): not an error here.
    print(f"{FAST_ANSWERS} answers, median {delays[len(delays) // 2]:.2f}s / max {delays[-1]:.2f}s after the form was "
          f"written; review tries Airflow failed and retried: {retried}; answers lost: 0")
    with session_scope(url) as s:
        for decision_id in decisions:
            kinds = [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == decision_id))]
            # Every answer in the audit trail, exactly once, and the decision made by the reviewer who gave it.
            assert kinds.count("human_review") == 1 and kinds.count("final_decision") == 1, (decision_id, kinds)
            final = s.scalars(select(AuditEvent).where(AuditEvent.case_id == decision_id,
                                                       AuditEvent.event_type == "final_decision")).one()
            assert final.actor == "user:analyst1" and json.loads(final.payload)["outcome"] == "approve"
