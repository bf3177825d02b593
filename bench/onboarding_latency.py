"""Onboarding latency: in-process assessment time per customer, and trigger-to-decision through the REST API.

    .venv/bin/python bench/onboarding_latency.py [--customers 50] [--runs 20] [--skip-rest]

Part 1 assesses `--customers` emulator companies in this process (registers, resolution, screening against the
emulator's OFAC + UN + EU lists, score, decision) on an embedded database. Part 2 starts the demo's Airflow
(LocalExecutor, 127.0.0.1) and triggers `kyc_onboarding` `--runs` times, one run at a time, measuring from the
POST to the proposed decision (`customer.decide` succeeded) and to the run's end; then the same for a one-task
DAG on the same Airflow, the floor any DAG pays. It also reports how long the DAG file takes to parse in a fresh
interpreter (`dag_file_parse_ms`: workers parse it for every task). All print their inputs and p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Sirene allows 30 requests a minute; two requests per company would make the limiter, not the pipeline,
# the thing measured. The bench raises it (the emulator has no quota here) and says so in its output.
SOURCE_CONFIG = {"sirene": {"rate_limit": 6000, "rate_window_s": 60}}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_process(customers: int) -> list[str]:
    """Assess customers one by one in this process; print per-customer timings; the SIRENs approved."""
    from kyc_core.customers.registration import register_batch
    from kyc_core.customers.request import parse_request
    from kyc_core.lists.refresh import refresh_list
    from kyc_core.lists.sources import DEFAULT_LIST_KEYS, resolve_source
    from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
    from kyc_core.registry.endpoints import RegistryEndpoints
    from kyc_core.resilience import CallLedger, MemoryBackend, SourceGuard, load_source_config
    from kyc_core.store.db import session_scope
    from kyc_core.store.migrate import upgrade
    from kyc_dev.emulator import EmulatorConfig, start_emulator_in_thread
    from kyc_dev.emulator.dataset import Dataset
    from kyc_dev.emulator.server import credentials

    home = Path(tempfile.mkdtemp(prefix="kyc-bench-"))
    url = f"sqlite:///{home / 'kyc.db'}"
    upgrade(url)
    config = EmulatorConfig(companies=1000, quotas={})
    with start_emulator_in_thread(config=config) as emu:
        backend = MemoryBackend()
        for key in DEFAULT_LIST_KEYS:
            source = resolve_source(key, emu.root + "/lists")
            guard = SourceGuard(source.source, backend=backend, config=load_source_config(source.source), ledger=CallLedger(url))
            refresh_list(source, database_url=url, guard=guard, actor="bench")
        ds = Dataset(config.companies, config.seed)
        items = [
            {"customer": {"kind": "entity", "siren": ds.siren(i), "declared_name": ds.company(ds.siren(i)).name}, "segment": "cgp"}
            for i in range(customers)
        ]
        with session_scope(url) as session:
            ids = [r.customer_id for r in register_batch(session, parse_request({"customers": items}), actor="bench", run_id="bench")]
        context = AssessmentContext(
            database_url=url, run_id="bench", actor="bench",
            endpoints=RegistryEndpoints.from_emulator(emu.urls, credentials(config)),
            fetch_options={"backend": MemoryBackend(), "source_config": SOURCE_CONFIG},
        )
        timings, outcomes, approved = [], {}, []
        for item, cid in zip(items, ids, strict=True):
            started = time.perf_counter()
            outcome = assess_customer(context, cid)["outcome"]
            timings.append(time.perf_counter() - started)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "approve":
                approved.append(item["customer"]["siren"])
    print(f"in-process assessment: {customers} companies of the emulator (no injected latency), SQLite, lists OFAC+UN+EU, "
          f"source config {SOURCE_CONFIG}")
    print(f"  per customer: mean {statistics.mean(timings) * 1000:.0f} ms, p50 {_pct(timings, 50) * 1000:.0f} ms, "
          f"p95 {_pct(timings, 95) * 1000:.0f} ms; outcomes {outcomes}")
    return approved


_FLOOR_DAG = """
from airflow.sdk import dag, task
import pendulum


@dag(dag_id="latency_floor", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def latency_floor():
    @task
    def nothing() -> int:
        return 1

    nothing()


latency_floor()
"""


def dag_file_parse_ms(path: Path, repeats: int = 5) -> float:
    """Median time to run the DAG file in a fresh interpreter (after `airflow.sdk` is imported), in ms."""
    import subprocess

    code = ("import time, runpy, airflow.sdk; t = time.perf_counter(); "
            f"runpy.run_path({str(path)!r}); print((time.perf_counter() - t) * 1000)")
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])
        for _ in range(repeats)
    )


def _timed_runs(demo, token: str, dag_id: str, confs: list[dict], task_id: str | None) -> tuple[list[float], list[float]]:
    """Trigger each conf in turn; seconds to `task_id` success (the proposed decision) and to the run's end."""
    to_task, to_end = [], []
    for n, conf in enumerate(confs):
        started = time.perf_counter()
        run_id = demo.trigger(token, dag_id, conf)
        quoted = demo.urllib.parse.quote(run_id, safe="")
        decided = state = None
        deadline = time.monotonic() + 300
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            if task_id and decided is None:
                _, ti = demo.http("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/0", token=token)
                if ti.get("state") == "success":
                    decided = time.perf_counter() - started
            _, body = demo.http("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}", token=token)
            state = body.get("state")
        ended = time.perf_counter() - started
        to_end.append(ended)
        to_task.append(decided if decided is not None else ended)
        print(f"  {dag_id} run {n + 1}/{len(confs)}: {state}, decision {to_task[-1]:.1f} s, run end {ended:.1f} s", flush=True)
    return to_task, to_end


def through_rest(runs: int, sirens: list[str]) -> None:
    """Start the demo's services, then trigger one clean company at a time (no human review) through the REST API."""
    home = Path(tempfile.mkdtemp(prefix="kyc-bench-demo-"))
    os.environ.update(
        DEMO_HOME=str(home), DEMO_PORT=str(_free_port()), DEMO_EMULATOR_PORT=str(_free_port()),
        DEMO_SMTP_PORT=str(_free_port()), KYC_SOURCE_CONFIG=json.dumps(SOURCE_CONFIG),
    )
    sys.path.insert(0, str(REPO / "scripts"))
    import demo  # noqa: PLC0415 - configured by the environment set just above
    from kyc_dev.emulator.dataset import Dataset

    demo.DEMO_HOME.mkdir(parents=True, exist_ok=True)
    metadata = demo.metadata_url()
    demo.render_config(metadata)
    # The product's DAGs plus the one-task floor DAG, in a folder of the bench's own.
    dags = home / "dags"
    dags.mkdir()
    for path in (REPO / "dags").glob("*.py"):
        (dags / path.name).symlink_to(path)
    (dags / "latency_floor.py").write_text(_FLOOR_DAG)
    cfg = demo.AIRFLOW_HOME / "airflow.cfg"
    cfg.write_text(cfg.read_text().replace(f"dags_folder = {REPO / 'dags'}", f"dags_folder = {dags}"))
    env = demo.demo_env()
    airflow, kyc = str(demo.VENV_BIN / "airflow"), str(demo.VENV_BIN / "kyc")
    import subprocess

    try:
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([airflow, "pools", "set", "kyc_assessment", "4", "bench"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kyc, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
        demo.start("mailsink", [kyc, "mailsink", "--port", str(demo.SMTP_PORT), "--dir", str(home / "mail")], env)
        demo.start("emulator", [kyc, "emulator", "serve", "--port", str(demo.EMULATOR_PORT), "--companies", "1000",
                                "--sirene-api-key", "demo-sirene-key", "--rne-account", "demo:demo-rne-pass"], env)
        for name, args in demo.COMPONENTS:
            demo.start(name, [airflow, *args], env)
        demo.wait_healthy()
        token = demo.token_for("admin")
        for dag_id in ("kyc_sanctions_refresh", "kyc_onboarding", "latency_floor"):
            demo.wait_for_dag(token, dag_id)
        refresh = demo.trigger(token, "kyc_sanctions_refresh", {})
        demo.wait_runs(token, "kyc_sanctions_refresh", [refresh])
        ds = Dataset(1000, 42)
        confs = [{"customers": [{"customer": {"kind": "entity", "siren": sirens[n % len(sirens)],
                                              "declared_name": ds.company(sirens[n % len(sirens)]).name},
                                 "segment": "cgp", "external_ref": f"BENCH-{n}"}]} for n in range(runs)]
        decision, run_end = _timed_runs(demo, token, "kyc_onboarding", confs, "customer.decide")
        _, floor = _timed_runs(demo, token, "latency_floor", [{} for _ in range(runs)], None)
    finally:
        demo.stop_all()
        if not metadata.startswith("sqlite"):
            demo.drop_metadata_database()
    print(f"trigger-to-decision through the REST API: {runs} sequential runs, one company each, LocalExecutor "
          f"(parallelism 4), metadata database {demo._describe(metadata)}, SQLite KYC database, 2 cores, "
          f"source config {SOURCE_CONFIG}")
    print(f"  trigger to proposed decision: p50 {_pct(decision, 50):.1f} s, p95 {_pct(decision, 95):.1f} s")
    print(f"  trigger to run end:           p50 {_pct(run_end, 50):.1f} s, p95 {_pct(run_end, 95):.1f} s")
    print(f"  floor (one-task DAG):         p50 {_pct(floor, 50):.1f} s, p95 {_pct(floor, 95):.1f} s; "
          f"decision p50 / floor p50 = {_pct(decision, 50) / _pct(floor, 50):.2f}")
    print(f"  dag_file_parse_ms (kyc_onboarding, fresh interpreter, median of 5): "
          f"{dag_file_parse_ms(REPO / 'dags' / 'kyc_onboarding.py'):.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50, help="companies assessed in-process (default 50)")
    parser.add_argument("--runs", type=int, default=20, help="REST-triggered runs (default 20)")
    parser.add_argument("--skip-rest", action="store_true", help="only the in-process part")
    args = parser.parse_args()
    approved = in_process(args.customers)
    if not args.skip_rest:
        if not approved:
            raise SystemExit("no company was approved in-process: nothing to time without human review")
        through_rest(args.runs, approved)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
