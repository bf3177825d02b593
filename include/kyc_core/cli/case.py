"""`kyc case`: explain a decision from the database alone."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kyc_core.cases.casefile import load_case, render_csv, render_text
from kyc_core.settings import get_settings
from kyc_core.store.db import session_scope


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `case` command group."""
    case = sub.add_parser("case", help="show or export a decision's case file")
    case_sub = case.add_subparsers(dest="case_command", metavar="ACTION", parser_class=type(case))
    case_sub.required = True
    show = case_sub.add_parser("show", help="print the decision, its reasons, contributions, hits and timeline")
    show.add_argument("ref", metavar="ID", help="decision id, customer id or customer reference")
    show.add_argument("--json", action="store_true", help="print the case file as JSON")
    show.set_defaults(func=_show)
    export = case_sub.add_parser("export", help="write a regulator-ready case file")
    export.add_argument("ref", metavar="ID", help="decision id, customer id or customer reference")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=_export)


def _load(ref: str) -> dict:
    with session_scope(get_settings().effective_database_url) as session:
        return load_case(session, ref)


def _show(args: argparse.Namespace) -> int:
    case = _load(args.ref)
    print(json.dumps(case, indent=2, ensure_ascii=False) if args.json else render_text(case))
    return 0


def _export(args: argparse.Namespace) -> int:
    case = _load(args.ref)
    text = render_csv(case) if args.format == "csv" else json.dumps(case, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        sys.stderr.write(f"case {case['decision']['id']} written to {args.out}\n")
    else:
        sys.stdout.write(text)
    return 0
