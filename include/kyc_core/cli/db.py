"""`kyc db`: create, migrate and lock down the KYC database."""

from __future__ import annotations

import argparse

from kyc_core.errors import UserError
from kyc_core.settings import get_settings
from kyc_core.store import migrate
from kyc_core.store.db import describe_url


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `db` command group."""
    db = sub.add_parser("db", help="KYC database schema (KYC_DATABASE_URL, default: embedded SQLite)")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=type(db))
    db_sub.required = True

    up = db_sub.add_parser("upgrade", help="migrate the schema up (records a schema_upgraded audit event)")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=_upgrade)

    down = db_sub.add_parser("downgrade", help="migrate the schema down (to 'base' drops every table)")
    down.add_argument("revision", help="target revision, e.g. 0001, -1 or base")
    down.add_argument("--yes", action="store_true", help="confirm a downgrade that drops data")
    down.set_defaults(func=_downgrade)

    cur = db_sub.add_parser("current", help="print the database's revision and the code's head revision")
    cur.set_defaults(func=_current)

    grant = db_sub.add_parser(
        "grant-app-role", help="(PostgreSQL) grant ROLE what tasks need: read/write, but append-only on audit_event"
    )
    grant.add_argument("role", help="an existing database role used by Airflow tasks")
    grant.set_defaults(func=_grant)


def _url() -> str:
    return get_settings().effective_database_url


def _upgrade(args: argparse.Namespace) -> int:
    before, after = migrate.upgrade(_url(), args.revision)
    where = describe_url(_url())
    if before == after:
        print(f"KYC database {where} already at revision {after}")
    else:
        print(f"KYC database {where} upgraded: {before or 'empty'} -> {after}")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    if not args.yes:
        raise UserError("a downgrade drops tables and their data; repeat with --yes to confirm")
    before, after = migrate.downgrade(_url(), args.revision)
    print(f"KYC database {describe_url(_url())} downgraded: {before} -> {after or 'base (empty)'}")
    return 0


def _current(_args: argparse.Namespace) -> int:
    current = migrate.current_revision(_url())
    head = migrate.head_revision()
    print(f"database: {current or 'empty'}  code head: {head}")
    return 0 if current == head else 1


def _grant(args: argparse.Namespace) -> int:
    from kyc_core.store.roles import APPEND_ONLY, grant_app_role

    grant_app_role(_url(), args.role)
    print(f"role {args.role}: read/write on KYC tables, no DELETE; INSERT-only on {', '.join(sorted(APPEND_ONLY))}")
    return 0
