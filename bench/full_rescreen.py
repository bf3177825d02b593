"""Full-book rescreen throughput: a generated book, sharded, against the real lists, on worker processes.

Input (declared and printed): the real OFAC SDN (2024-05-02), UN SC and EU files from ../shared/data/real
loaded as the active list versions (their screening index built once, as at activation); --customers
generated customers (the generator of `bench/screening_throughput.py`: French-style people and companies, a
share of immigrant-origin names, about 0.2 % typo copies of listed persons so hits exist) written to a
throwaway PostgreSQL KYC database (or --database-url).

Measured: `kyc_full_rescreen`'s path (`kyc_core.rescreen.full`): `plan_shards` over the book, then every
shard through `rescreen_shard` (read the shard's customers and RNE facts, build subjects, open the persisted
index, screen, judge, record hits once, flag customers with new hits, one audit event) on --workers processes,
as mapped tasks on Celery workers. Wall time, customers/s, the split of a shard's time, hits and flags.
A second pass re-runs every shard of the same run: each finds its audit event and screens nothing.

    .venv/bin/python bench/full_rescreen.py [--customers 100000] [--shard-size 5000] [--workers 2]
    .venv/bin/python bench/full_rescreen.py --customers 1000000        # the issue's figure
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from registry_lookups import make_database  # noqa: E402
from screening_throughput import REAL_LISTS, SHARED, generate_customers, load_real_entries  # noqa: E402

_URL = ""


def _init(url: str) -> None:
    global _URL
    from kyc_core.store.db import dispose_engines

    dispose_engines()  # engines are never shared across a fork
    _URL = url


def _shard(shard: dict[str, Any]) -> dict[str, Any]:
    from kyc_core.rescreen.full import rescreen_shard

    return rescreen_shard(_URL, shard, run_id="bench-full", reason="matcher upgrade (bench)", actor="bench")


def write_book(url: str, rows: list[dict[str, str]]) -> None:
    """Customers straight into the table in chunks (a bench fixture; the product registers them one by one)."""
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import Customer
    from sqlalchemy import insert

    moment = datetime.now(UTC)
    rng = random.Random(7)
    chunk: list[dict[str, Any]] = []
    for number, row in enumerate(rows):
        if row["type"] == "company":
            profile = {"customer": {"kind": "entity", "declared_name": row["name"]}, "segment": "cgp"}
        else:
            profile = {"customer": {"kind": "person", "name": row["name"], "birth_date": row["dob"] or None,
                                    "nationality": row["country"] or "FR", "residence_country": "FR"},
                       "segment": rng.choice(("cgp", "fintech", "asset_mgmt"))}
        chunk.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "customer_ref": f"BENCH-{number}",
                      "kind": profile["customer"]["kind"], "segment": profile["segment"], "channel": "bench", "siren": None,
                      "identifiers": {}, "profile": profile, "input_hash": f"{number:064d}", "status": "approve",
                      "flagged_for_review": False, "created_at": moment, "updated_at": moment})
        if len(chunk) == 10_000 or number == len(rows) - 1:
            with session_scope(url) as session:
                session.execute(insert(Customer), chunk)
            chunk = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    index_dir = tempfile.mkdtemp(prefix="kyc-bench-index-")
    os.environ["KYC_SCREENING_INDEX_DIR"] = index_dir
    from kyc_core.lists.versions import load_path
    from kyc_core.rescreen.full import plan_shards, rescreen_summary
    from kyc_core.store.migrate import upgrade

    url, drop = make_database(args.database_url)
    try:
        upgrade(url)
        started = time.perf_counter()
        for relative in REAL_LISTS:
            outcome = load_path(SHARED / relative, url=url, actor="bench")
            print(f"list {relative}: {outcome.status}, version {outcome.version_id}")
        print(f"lists loaded and indexed in {time.perf_counter() - started:.1f} s")
        entries, notes = load_real_entries()
        rows = generate_customers(random.Random(42), args.customers, entries)
        started = time.perf_counter()
        write_book(url, rows)
        print(f"Input: {args.customers:,} generated customers ({sum(r['type'] == 'company' for r in rows):,} companies) "
              f"against {len(entries):,} real list entries; shards of {args.shard_size:,}; {args.workers} worker "
              f"process(es); {os.cpu_count()} CPU(s); book written in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        shards = plan_shards(url, args.shard_size)
        planned = time.perf_counter() - started
        with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init, initargs=(url,)) as pool:
            results = []
            for number, result in enumerate(pool.imap_unordered(_shard, shards), 1):
                results.append(result)
                if number % max(1, len(shards) // 10) == 0 or number == len(shards):
                    print(f"  {number}/{len(shards)} shards, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        seconds = time.perf_counter() - started
        total = rescreen_summary(results)
        split = {k: sum(r["seconds"][k] for r in results) for k in ("load", "index", "screen")}
        print(f"\nfull rescreen: {total['customers']:,} customers ({total['subjects']:,} subjects) in {len(shards)} shard(s): "
              f"{seconds:.1f} s wall ({planned:.1f} s planning), {total['customers'] / seconds:,.0f} customers/s")
        print(f"  time in shards (sum over workers): load {split['load']:.1f} s, open index {split['index']:.1f} s, "
              f"screen {split['screen']:.1f} s; writing hits, flags and the event is the rest")
        print(f"  hits {total['hits']:,} (recorded {total['hits_recorded']:,}, new {total['new_hits']:,}), suppressed "
              f"{total['suppressed']:,}, customers flagged {total['customers_flagged']:,}")
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init, initargs=(url,)) as pool:
            again = list(pool.imap_unordered(_shard, shards))
        print(f"  re-run of the same run: {sum(bool(r.get('already_done')) for r in again)}/{len(shards)} shards found "
              f"done, {time.perf_counter() - started:.1f} s")
        for note in notes:
            print(f"  ({note})")
    finally:
        drop()
        import shutil

        shutil.rmtree(Path(index_dir), ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
