"""`kyc sla report` and `kyc incidents`: what the SLA monitor sees and what it has alerted on."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import UserError
from kyc_core.monitoring.config import format_duration, from_raw, load_sla, parse_duration
from kyc_core.monitoring.monitor import evaluate_sources
from kyc_core.monitoring.windows import utc
from kyc_core.settings import get_settings
from kyc_core.store.db import describe_url, session_scope
from kyc_core.store.models import MonitorAlert, MonitorConfig, SourceIncident


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `sla` and `incidents` command groups."""
    sla = sub.add_parser("sla", help="source SLA status from the call ledger")
    sla_sub = sla.add_subparsers(dest="sla_command", metavar="ACTION", parser_class=type(sla))
    sla_sub.required = True
    report = sla_sub.add_parser(
        "report", help="status, availability, error rate, p95 and freshness per source"
    )
    report.add_argument(
        "--window", default="24h", help="window of the figures shown (e.g. 15m, 1h, 24h; default 24h)"
    )
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.set_defaults(func=_report)
    incidents = sub.add_parser("incidents", help="source incidents and the alerts they sent")
    incidents.add_argument("--open", action="store_true", help="only incidents still open")
    incidents.add_argument("--json", action="store_true", help="print JSON instead of a table")
    incidents.set_defaults(func=_incidents)


def _config(session):
    """The SLA file, or the last good one stored by the monitor when the file is refused."""
    try:
        return load_sla().config, None
    except UserError as exc:
        stored = session.scalars(
            select(MonitorConfig)
            .where(MonitorConfig.kind == "sla")
            .order_by(MonitorConfig.loaded_at.desc())
            .limit(1)
        ).first()
        if stored is None:
            raise
        return from_raw("sla", stored.content).config, str(exc)


def _breakers(sources: list[str]) -> dict[str, str | None]:
    """Breaker states from Redis when configured; None otherwise (no shared state to read)."""
    url = get_settings().redis_url
    if not url:
        return {s: None for s in sources}
    from kyc_core.resilience.backend import RedisBackend

    backend = RedisBackend(url)

    async def read():
        try:
            return {s: (await backend.breaker_snapshot(s)).state for s in sources}
        finally:
            await backend.aclose()

    try:
        return asyncio.run(read())
    except Exception:  # noqa: BLE001 - Redis down: the breaker is simply not known
        return {s: None for s in sources}


def _fmt(value, suffix="", digits=2) -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _report(args: argparse.Namespace) -> int:
    try:
        window = parse_duration(args.window)
    except ValueError as exc:
        raise UserError(f"--window: {exc}") from None
    url = get_settings().effective_database_url
    now = datetime.now(UTC)
    try:
        with session_scope(url) as session:
            config, refused = _config(session)
            breakers = _breakers(config.sources)
            evaluations = evaluate_sources(
                session, config, now=now, breakers=breakers, extra_windows=[window]
            )
    except (OperationalError, ProgrammingError) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        sys.stdout.write("".join(f"{s}: unknown\n" for s in load_sla().config.sources))
        raise UserError(f"cannot measure: KYC database at {describe_url(url)}: {first}") from None
    label = format_duration(window)
    rows = []
    for ev in evaluations:
        shown = ev.windows[window]
        rows.append(
            {
                "source": ev.source,
                "status": ev.status,
                "severity": ev.severity,
                "window": label,
                "calls": shown.calls,
                "probes": shown.probes,
                "availability_pct": shown.availability_pct,
                "error_rate_pct": shown.error_rate_pct,
                "p95_ms": shown.p95_ms,
                "freshness_s": ev.freshness_s,
                "breaker": ev.breaker_state,
                "sla_target": config.targets(ev.source).model_dump(mode="json"),
                "sla_met": ev.sla.get(label),
                "breaches": [b.describe() for b in ev.breaches],
            }
        )
    if refused:
        sys.stderr.write(f"kyc: SLA file refused, last good configuration used: {refused}\n")
    if args.json:
        print(json.dumps({"evaluated_at": now.isoformat(), "tier": config.tier, "sources": rows}, indent=2))
        return 0
    print(
        f"SLA report at {now:%Y-%m-%d %H:%M} UTC, tier {config.tier}, figures over {format_duration(window)}; "
        f"status judged over {format_duration(config.status_window)}"
    )
    header = f"{'source':<8} {'status':<9} {'calls':>7} {'avail.':>8} {'errors':>7} {'p95 ms':>8} {'fresh':>7} {'breaker':<9} SLA"
    print(header)
    for r in rows:
        fresh = "-" if r["freshness_s"] is None else format_duration(round(r["freshness_s"]))
        met = {True: "met", False: "breached", None: "-"}[r["sla_met"]]
        print(
            f"{r['source']:<8} {r['status']:<9} {r['calls']:>7} {_fmt(r['availability_pct'], '%'):>8} "
            f"{_fmt(r['error_rate_pct'], '%'):>7} {_fmt(r['p95_ms'], '', 0):>8} {fresh:>7} {r['breaker'] or '-':<9} {met}"
        )
        for breach in r["breaches"]:
            print(f"         {breach}")
    return 0


def _incidents(args: argparse.Namespace) -> int:
    url = get_settings().effective_database_url
    with session_scope(url) as session:
        query = select(SourceIncident).order_by(SourceIncident.opened_at.desc())
        if args.open:
            query = query.where(SourceIncident.status == "open")
        incidents = session.scalars(query).all()
        sent = dict(
            session.execute(
                select(MonitorAlert.incident_id, func.count())
                .where(MonitorAlert.sent_at.is_not(None), MonitorAlert.incident_id.is_not(None))
                .group_by(MonitorAlert.incident_id)
            ).all()
        )
        pending = dict(
            session.execute(
                select(MonitorAlert.incident_id, func.count())
                .where(MonitorAlert.sent_at.is_(None), MonitorAlert.incident_id.is_not(None))
                .group_by(MonitorAlert.incident_id)
            ).all()
        )
        rows = [
            {
                "id": i.id,
                "source": i.source,
                "kind": i.kind,
                "status": i.status,
                "severity": i.severity,
                "peak_severity": i.peak_severity,
                "opened_at": utc(i.opened_at).isoformat(timespec="seconds"),
                "resolved_at": utc(i.resolved_at).isoformat(timespec="seconds") if i.resolved_at else None,
                "reminders": i.reminders,
                "alerts_sent": sent.get(i.id, 0),
                "alerts_pending": pending.get(i.id, 0),
                "last_status": (i.detail or {}).get("status"),
                "breaches": (i.detail or {}).get("breaches", []),
            }
            for i in incidents
        ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no open incident" if args.open else "no incident")
        return 0
    for r in rows:
        until = f"resolved {r['resolved_at']}" if r["resolved_at"] else "open"
        print(
            f"#{r['id']} {r['source']} {r['kind']} {r['severity']} (peak {r['peak_severity']}) since {r['opened_at']}, "
            f"{until}; alerts sent {r['alerts_sent']}, pending {r['alerts_pending']}"
        )
        for breach in r["breaches"]:
            print(f"    {breach}")
    return 0
