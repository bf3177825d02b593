"""What committing each paid answer's ledger row before use costs, against buffered rows (free sources).

Every call goes through a real `SourceGuard` (in-process state backend, so Redis latency is left out)
whose fetch answers at once: the time measured is the guard's own work plus the ledger. Paid calls
commit their `source_call` row before returning; free calls are buffered and written in batches of 200.
Both run sequentially and with `--concurrency` calls in flight, on PostgreSQL (a throwaway database at
KYC_TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and on an SQLite file.

    .venv/bin/python bench/ledger_before_use.py [--calls 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from kyc_core.resilience import CallLedger, MemoryBackend, SourceGuard, load_source_config
from kyc_core.store.db import dispose_engines, session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import SourceCall
from sqlalchemy import func, select

PG_ADMIN_URL = os.environ.get("KYC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


async def _run(url: str, *, paid: bool, calls: int, concurrency: int) -> float:
    """Seconds for `calls` guarded calls, every row written at the end."""
    config = load_source_config("rne", {"*": {"retry_initial_s": 0.01}})
    if not paid:
        config = replace(config, price_tiers=())
    ledger = CallLedger(url)
    guard = SourceGuard("rne", backend=MemoryBackend(), config=config, ledger=ledger)
    limit = asyncio.Semaphore(concurrency)

    async def answer() -> dict:
        return {"ok": True}

    async def one(n: int) -> None:
        async with limit:
            await guard.call("company", f"{'paid' if paid else 'free'}:{n}", answer, cacheable=False)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(calls)))
    await guard.aclose()
    return time.perf_counter() - start


def _database(kind: str) -> tuple[str, object]:
    if kind == "sqlite":
        directory = tempfile.TemporaryDirectory(prefix="kyc-bench-")
        return f"sqlite:///{Path(directory.name) / 'kyc.db'}", directory
    import psycopg

    name = f"kyc_bench_{uuid.uuid4().hex[:10]}"
    plain = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop(kind: str, handle: object) -> None:
    dispose_engines()
    if kind == "sqlite":
        handle.cleanup()  # type: ignore[attr-defined]
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{handle}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"{args.calls} guarded calls per pass; rows: paid = committed one by one before use, free = buffered")
    print(f"{'database':<10} {'in flight':>9} {'free ms/call':>13} {'paid ms/call':>13} {'paid/free':>9}")
    for kind in ("postgres", "sqlite"):
        url, handle = _database(kind)
        try:
            upgrade(url)
            for concurrency in (1, args.concurrency):
                free = asyncio.run(_run(url, paid=False, calls=args.calls, concurrency=concurrency))
                paid = asyncio.run(_run(url, paid=True, calls=args.calls, concurrency=concurrency))
                print(f"{kind:<10} {concurrency:>9} {free / args.calls * 1000:>13.3f} {paid / args.calls * 1000:>13.3f}"
                      f" {paid / free:>9.1f}")
            with session_scope(url) as session:
                rows = session.scalar(select(func.count()).select_from(SourceCall))
                billed = session.scalar(select(func.count()).select_from(SourceCall).where(SourceCall.cost > 0))
            expected = 4 * args.calls
            print(f"{kind:<10} ledger rows {rows} (expected {expected}), paid rows {billed} (expected {2 * args.calls})")
        finally:
            _drop(kind, handle)


if __name__ == "__main__":
    main()
