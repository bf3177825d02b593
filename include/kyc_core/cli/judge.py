"""`kyc judge` and `kyc judgements`: analyst judgements on a customer's screening hits, for bulk work."""

from __future__ import annotations

import argparse
import json

from kyc_core.cases.judging import (
    ALL_SUBJECTS,
    OVERTURN_PENDING,
    OVERTURNED,
    UNCHANGED,
    judge_entry,
    judgements_of,
)
from kyc_core.screening.judgements import VERDICTS
from kyc_core.settings import get_settings
from kyc_core.store.db import session_scope

_SAID = {
    "recorded": "recorded",
    UNCHANGED: "already in force, nothing written",
    OVERTURN_PENDING: "overturn of a true match requested: a second, different analyst must run the same command",
    OVERTURNED: "true match overturned (two analysts)",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `judge` and `judgements` commands."""
    judge = sub.add_parser("judge", help="judge a customer's hit(s) on one list entry: false_positive or true_match")
    judge.add_argument("customer_id", metavar="CUSTOMER_ID", help="the customer's id")
    judge.add_argument("entry", metavar="LIST:ENTRY_ID", help="the list entry, as the case file shows it (e.g. ofac_sdn:40900)")
    judge.add_argument("verdict", choices=list(VERDICTS), help="false_positive suppresses the hit while the entry is unchanged")
    judge.add_argument("--rationale", required=True, help="why (at least 5 characters), kept with the judgement")
    judge.add_argument("--actor", help="the analyst (an Airflow user id); default KYC_ACTOR or cli:$USER")
    judge.add_argument("--subject", action="append", default=[], metavar="KEY",
                       help=f"the subject key when the entry hit several subjects of the customer (repeatable; {ALL_SUBJECTS}: every one)")
    judge.add_argument("--json", action="store_true", help="print the result as JSON")
    judge.set_defaults(func=_judge)
    listing = sub.add_parser("judgements", help="the judgements of a customer's hits, and whether each is in force")
    listing.add_argument("customer_id", metavar="CUSTOMER_ID", help="the customer's id")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.set_defaults(func=_list)


def _judge(args: argparse.Namespace) -> int:
    settings = get_settings()
    analyst = (args.actor or settings.actor).strip()
    with session_scope(settings.effective_database_url) as session:
        results = judge_entry(session, args.customer_id, args.entry, args.verdict, rationale=args.rationale,
                              analyst=analyst, subjects=args.subject)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    for r in results:
        print(f"{r.list_key}:{r.native_id} subject {r.subject_key} of customer {r.customer_id}: {r.verdict} by {analyst}:"
              f" {_SAID[r.status]}")
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        rows = judgements_of(session, args.customer_id)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"customer {args.customer_id}: no judgement")
        return 0
    for row in rows:
        pending = f"; overturn requested by {row['overturn_requested_by']}" if row.get("overturn_requested_by") else ""
        print(f"{row['list_key']}:{row['native_id']}  {row['subject_key']}  {row['verdict'] or '-'}  {row['state']}"
              f"  by {row['analyst'] or '-'} at {row['judged_at'] or '-'}{pending}")
    return 0
