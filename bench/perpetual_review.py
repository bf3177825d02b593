"""A perpetual-review cycle against the local emulator: wall time, register calls made and saved, cost.

Input (declared and printed): --customers customers registered from the emulator's dataset (90 % companies,
10 % persons, segment `cgp`), each onboarded once through the assessment, then all made due. The emulator
runs in its own process with --latency-ms of latency on every register request (default 50-200 ms).
Breaker, rate-limit and cache state live in Redis (a unique key prefix), the KYC database is a throwaway
PostgreSQL database (or --database-url).

Passes, each through the production path (`kyc_core.perpetual`: selection stored once, mapped batches of
--batch-size customers assessed by `review_batch` in --workers processes, like mapped tasks on workers):
  1. onboarding of the book (sets the decisions the reviews compare with; timed for reference);
  2. review cycle, cold cache: the answers cached at onboarding are months old at a periodic review, so the
     cycle starts from an empty cache (a new key prefix);
  3. review cycle, warm cache: the same customers again the same day (a register event or list change
     re-review after a periodic one): registers answer from the cache within their TTL.
Each pass prints customers/s, decisions written vs unchanged, register calls made and answered from the
cache per source, their cost at the configured prices and what the cache saved, and the time and cost of a
100,000-customer cycle extrapolated from the measured rate.

Rate limits: INSEE's public plan allows 30 requests/minute. The bench raises the emulator's Sirene quota
and the client limit to --sirene-limit per second and says so; the quota's own bound on a cycle is printed.

    .venv/bin/python bench/perpetual_review.py [--customers 1000] [--workers 2] [--batch-size 200]
        [--latency-ms 50:200] [--sirene-limit 100] [--database-url URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.perpetual.review import review_batch, run_summary
from kyc_core.perpetual.selection import plan_run
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.store import customers as customer_repo
from kyc_core.store.db import dispose_engines, session_scope
from kyc_core.store.migrate import upgrade
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import EmulatorConfig, credentials, start_emulator_in_thread

sys.path.insert(0, os.path.dirname(__file__))
from registry_lookups import make_database, redis_or_none  # noqa: E402

REGISTERS = ("sirene", "rne", "bodacc")
TARGET = 100_000

_CTX: AssessmentContext | None = None


def serve_emulator(companies: int, sirene_quota: int, pipe) -> None:
    """Child process: run the emulator, send its root URL, stop when told."""
    running = start_emulator_in_thread(config=EmulatorConfig(companies=companies, quotas={"sirene": (sirene_quota, 1.0)}))
    pipe.send(running.root)
    pipe.recv()
    running.stop()


def admin(root: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{root}/_admin{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def _init(ctx: AssessmentContext) -> None:
    global _CTX
    dispose_engines()  # engines are never shared across a fork
    _CTX = ctx


def _onboard(ids: list[str]) -> int:
    assert _CTX is not None
    for cid in ids:
        assess_customer(_CTX, cid)
    return len(ids)


def _review(batch_no: int) -> dict[str, Any]:
    assert _CTX is not None
    return review_batch(_CTX, batch_no)


def register_book(database_url: str, ds: Dataset, n: int) -> list[str]:
    persons = n // 10
    items: list[dict[str, Any]] = []
    for i in range(n - persons):
        siren = ds.siren(i)
        items.append({"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name}, "segment": "cgp"})
    given = ("Camille", "Louis", "Chloe", "Hugo", "Ines", "Jules", "Lea", "Nathan", "Manon", "Arthur")
    family = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau")
    for i in range(persons):
        name = f"{given[i % 10]} {family[(i // 10) % 10]}"
        items.append({"customer": {"kind": "person", "name": name, "birth_date": f"19{50 + i % 50}-{1 + i % 12:02d}-12",
                                   "nationality": "FR", "residence_country": "FR"}, "segment": "cgp"})
    ids: list[str] = []
    for start in range(0, len(items), 500):
        with session_scope(database_url) as session:
            ids += [r.customer_id for r in register_batch(session, parse_request({"customers": items[start:start + 500]}),
                                                          actor="bench", run_id="bench-register")]
    return ids


def make_due(database_url: str, ids: list[str]) -> None:
    with session_scope(database_url) as session:
        for cid in ids:
            customer_repo.reviewed(session, cid, next_review_date=date(2026, 1, 1), moment=datetime.now(UTC))


def review_pass(name: str, ctx: AssessmentContext, workers: int, batch_size: int, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    plan = plan_run(ctx.database_url, ctx.run_id, today=datetime.now(UTC).date(), batch_size=batch_size, actor="bench")
    with multiprocessing.get_context("fork").Pool(workers, initializer=_init, initargs=(ctx,)) as pool:
        batches = list(pool.imap_unordered(_review, plan["batches"]))
    seconds = time.perf_counter() - started
    summary = run_summary(ctx.database_url, ctx.run_id, batches)
    rate = summary["reviewed"] / seconds
    print(f"\n{name}: {summary['reviewed']}/{summary['customers']} customers in {len(plan['batches'])} batch(es) of "
          f"{batch_size}, {workers} worker process(es): {seconds:.1f} s, {rate:.2f} customers/s "
          f"({1000 * seconds * workers / max(summary['reviewed'], 1):.0f} ms per customer per worker)")
    print(f"  outcomes {summary['outcomes']}; decisions written {summary['decisions_written']}, unchanged "
          f"{summary['unchanged']}, source_unavailable {summary['source_unavailable']}")
    for source, usage in summary["register_calls"].items():
        print(f"  {source:<7} calls {usage['calls']:>6}  cached {usage['cached']:>6}  cost {usage['cost_eur']:>8.2f} EUR"
              f"  saved by the cache {usage['saved_eur']:>8.2f} EUR")
    per_customer = summary["cost_eur"] / max(summary["reviewed"], 1)
    print(f"  total cost {summary['cost_eur']:.2f} EUR ({per_customer:.4f} EUR per customer), saved {summary['saved_eur']:.2f} EUR")
    hours = TARGET / rate / 3600
    print(f"  extrapolated to {TARGET:,} customers at this rate: {hours:.1f} h on {workers} worker process(es), "
          f"{per_customer * TARGET:,.0f} EUR at the first-tier prices (tiers lower RNE and RBE past 50k / 20k a month)")
    sirene = summary["register_calls"].get("sirene", {}).get("calls", 0) / max(summary["reviewed"], 1)
    if sirene:
        print(f"  Sirene's real quota (30 requests/min) alone bounds {TARGET:,} such reviews to "
              f"{TARGET * sirene / 30 / 60:.1f} h ({sirene:.2f} uncached Sirene requests per customer)")
    return {"seconds": seconds, **summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--latency-ms", default="50:200")
    parser.add_argument("--sirene-limit", type=int, default=100, help="client Sirene limit per second (raised; real: 30/min)")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()

    # The bench's own screening index: the one under the working tree's KYC home is left alone.
    os.environ.setdefault("KYC_SCREENING_INDEX_DIR", tempfile.mkdtemp(prefix="kyc-bench-index-"))
    database_url, drop = make_database(args.database_url)
    redis_url = redis_or_none(args.redis_url)
    companies = max(args.customers, 300)
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_emulator, args=(companies, args.sirene_limit + 10, child))
    server.start()
    root = parent.recv()
    try:
        print(f"Input: {args.customers:,} customers ({args.customers - args.customers // 10:,} companies, "
              f"{args.customers // 10:,} persons), emulator dataset of {companies:,} companies, latency {args.latency_ms} ms "
              f"on {', '.join(REGISTERS)}; KYC database {database_url.split('@')[-1]}; "
              f"state {'Redis' if redis_url else 'in-process (no Redis)'}; {args.workers} worker process(es); "
              f"Sirene limit raised to {args.sirene_limit}/s (real plan 30/min); {os.cpu_count()} CPU(s)")
        low, high = (float(x) for x in args.latency_ms.split(":"))
        for source in REGISTERS:
            admin(root, "/faults", {"source": source, "latency": {"dist": "uniform", "min_ms": low, "max_ms": high}})
        upgrade(database_url)
        from kyc_core.lists.refresh import refresh_list
        from kyc_core.lists.sources import DEFAULT_LIST_KEYS, resolve_source
        from kyc_core.resilience import build_guard

        for key in DEFAULT_LIST_KEYS:
            source = resolve_source(key, root + "/lists")
            refresh_list(source, database_url=database_url, guard=build_guard(source.source, database_url=database_url),
                         actor="bench")
        ds = Dataset(companies, EmulatorConfig().seed)
        started = time.perf_counter()
        ids = register_book(database_url, ds, args.customers)
        print(f"registered {len(ids):,} customers in {time.perf_counter() - started:.1f} s")

        endpoints = RegistryEndpoints.from_emulator({s: f"{root}/{s}" for s in ("sirene", "rne", "bodacc", "recherche")},
                                                    credentials(EmulatorConfig()))
        config = {"sirene": {"rate_limit": args.sirene_limit, "rate_window_s": 1}}
        base = AssessmentContext(database_url=database_url, run_id="bench-onboarding", actor="bench", endpoints=endpoints,
                                 redis_url=redis_url, key_prefix=f"kycbench:{uuid.uuid4().hex[:8]}:",
                                 fetch_options={"source_config": config})
        started = time.perf_counter()
        chunks = [ids[i:i + args.batch_size] for i in range(0, len(ids), args.batch_size)]
        with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init, initargs=(base,)) as pool:
            done = sum(pool.imap_unordered(_onboard, chunks))
        seconds = time.perf_counter() - started
        print(f"\nonboarding (reference): {done:,} customers in {seconds:.1f} s, {done / seconds:.2f} customers/s")

        make_due(database_url, ids)
        cold = replace(base, run_id="bench-review-cold", key_prefix=f"kycbench:{uuid.uuid4().hex[:8]}:")
        review_pass("review cycle, cold cache", cold, args.workers, args.batch_size, len(ids))
        make_due(database_url, ids)
        review_pass("review cycle, warm cache (same day)", replace(cold, run_id="bench-review-warm"), args.workers,
                    args.batch_size, len(ids))
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(match="kycbench:*", count=1000):
                client.delete(key)
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
