"""`kyc customers`: flag a customer for re-review, and what the next perpetual-review run would select."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime

from kyc_core.errors import UserError
from kyc_core.perpetual.selection import PURPOSES, select_customers
from kyc_core.settings import get_settings
from kyc_core.store import customers as customer_repo
from kyc_core.store import flags as flag_repo
from kyc_core.store.db import session_scope

#: A manual flag's rationale is kept in the audit trail: as long as a reviewer's, and one line.
MIN_REASON, MAX_REASON = 5, 500


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `customers` command group."""
    customers = sub.add_parser("customers", help="perpetual review: manual flags and what is due")
    customers_sub = customers.add_subparsers(dest="customers_command", metavar="ACTION", parser_class=type(customers))
    customers_sub.required = True
    flag = customers_sub.add_parser("flag", help="flag a customer for re-review at the next perpetual-review run (manual)")
    flag.add_argument("customer_id", metavar="CUSTOMER_ID", help="the customer's id")
    flag.add_argument("--reason", required=True, help=f"why, {MIN_REASON}-{MAX_REASON} characters (kept in the audit trail)")
    flag.set_defaults(func=_flag)
    due = customers_sub.add_parser("due", help="customers the perpetual review would select, per reason")
    due.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
    due.add_argument("--json", action="store_true", help="print JSON instead of a table")
    due.set_defaults(func=_due)


def check_reason(text: str) -> str:
    """The rationale as kept: trimmed, one line, of a sensible length."""
    reason = " ".join((text or "").split())
    if any(ord(c) < 32 for c in text or "" if c not in "\t\n\r"):
        raise UserError("--reason: control characters are not allowed")
    if len(reason) < MIN_REASON:
        raise UserError(f"--reason: at least {MIN_REASON} characters are required")
    if len(reason) > MAX_REASON:
        raise UserError(f"--reason: at most {MAX_REASON} characters are allowed, got {len(reason)}")
    return reason


def _flag(args: argparse.Namespace) -> int:
    reason = check_reason(args.reason)
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        if customer_repo.get(session, args.customer_id) is None:
            raise UserError(f"customer {args.customer_id} is not registered")
        flag = flag_repo.raise_flag(session, args.customer_id, reason="manual", detail={"rationale": reason},
                                    actor=settings.actor, moment=datetime.now(UTC))
        flag_id = flag.id if flag is not None else None
    print(f"customer {args.customer_id} flagged for re-review (manual, flag {flag_id})")
    return 0


def _due(args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.date) if args.date else datetime.now(UTC).date()
    except ValueError:
        raise UserError(f"--date: expected YYYY-MM-DD, got {args.date!r}") from None
    with session_scope(get_settings().effective_database_url) as session:
        selection = select_customers(session, day)
    counts = selection.counts()
    if args.json:
        print(json.dumps({"date": day.isoformat(), "customers": len(selection.reasons), "reasons": counts}, indent=2))
        return 0
    print(f"Due for review on {day.isoformat()}: {len(selection.reasons)} customer(s)")
    for purpose in PURPOSES:
        print(f"  {purpose:<15} {counts[purpose]:>8}")
    return 0
