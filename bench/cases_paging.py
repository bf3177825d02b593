"""Page the workspace's cases list over 100,000 cases on PostgreSQL: filters, sorts, deep pages.

Target: each page well under a second. The database is filled with synthetic customers and decisions
(outcomes, segments, risk levels, reasons and review state spread like production) and a hash-chained
`final_decision` event for every reviewed decision, since the list folds those in.

    .venv/bin/python bench/cases_paging.py                         # 100,000 cases, throwaway database
    .venv/bin/python bench/cases_paging.py --cases 20000 --repeat 5
    .venv/bin/python bench/cases_paging.py --url postgresql+psycopg://postgres@127.0.0.1:5432/kyc_bench_cases
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from kyc_core.cases.queries import CaseFilter, list_cases
from kyc_core.store.audit import GENESIS_HASH, canonical_json, event_hash
from kyc_core.store.db import dispose_engines, get_engine, session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import AuditEvent, Customer, Decision
from sqlalchemy import insert, select

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_S = 1.0
OUTCOMES = [("approve", 0.62), ("review", 0.2), ("edd_required", 0.13), ("reject", 0.05)]
SEGMENTS = ["cgp", "fintech", "asset_mgmt"]
RISK = {"approve": "low", "review": "medium", "edd_required": "high", "reject": "high"}


def _pick(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for outcome, share in OUTCOMES:
        acc += share
        if x < acc:
            return outcome
    return OUTCOMES[-1][0]


def fill(url: str, cases: int, seed: int = 7, batch: int = 5000) -> None:
    """Insert `cases` customers, one decision each, and a chained final event for the reviewed ones."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = get_engine(url)
    seq, prev = 0, GENESIS_HASH
    with engine.begin() as conn:
        head = conn.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
        if head:
            seq, prev = head.seq, head.hash
    for offset in range(0, cases, batch):
        customers, decisions, events = [], [], []
        for i in range(offset, min(cases, offset + batch)):
            cid, did = str(uuid.UUID(int=rng.getrandbits(128))), str(uuid.UUID(int=rng.getrandbits(128)))
            outcome = _pick(rng)
            at = start + timedelta(seconds=rng.randrange(0, 330 * 86400))
            unavailable = outcome == "review" and rng.random() < 0.4
            reasons = [{"code": "source_unavailable", "outcome": "review", "text": "mandatory source rne transient"}] if unavailable else []
            reasons.append({"code": f"{outcome}_score", "outcome": outcome, "text": "score band"})
            pending = outcome in ("edd_required", "reject")
            customers.append({
                "id": cid, "customer_ref": f"BENCH-{i:07d}", "kind": "entity" if rng.random() < 0.7 else "person",
                "segment": rng.choice(SEGMENTS), "channel": "api", "siren": None, "identifiers": {}, "profile": {},
                "input_hash": "0" * 64, "risk_level": RISK[outcome], "status": outcome, "flagged_for_review": outcome == "review",
                "next_review_date": (at + timedelta(days=365)).date(), "created_at": at, "updated_at": at,
            })
            decisions.append({
                "id": did, "customer_id": cid, "run_id": f"bench__{i}", "outcome": outcome,
                "status": "pending_review" if pending else "final", "risk_level": RISK[outcome], "score": round(rng.random(), 4),
                "reasons": reasons, "contributions": {}, "documents": [], "lineage": {"proposed_outcome": outcome},
                "policy_version": "cgp:2025.1", "next_review_date": (at + timedelta(days=365)).date(), "created_at": at,
            })
            # Nine reviewed decisions in ten have their final event; the rest still await review.
            if pending and rng.random() < 0.9:
                seq += 1
                payload = canonical_json({"decision_id": did, "outcome": outcome, "proposed_outcome": outcome,
                                          "reviewers": ["analyst1", "analyst2"], "confirmed": True})
                event = {"seq": seq, "event_id": str(uuid.UUID(int=rng.getrandbits(128))), "event_type": "final_decision",
                         "actor": "user:analyst1+user:analyst2", "customer_id": cid, "case_id": did, "run_id": f"bench__{i}",
                         "occurred_at": at + timedelta(hours=2), "payload": payload, "idempotency_key": f"final_decision:{did}",
                         "prev_hash": prev}
                event["hash"] = prev = event_hash(**{k: event[k] for k in (
                    "seq", "event_id", "event_type", "actor", "customer_id", "case_id", "run_id", "occurred_at", "payload", "prev_hash")})
                events.append(event)
        with engine.begin() as conn:
            conn.execute(insert(Customer.__table__), customers)
            conn.execute(insert(Decision.__table__), decisions)
            if events:
                conn.execute(insert(AuditEvent.__table__), events)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


QUERIES = [
    ("newest first, page 1", CaseFilter(), "created_at", True, 1),
    ("newest first, page 1000 (deep)", CaseFilter(), "created_at", True, 1000),
    ("score ascending, page 50", CaseFilter(), "score", False, 50),
    ("outcome = reject", CaseFilter(outcome="reject"), "created_at", True, 1),
    ("awaiting review", CaseFilter(awaiting_review=True), "created_at", True, 1),
    ("source_unavailable", CaseFilter(source_unavailable=True), "score", True, 1),
    ("flagged, segment fintech, risk medium", CaseFilter(flagged=True, segment="fintech", risk_level="medium"), "created_at", True, 3),
    ("one month, sorted by outcome", CaseFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)), "outcome", False, 2),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per query (after one warm-up)")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--url", help="an existing empty PostgreSQL database (default: a throwaway one)")
    args = parser.parse_args()

    import psycopg

    name = None
    url = args.url
    if url is None:
        name = f"kyc_bench_cases_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        started = time.perf_counter()
        fill(url, args.cases)
        print(f"input: {args.cases:,} cases (customers + decisions, final events for reviewed ones) on PostgreSQL; "
              f"filled in {time.perf_counter() - started:.1f} s; page size {args.page_size}; "
              f"{args.repeat} timed runs per query after one warm-up")
        print(f"{'query':<42} {'matches':>8} {'p50 ms':>8} {'max ms':>8}")
        worst = 0.0
        for label, flt, sort, descending, page in QUERIES:
            timings = []
            for attempt in range(args.repeat + 1):
                t0 = time.perf_counter()
                with session_scope(url) as session:
                    result = list_cases(session, flt, sort=sort, descending=descending, page=page, page_size=args.page_size)
                elapsed = time.perf_counter() - t0
                if attempt:
                    timings.append(elapsed)
            worst = max(worst, max(timings))
            print(f"{label:<42} {result.total:>8,} {statistics.median(timings) * 1000:>8.1f} {max(timings) * 1000:>8.1f}")
        verdict = "met" if worst < TARGET_S else "NOT met"
        print(f"slowest page {worst * 1000:.0f} ms (target < {TARGET_S * 1000:.0f} ms: {verdict})")
        return 0 if worst < TARGET_S else 1
    finally:
        dispose_engines()
        if name is not None:
            with psycopg.connect(ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
