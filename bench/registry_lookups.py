"""Registry lookups against the local emulator: sequential vs bounded concurrency, limits held, cache, cost.

Each lookup fetches one company from Sirene (legal unit + establishments), INPI RNE (record), RBE
(beneficial owners) and BODACC (notices) through the production path (`kyc_core.registry`): guards
with breaker, rate limit, retries and cache on Redis, raw snapshots and ledger rows in the KYC
database, audit events. The emulator runs in its own process and adds 50-200 ms latency to every
request of the three registers.

Passes:
  1. sequential, on a subset (one request at a time), cold cache; the time for all lookups is
     extrapolated from its rate and printed as such;
  2. bounded concurrency on every lookup, cold cache;
  3. the same lookups again: served from the cache.

Rate limits. INSEE's public plan allows 30 requests/minute, which would make 2,000 lookups take
more than two hours; the benchmark lowers nothing silently: it raises the emulator's Sirene quota to
`--sirene-quota` per second and configures the client limit to `--sirene-limit` per second below it.
RNE keeps the emulator's real daily quota (10,000/day); BODACC has none. A violation is a 429 seen by
the emulator; local refusals are ledger rows with outcome `rate_limited`.

    .venv/bin/python bench/registry_lookups.py [--companies 2000] [--sequential 30] [--concurrency 32]
        [--sirene-limit 100] [--sirene-quota 110] [--latency-ms 50:200] [--database-url URL] [--redis-url URL]

Without --database-url a throwaway database is created on the Postgres at KYC_TEST_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped afterwards, or an SQLite file when
Postgres is not reachable. Without Redis the in-process state backend is used (said in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass

import aiohttp
from kyc_core.registry import RegistryEndpoints, fetch_companies
from kyc_core.resilience import CallContext, CallLedger, MemoryBackend
from kyc_core.store.db import dispose_engines, session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from kyc_dev.emulator.server import EmulatorConfig, credentials, start_emulator_in_thread
from sqlalchemy import func, select

REGISTERS = ("sirene", "rne", "bodacc")
PG_ADMIN_URL = os.environ.get("KYC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KYC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def serve_emulator(companies: int, quotas: dict, pipe) -> None:
    """Child process: run the emulator, send its root URL, stop when told."""
    running = start_emulator_in_thread(config=EmulatorConfig(companies=companies, quotas=quotas))
    pipe.send(running.root)
    pipe.recv()
    running.stop()


@dataclass
class Pass:
    """Measured figures of one pass."""

    name: str
    lookups: int
    seconds: float
    requests: dict[str, int]
    statuses: dict[str, dict[str, int]]
    outcomes: Counter
    cost: dict[str, float]
    unavailable: int

    @property
    def rate(self) -> float:
        """Lookups per second."""
        return self.lookups / self.seconds if self.seconds else 0.0


async def admin(root: str, method: str, path: str, body: dict | None = None) -> dict:
    """One call to the emulator's admin API."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{root}/_admin{path}", json=body) as resp,
    ):
        resp.raise_for_status()
        return await resp.json()


def make_database(url: str | None) -> tuple[str, callable]:
    """The KYC database URL to use and how to clean it up."""
    if url:
        return url, lambda: None
    try:
        import psycopg

        plain = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
        name = f"kyc_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            dispose_engines()
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop
    except Exception as exc:  # noqa: BLE001 - any failure means the embedded database is used
        print(f"(Postgres not reachable: {type(exc).__name__}; using an SQLite file)")
        return f"sqlite:///{tempfile.mkdtemp(prefix='kyc-bench-')}/kyc.db", lambda: None


def redis_or_none(url: str | None) -> str | None:
    """The Redis URL when it answers, else None (in-process state)."""
    import redis

    try:
        client = redis.Redis.from_url(url or REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
        return url or REDIS_URL
    except Exception:  # noqa: BLE001
        return None


def ledger_figures(database_url: str, run_id: str) -> tuple[Counter, dict[str, float]]:
    """Ledger outcomes and cost per source of one pass."""
    with session_scope(database_url) as session:
        rows = session.execute(
            select(SourceCall.source, SourceCall.outcome, func.count(), func.sum(SourceCall.cost))
            .where(SourceCall.run_id == run_id)
            .group_by(SourceCall.source, SourceCall.outcome)
        ).all()
    outcomes: Counter = Counter()
    cost: dict[str, float] = defaultdict(float)
    for source, outcome, count, total in rows:
        outcomes[outcome] += count
        cost[source] += float(total or 0.0)
    return outcomes, dict(cost)


async def run_pass(
    name: str,
    sirens: list[str],
    *,
    root: str,
    endpoints: RegistryEndpoints,
    database_url: str,
    redis_url: str | None,
    prefix: str,
    backend,
    ledger: CallLedger,
    config: dict,
    concurrency: int,
    per_company: int,
    per_source: int,
) -> Pass:
    """Fetch every SIREN once and collect the figures."""
    await admin(root, "DELETE", "/stats")
    run_id = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    options = {"backend": backend} if backend is not None else {}
    started = time.perf_counter()
    results = await fetch_companies(
        sirens,
        endpoints=endpoints,
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=prefix,
        context=CallContext(run_id=run_id, task_id="bench"),
        concurrency=concurrency,
        ledger=ledger,
        source_config=config,
        max_concurrency=per_company,
        per_source_concurrency=per_source,
        **options,
    )
    seconds = time.perf_counter() - started
    stats = await admin(root, "GET", "/stats")
    outcomes, cost = ledger_figures(database_url, run_id)
    return Pass(
        name=name,
        lookups=len(sirens),
        seconds=seconds,
        requests={s: stats.get(s, {}).get("requests", 0) for s in REGISTERS},
        statuses={s: stats.get(s, {}).get("by_status", {}) for s in REGISTERS},
        outcomes=outcomes,
        cost=cost,
        unavailable=sum(1 for r in results if r.unavailable),
    )


def print_pass(p: Pass, extra: str = "") -> None:
    """One pass's figures."""
    print(f"\n[{p.name}] {p.lookups} lookups in {p.seconds:.1f} s = {p.rate:.1f} lookups/s{extra}")
    print(
        "  HTTP requests at the emulator: "
        + ", ".join(f"{s} {p.requests[s]}" for s in REGISTERS)
        + f" (total {sum(p.requests.values())})"
    )
    print("  statuses: " + "; ".join(f"{s} {dict(sorted(p.statuses[s].items()))}" for s in REGISTERS))
    total = sum(p.outcomes.values())
    print(f"  ledger rows: {total} " + str(dict(sorted(p.outcomes.items()))))
    print(
        "  ledger cost EUR: "
        + ", ".join(f"{s} {c:.2f}" for s, c in sorted(p.cost.items()))
        + f" (total {sum(p.cost.values()):.2f})"
    )
    print(f"  lookups with an unavailable source: {p.unavailable}")


def violations(p: Pass) -> int:
    """429 answers the emulator gave (quota exceeded) plus local rate-limit refusals."""
    return sum(p.statuses[s].get("429", 0) for s in REGISTERS) + p.outcomes.get("rate_limited", 0)


async def main_async(args: argparse.Namespace, root: str, database_url: str, redis_url: str | None) -> None:
    config_credentials = credentials(EmulatorConfig())
    endpoints = RegistryEndpoints.from_emulator(
        {s: f"{root}/{s}" for s in REGISTERS}, config_credentials, rbe_entitled=True
    )
    low, high = (float(x) for x in args.latency_ms.split(":"))
    for source in REGISTERS:
        await admin(
            root,
            "POST",
            "/faults",
            {"source": source, "latency": {"dist": "uniform", "min_ms": low, "max_ms": high}},
        )
    config = {"sirene": {"rate_limit": args.sirene_limit, "rate_window_s": 1}}
    ledger = CallLedger(database_url)
    sirens_all = [s for s in _sirens(args.companies)]
    subset = sirens_all[: args.sequential]
    common = {
        "root": root,
        "endpoints": endpoints,
        "database_url": database_url,
        "redis_url": redis_url,
        "ledger": ledger,
        "config": config,
    }

    def state(prefix: str) -> dict:
        return {"prefix": prefix, "backend": None if redis_url else MemoryBackend()}

    print("\nConfigured limits (client side, shared through Redis) vs emulator quotas:")
    print(
        f"  sirene: client {args.sirene_limit} req / 1 s (moving window); emulator {args.sirene_quota} req / 1 s "
        "(real INSEE public plan: 30 req / 60 s, raised for this benchmark)"
    )
    print("  rne + rbe: no client limit; emulator RNE quota 10,000 req / day (its real default)")
    print("  bodacc: no client limit; emulator unlimited")

    run_prefix = f"kycbench:{uuid.uuid4().hex[:8]}:"
    sequential = await run_pass(
        "sequential",
        subset,
        **common,
        **state(run_prefix + "seq:"),
        concurrency=1,
        per_company=1,
        per_source=1,
    )
    extrapolated = args.companies / sequential.rate if sequential.rate else float("inf")
    print_pass(
        sequential,
        f"; extrapolated to {args.companies} lookups: {extrapolated:.0f} s "
        f"({extrapolated / 60:.1f} min), not measured",
    )

    cold = await run_pass(
        "concurrent",
        sirens_all,
        **common,
        **state(run_prefix + "main:"),
        concurrency=args.concurrency,
        per_company=4,
        per_source=args.per_source,
    )
    print_pass(cold)
    warm = await run_pass(
        "second pass",
        sirens_all,
        **common,
        **state(run_prefix + "main:"),
        concurrency=args.concurrency,
        per_company=4,
        per_source=args.per_source,
    )
    print_pass(warm)

    hits = warm.outcomes.get("cache_hit", 0)
    warm_rows = sum(warm.outcomes.values())
    print("\nSummary")
    print(
        f"  throughput: sequential {sequential.rate:.2f} lookups/s, bounded concurrency "
        f"({args.concurrency} lookups, {args.per_source} requests per source in flight) {cold.rate:.1f} lookups/s "
        f"= x{cold.rate / sequential.rate:.1f}"
        if sequential.rate
        else ""
    )
    print(
        f"  {args.companies} lookups: {cold.seconds:.1f} s with bounded concurrency vs {extrapolated:.0f} s "
        "sequential (extrapolated)"
    )
    sirene_peak = args.sirene_limit
    print(
        f"  sirene requests in the concurrent pass: {cold.requests['sirene']} in {cold.seconds:.1f} s "
        f"= {cold.requests['sirene'] / cold.seconds:.1f}/s average (client limit {sirene_peak}/s)"
    )
    print(
        f"  rate limit violations (429 at the emulator + local refusals): sequential {violations(sequential)}, "
        f"concurrent {violations(cold)}, second pass {violations(warm)}"
    )
    print(
        f"  cache hit ratio on the second pass: {hits}/{warm_rows} = {hits / warm_rows:.1%} of ledger rows; "
        f"HTTP requests in that pass: {sum(warm.requests.values())}"
    )
    print(
        f"  cost from the ledger: first pass {sum(cold.cost.values()):.2f} EUR "
        f"({cold.cost.get('rne', 0):.2f} RNE, {cold.cost.get('rbe', 0):.2f} RBE, {cold.cost.get('bodacc', 0):.2f} "
        f"BODACC, {cold.cost.get('sirene', 0):.2f} Sirene); second pass {sum(warm.cost.values()):.2f} EUR"
    )


def _sirens(count: int) -> list[str]:
    """The SIRENs of the emulator's first `count` companies (same dataset and seed as the server)."""
    from kyc_dev.emulator.dataset import Dataset

    dataset = Dataset(count, EmulatorConfig().seed)
    return list(dataset.sirens(0, count))


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, run the passes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2000, help="lookups per pass (default 2000)")
    parser.add_argument(
        "--sequential", type=int, default=30, help="lookups of the sequential subset (default 30)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="lookups in flight (default 32)")
    parser.add_argument(
        "--per-source", type=int, default=16, help="HTTP requests in flight per source (default 16)"
    )
    parser.add_argument(
        "--sirene-limit", type=int, default=100, help="client Sirene limit per second (default 100)"
    )
    parser.add_argument(
        "--sirene-quota", type=int, default=110, help="emulator Sirene quota per second (default 110)"
    )
    parser.add_argument(
        "--latency-ms", default="50:200", help="uniform latency added by the emulator (default 50:200)"
    )
    parser.add_argument("--database-url", help="KYC database URL (default: a throwaway Postgres database)")
    parser.add_argument("--redis-url", help=f"Redis URL (default {REDIS_URL})")
    args = parser.parse_args(argv)

    print("command: " + " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print(
        f"inputs: {args.companies} companies (emulator dataset seed {EmulatorConfig().seed}), sequential subset "
        f"{args.sequential}, concurrency {args.concurrency} lookups / {args.per_source} requests per source, "
        f"latency {args.latency_ms} ms on sirene, rne, bodacc; 5 HTTP requests per lookup "
        "(sirene legal unit + establishments, rne record, rbe owners, bodacc notices)"
    )
    database_url, drop = make_database(args.database_url)
    upgrade(database_url)
    redis_url = redis_or_none(args.redis_url)
    print(
        f"state: {'Redis ' + redis_url if redis_url else 'in-process (no Redis reachable)'}; "
        f"KYC database: {database_url.split('://')[0]}"
    )
    quotas = {"sirene": (args.sirene_quota, 1.0), "rne": (10_000, 86_400.0), "recherche": (7, 1.0)}
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve_emulator, args=(args.companies, quotas, child), daemon=True)
    server.start()
    try:
        root = parent.recv()
        print(f"emulator: {root} (own process)")
        asyncio.run(main_async(args, root, database_url, redis_url))
    finally:
        parent.send("stop")
        server.join(15)
        if redis_url:
            _drop_keys(redis_url)
        drop()
    return 0


def _drop_keys(redis_url: str) -> None:
    """Remove this run's breaker, limit, cache and usage keys."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match="kycbench:*", count=1000):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
