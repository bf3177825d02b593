"""`kyc audit`: check the tamper-evident audit trail."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import StoreUnavailable
from kyc_core.settings import get_settings
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import describe_url, session_scope


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


def _verify(args: argparse.Namespace) -> int:
    url = get_settings().effective_database_url
    try:
        with session_scope(url) as session:
            result = verify_chain(session, expected_head=args.expect_head)
    except (OperationalError, ProgrammingError) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot read the audit trail at {describe_url(url)}: {first}") from None
    if result.ok:
        print(f"audit trail OK: {result.events} events, head {result.head_hash}")
        return 0
    sys.stderr.write(f"audit trail BROKEN after {result.events} valid events: {result.problem}\n")
    return 1
