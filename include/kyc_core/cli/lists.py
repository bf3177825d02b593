"""`kyc lists`: load sanctions list files as versions and show what is active."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import StoreUnavailable
from kyc_core.lists.versions import LoadOutcome, list_status, load_path
from kyc_core.settings import get_settings
from kyc_core.store.db import describe_url, session_scope


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `lists` command group."""
    lists = sub.add_parser("lists", help="sanctions lists: load files as versions, show the active ones")
    lists_sub = lists.add_subparsers(dest="lists_command", metavar="ACTION", parser_class=type(lists))
    lists_sub.required = True

    load = lists_sub.add_parser(
        "load",
        help="load list files; the format is detected from content (a directory with sdn.csv/add.csv/alt.csv is OFAC CSV)",
    )
    load.add_argument("paths", nargs="+", metavar="PATH", help="list file or OFAC CSV directory")
    load.add_argument(
        "--force", action="store_true", help="activate even if the entry count dropped by more than 10 %%"
    )
    load.add_argument("--json", action="store_true", help="print one JSON object per loaded path")
    load.set_defaults(func=load_handler)

    status = lists_sub.add_parser("status", help="active version per list: counts, publication date, age")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=status_handler)


def with_store(action: Callable[[], Any]) -> Any:
    """Run a database action, turning a missing schema or unreachable server into one line."""
    try:
        return action()
    except (OperationalError, ProgrammingError) as exc:
        url = describe_url(get_settings().effective_database_url)
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreUnavailable(
            f"KYC database {url} is unusable ({detail}); run `kyc db upgrade` first"
        ) from None


def _describe(outcome: LoadOutcome) -> str:
    where = outcome.source_uri or ""
    if outcome.status == "activated":
        return (
            f"{outcome.list_key}: activated version {outcome.version_id} ({outcome.entry_count} entries; "
            f"+{outcome.added} added, {outcome.changed} changed, -{outcome.removed} removed) from {where}"
        )
    if outcome.status == "unchanged":
        return f"{outcome.list_key}: unchanged, version {outcome.version_id} stays active ({where})"
    kept = (
        f"version {outcome.previous_version_id} stays active"
        if outcome.previous_version_id
        else "no version active"
    )
    return f"{outcome.list_key}: REFUSED ({outcome.reason}); {kept} ({where})"


def load_handler(args: argparse.Namespace) -> int:
    """Load every PATH in order; exit 1 when any was refused."""
    settings = get_settings()
    refused = 0
    for path in args.paths:
        outcome = with_store(
            partial(load_path, path, url=settings.effective_database_url, actor=settings.actor, force=args.force)
        )
        if outcome.status == "refused":
            refused += 1
        if args.json:
            print(json.dumps(outcome.as_dict(), sort_keys=True))
        else:
            stream = sys.stderr if outcome.status == "refused" else sys.stdout
            print(_describe(outcome), file=stream)
    return 1 if refused else 0


def status_handler(args: argparse.Namespace) -> int:
    """Print the active version of every list."""
    url = get_settings().effective_database_url

    def read() -> list[dict[str, Any]]:
        with session_scope(url) as session:
            return list_status(session, now=datetime.now(UTC))

    rows = with_store(read)
    if args.json:
        print(json.dumps(rows, sort_keys=True, indent=2))
        return 0
    if not rows:
        print("no list loaded yet (use `kyc lists load PATH...`)")
        return 0
    print(f"{'LIST':<10} {'VERSION':>7} {'ENTRIES':>8} {'PUBLISHED':<20} {'AGE (h)':>8}  FORMAT / NOTE")
    for row in rows:
        active = row["active"]
        if active is None:
            print(f"{row['list']:<10} {'-':>7} {'-':>8} {'-':<20} {'-':>8}  no active version")
        else:
            published = (active["published_at"] or "unknown")[:19]
            age = active["age_hours"] if active["age_hours"] is not None else "-"
            print(
                f"{row['list']:<10} {active['version_id']:>7} {active['entries']:>8} {published:<20} {age:>8}  {active['source_format']}"
            )
        if row["last_refusal"]:
            print(f"{'':<10} last load refused: {row['last_refusal']['reason']}")
    return 0
