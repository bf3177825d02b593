"""The register watch over N monitored companies against the local emulator: time, requests and events per pass.

The emulator runs in its own process and adds 50-200 ms to every Sirene, RNE and BODACC request. Passes, each
one `watch_bodacc` then `watch_registers` through the production path (guards, snapshots, ledger, audit):

  1. first run: BODACC since the look-back, every company fetched once (its baseline, no event);
  2. the next day, after the emulator published a liquidation notice and a new officer for `--changed` companies:
     BODACC since the watermark, every company re-fetched and compared;
  3. the same day again (idempotency): nothing new may be written.

INSEE's public plan allows 30 requests a minute (two per company): the bench raises Sirene's client limit to
`--sirene-limit` per minute and says so. Responses are never served from the cache (every pass reads live).

    .venv/bin/python bench/registry_watch.py [--companies 200] [--changed 20] [--concurrency 8]
        [--sirene-limit 6000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import urllib.request
from datetime import date

from kyc_core.customers.registration import register_customer
from kyc_core.customers.request import EntityCustomer, OnboardingCustomer
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.store import registry_events
from kyc_core.store.db import session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.watch.run import WatchOptions, watch_bodacc, watch_registers
from kyc_dev.emulator.server import EmulatorConfig, credentials, start_emulator_in_thread

LATENCY = {"latency": {"dist": "uniform", "min_ms": 50, "max_ms": 200}}


def serve_emulator(companies: int, pipe) -> None:
    """Child process: run the emulator, send its root URL, stop when told."""
    running = start_emulator_in_thread(config=EmulatorConfig(companies=companies, quotas={}))
    pipe.send(running.root)
    pipe.recv()
    running.stop()


def admin(root: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(root + "/_admin" + path, data=json.dumps(body).encode() if body else None,
                                     method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def requests_made(root: str) -> int:
    stats = admin(root, "GET", "/stats")
    return sum(stats.get(s, {}).get("requests", 0) for s in ("sirene", "rne", "bodacc"))


def run_pass(label: str, url: str, endpoints: RegistryEndpoints, root: str, today: date, options: WatchOptions,
             source_config: dict) -> None:
    before = requests_made(root)
    started = time.perf_counter()
    bodacc = watch_bodacc(url, endpoints, actor="bench", run_id=f"bench-{label}-b", today=today, options=options,
                          backend=MemoryBackend(), source_config=source_config, progress=lambda _m: None)
    middle = time.perf_counter()
    registers = watch_registers(url, endpoints, actor="bench", run_id=f"bench-{label}-r", today=today,
                                options=options, backend=MemoryBackend(), source_config=source_config,
                                progress=lambda _m: None)
    ended = time.perf_counter()
    print(f"{label}: bodacc {middle - started:.2f} s ({bodacc['batches']} batch(es), {bodacc['notices']} notice(s), "
          f"{bodacc['events_new']} new event(s), status {bodacc['status']}); registers {ended - middle:.2f} s "
          f"({registers['checked']} companies, {registers['changed']} changed, {registers['events_new']} new "
          f"event(s), status {registers['status']}); {requests_made(root) - before} requests; "
          f"total {ended - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sirene-limit", type=int, default=6000, help="Sirene client limit per minute")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='kyc-bench-watch-')}/kyc.db"
    upgrade(url)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve_emulator, args=(args.companies + 50, child), daemon=True)
    server.start()
    root = parent.recv()
    try:
        for source in ("sirene", "rne", "bodacc"):
            admin(root, "POST", "/faults", {"source": source, **LATENCY})
        config = admin(root, "GET", "/config")
        endpoints = RegistryEndpoints.from_emulator(config["base_urls"], credentials(EmulatorConfig()))
        from kyc_dev.emulator.dataset import Dataset

        dataset = Dataset(args.companies + 50, EmulatorConfig().seed)
        companies = [dataset.company_at(i) for i in range(args.companies)]
        with session_scope(url) as session:
            for company in companies:
                register_customer(session, OnboardingCustomer(customer=EntityCustomer(
                    siren=company.siren, declared_name=company.name), segment="cgp"), actor="bench", run_id=None)
        options = WatchOptions(max_age_s=0, cadence_days=1, concurrency=args.concurrency)
        source_config = {"sirene": {"rate_limit": args.sirene_limit}}
        print(f"{args.companies} monitored companies (SQLite: {url.startswith('sqlite')}), emulator latency 50-200 ms "
              f"on Sirene/RNE/BODACC, concurrency {args.concurrency}, Sirene client limit raised to "
              f"{args.sirene_limit}/min (real: 30/min), batches of {options.batch_size} SIRENs per BODACC query")
        run_pass("pass 1 (baseline)", url, endpoints, root, date(2026, 12, 7), options, source_config)
        for company in companies[: args.changed]:
            admin(root, "POST", "/events", {"event": "bodacc", "siren": company.siren, "family": "collective",
                                            "proceeding": "liquidation", "date": "2026-12-08"})
            admin(root, "POST", "/events", {"event": "officer_in", "siren": company.siren})
        run_pass(f"pass 2 (next day, {args.changed} companies changed)", url, endpoints, root, date(2026, 12, 8),
                 options, source_config)
        run_pass("pass 3 (same day again)", url, endpoints, root, date(2026, 12, 8),
                 WatchOptions(max_age_s=0, cadence_days=0, concurrency=args.concurrency), source_config)
        with session_scope(url) as session:
            print(f"registry_event rows: {registry_events.count(session)} (expected {2 * args.changed})")
    finally:
        parent.send("stop")
        server.join(10)


if __name__ == "__main__":
    main()
