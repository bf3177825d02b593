"""`kyc audit`: check the tamper-evident audit trail and list its events."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import StoreUnavailable, UserError
from kyc_core.settings import get_settings
from kyc_core.store import decisions as decision_repo
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import describe_url, session_scope
from kyc_core.store.models import AuditEvent, Customer


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `audit` command group."""
    audit = sub.add_parser("audit", help="audit trail checks")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=type(audit))
    audit_sub.required = True
    verify = audit_sub.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first edited or missing event"
    )
    verify.add_argument(
        "--expect-head",
        metavar="HASH",
        help="the head hash recorded earlier outside the database: detects events removed at the end",
    )
    verify.set_defaults(func=_verify)
    listing = audit_sub.add_parser("list", help="show events, newest last (ids and codes only)")
    listing.add_argument("--type", dest="event_type", choices=[t.value for t in EventType], help="only this event type")
    listing.add_argument("--customer", metavar="ID", help="only this customer's events (id or unique prefix of 6+ characters)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many, the newest (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    url = get_settings().effective_database_url
    try:
        with session_scope(url) as session:
            query = select(AuditEvent)
            if args.event_type:
                query = query.where(AuditEvent.event_type == args.event_type)
            if args.customer:
                ids = session.scalars(select(Customer.id).where(Customer.id.like(f"{args.customer}%")).limit(2)).all()
                if len(args.customer) < 6 or len(ids) != 1:
                    raise UserError(f"no single customer with id {args.customer!r}")
                query = query.where(AuditEvent.customer_id == ids[0])
            events = list(reversed(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(args.limit)).all()))
            rows = [{"seq": e.seq, "at": e.occurred_at.isoformat(), "type": e.event_type, "actor": e.actor,
                     "customer_id": e.customer_id, "case_id": e.case_id, "run_id": e.run_id, "payload": json.loads(e.payload)}
                    for e in events]
    except (OperationalError, ProgrammingError) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot read the audit trail at {describe_url(url)}: {first}") from None
    for row in rows:
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            who = row["customer_id"][:8] if row["customer_id"] else "-"
            print(f"#{row['seq']:<6} {row['at']}  {row['type']:<24} {row['actor']:<28} customer {who}  "
                  f"{json.dumps(row['payload'], sort_keys=True)[:120]}")
    if not rows:
        print("no event")
    return 0


def _verify(args: argparse.Namespace) -> int:
    url = get_settings().effective_database_url
    try:
        with session_scope(url) as session:
            result = verify_chain(session, expected_head=args.expect_head)
            decisions = decision_repo.tampered(session) if result.ok else []
    except (OperationalError, ProgrammingError) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot read the audit trail at {describe_url(url)}: {first}") from None
    if not result.ok:
        sys.stderr.write(f"audit trail BROKEN after {result.events} valid events: {result.problem}\n")
        return 1
    if decisions:
        # The chain holds, but a decision row no longer says what was sealed in it.
        sys.stderr.write(f"decisions BROKEN: {decisions[0]}" + (f" (+{len(decisions) - 1} more)" if len(decisions) > 1 else "") + "\n")
        return 1
    print(f"audit trail OK: {result.events} events, head {result.head_hash}; every decision matches its sealed hash")
    return 0
