"""`kyc cost report`: spend, quota use, cache savings and forecast per source for a month."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from kyc_core.errors import UserError
from kyc_core.monitoring.config import load_budget
from kyc_core.monitoring.cost import budget_alerts, month_bounds, month_of, month_report, table_text
from kyc_core.settings import get_settings
from kyc_core.store.db import session_scope


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `cost` command group."""
    cost = sub.add_parser("cost", help="source spend against budgets")
    cost_sub = cost.add_subparsers(dest="cost_command", metavar="ACTION", parser_class=type(cost))
    cost_sub.required = True
    report = cost_sub.add_parser("report", help="spend, quota use, cache savings and forecast per source")
    report.add_argument("--month", help="YYYY-MM (default: this month, UTC)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    month = args.month or month_of(now)
    try:
        month_bounds(month)
    except ValueError as exc:
        raise UserError(f"--month: {exc}") from None
    budget = load_budget().config
    with session_scope(get_settings().effective_database_url) as session:
        report = month_report(session, month, budget, now=now)
    alerts = budget_alerts(report, budget.alert_at_pct)
    if args.json:
        print(
            json.dumps(
                {
                    "month": month,
                    "as_of": now.isoformat(timespec="seconds"),
                    "elapsed_days": round(report.elapsed_days, 3),
                    "days": report.days,
                    "sources": [s.as_dict() for s in report.sources],
                    "total": report.total.as_dict(),
                    "alerts": [a.subject for a in alerts],
                },
                indent=2,
            )
        )
        return 0
    print(
        f"Source spend {month} as of {now:%Y-%m-%d %H:%M} UTC (day {min(report.elapsed_days, report.days):.1f} "
        f"of {report.days})"
    )
    print(table_text(report), end="")
    for alert in alerts:
        print(alert.subject)
    return 0
