"""`kyc lists`: load sanctions list files as versions, show what is active, decide on quarantined versions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import StoreUnavailable, UserError
from kyc_core.lists.versions import (
    MIN_RATIONALE,
    LoadOutcome,
    approve_version,
    list_status,
    load_path,
    quarantined_versions,
    reject_version,
)
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
        "--force",
        action="store_true",
        help="activate even if the file would be refused (entry count down more than 10 %%, older than the "
        "active version) or quarantined (too many removals); recorded as forced",
    )
    load.add_argument("--json", action="store_true", help="print one JSON object per loaded path")
    load.set_defaults(func=load_handler)

    status = lists_sub.add_parser("status", help="active version per list: counts, publication date, age")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=status_handler)

    quarantine = lists_sub.add_parser(
        "quarantine", help="versions held back for too many removals, waiting for `approve` or `reject`"
    )
    quarantine.add_argument("--json", action="store_true", help="print JSON instead of a table")
    quarantine.set_defaults(func=quarantine_handler)

    for action, verb, handler in (
        ("approve", "activate a quarantined version (it replaces the active one)", approve_handler),
        ("reject", "reject a quarantined version (never activated; the same content is refused later)", reject_handler),
    ):
        decide = lists_sub.add_parser(action, help=verb)
        decide.add_argument("version_id", type=int, metavar="VERSION_ID", help="the quarantined version")
        decide.add_argument(
            "--rationale",
            required=True,
            help=f"why (at least {MIN_RATIONALE} characters, kept in the audit trail)",
        )
        decide.add_argument("--json", action="store_true", help="print the outcome as JSON")
        decide.set_defaults(func=handler)


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
    if outcome.status == "quarantined":
        return (
            f"{outcome.list_key}: QUARANTINED version {outcome.version_id} ({outcome.reason}); version "
            f"{outcome.previous_version_id} stays active until `kyc lists approve|reject {outcome.version_id}` ({where})"
        )
    kept = (
        f"version {outcome.previous_version_id} stays active"
        if outcome.previous_version_id
        else "no version active"
    )
    return f"{outcome.list_key}: REFUSED ({outcome.reason}); {kept} ({where})"


def load_handler(args: argparse.Namespace) -> int:
    """Load every PATH in order; exit 1 when any was refused or quarantined."""
    settings = get_settings()
    refused = 0
    for path in args.paths:
        outcome = with_store(
            partial(load_path, path, url=settings.effective_database_url, actor=settings.actor, force=args.force)
        )
        if outcome.status in ("refused", "quarantined"):
            refused += 1
        if args.json:
            print(json.dumps(outcome.as_dict(), sort_keys=True))
        else:
            stream = sys.stderr if outcome.status in ("refused", "quarantined") else sys.stdout
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
        for held in row.get("quarantined", []):
            print(f"{'':<10} version {held['version_id']} QUARANTINED: {held['reason']}")
    return 0


def quarantine_handler(args: argparse.Namespace) -> int:
    """Print the quarantined versions with what they would remove."""
    url = get_settings().effective_database_url

    def read() -> list[dict[str, Any]]:
        with session_scope(url) as session:
            return quarantined_versions(session)

    rows = with_store(read)
    if args.json:
        print(json.dumps(rows, sort_keys=True, indent=2))
        return 0
    if not rows:
        print("no quarantined list version")
        return 0
    print(f"{'VERSION':>7} {'LIST':<10} {'ENTRIES':>8} {'ACTIVE':>8} {'ADDED':>6} {'CHANGED':>7} {'REMOVED':>7}  LOADED")
    for row in rows:
        active = row["active_entries"] if row["active_entries"] is not None else "-"
        print(
            f"{row['version_id']:>7} {row['list']:<10} {row['entries']:>8} {active:>8} {row['added']:>6} "
            f"{row['changed']:>7} {row['removed']:>7}  {(row['loaded_at'] or '')[:19]}"
        )
    return 0


def _decide(args: argparse.Namespace, decide: Callable[..., LoadOutcome]) -> int:
    settings = get_settings()
    if len(args.rationale.strip()) < MIN_RATIONALE:
        raise UserError(f"--rationale needs at least {MIN_RATIONALE} characters")

    def run() -> LoadOutcome:
        with session_scope(settings.effective_database_url) as session:
            return decide(session, args.version_id, actor=settings.actor, rationale=args.rationale)

    outcome = with_store(run)
    if args.json:
        print(json.dumps(outcome.as_dict(), sort_keys=True))
    elif outcome.status == "activated":
        print(
            f"{outcome.list_key}: version {outcome.version_id} approved and activated ({outcome.entry_count} entries; "
            f"+{outcome.added} added, {outcome.changed} changed, -{outcome.removed} removed); "
            "the next kyc_sanctions_delta_screening run screens it (trigger one to screen now)"
        )
    else:
        print(f"{outcome.list_key}: version {outcome.version_id} rejected; the active version stays active")
    return 0


def approve_handler(args: argparse.Namespace) -> int:
    """Activate a quarantined version, audited with the approver and the rationale."""
    return _decide(args, approve_version)


def reject_handler(args: argparse.Namespace) -> int:
    """Reject a quarantined version, audited with the reviewer and the rationale."""
    return _decide(args, reject_version)
