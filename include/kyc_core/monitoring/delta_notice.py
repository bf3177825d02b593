"""The compliance e-mail of a delta-screening run: which customers were flagged and with how many hits (ids only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.monitoring.rendered import Rendered
from kyc_core.store.audit import EventType
from kyc_core.store.models import AuditEvent


def flagged_in_run(session: Session, run_id: str) -> list[dict[str, Any]]:
    """Customers flagged by the run's `customer_flagged` events: hits, lists and strongest verdict per customer."""
    per: dict[str, dict[str, Any]] = {}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.run_id == run_id, AuditEvent.event_type == EventType.CUSTOMER_FLAGGED.value)
        .order_by(AuditEvent.seq)
    )
    for event in events:
        payload = json.loads(event.payload)
        if event.customer_id is None:
            continue
        item = per.setdefault(
            event.customer_id,
            {"customer_id": event.customer_id, "hits": 0, "lists": set(), "verdicts": set()},
        )
        item["hits"] += len(payload.get("hit_ids") or [])
        item["lists"].add(payload.get("list_key") or "?")
        item["verdicts"].add(payload.get("verdict") or "review")
    return [
        {
            **item,
            "lists": sorted(item["lists"]),
            "verdict": "match" if "match" in item["verdicts"] else "review",
        }
        for item in sorted(per.values(), key=lambda i: (-i["hits"], i["customer_id"]))
    ]


def delta_mail(run_id: str, flagged: list[dict[str, Any]], link: str | None) -> Rendered:
    """One e-mail listing every flagged customer id with its hit count; the reviewer opens the cases."""
    hits = sum(i["hits"] for i in flagged)
    subject = f"[KYC] sanctions delta screening: {len(flagged)} customer(s) flagged, {hits} new hit(s)"
    lines = [f"Run: {run_id}", "", "customer id                            hits  lists  strongest verdict"]
    lines += [
        f"{i['customer_id']:<38} {i['hits']:>4}  {','.join(i['lists'])}  {i['verdict']}" for i in flagged
    ]
    lines += ["", "Each customer is flagged for review: `kyc case show <customer id>` explains the hits."]
    if link:
        lines.append(f"Run in Airflow: {link}")
    rows = "".join(
        f"<tr><td><code>{escape(i['customer_id'])}</code></td><td>{i['hits']}</td><td>{escape(', '.join(i['lists']))}</td>"
        f"<td>{escape(i['verdict'])}</td></tr>"
        for i in flagged
    )
    html = (
        f"<h2>{escape(subject)}</h2><p>Run: {escape(run_id)}</p>"
        '<table border="1" cellpadding="4" cellspacing="0"><tr><th>customer id</th><th>new hits</th><th>lists</th>'
        f"<th>strongest verdict</th></tr>{rows}</table>"
        "<p>Each customer is flagged for review: <code>kyc case show &lt;customer id&gt;</code> explains the hits.</p>"
    )
    if link:
        html += f'<p><a href="{escape(link)}">Open the run in Airflow</a></p>'
    return Rendered(subject, "\n".join(lines) + "\n", html)


def queue_delta_notice(
    database_url: str, run_id: str, *, recipients: list[str], link: str | None, now: datetime | None = None
) -> str | None:
    """Queue the run's compliance e-mail once (key `delta_screening:<run id>`); None when nobody was flagged."""
    from kyc_core.monitoring.monitor import enqueue
    from kyc_core.store.db import session_scope

    key = f"delta_screening:{run_id}"
    with session_scope(database_url) as session:
        flagged = flagged_in_run(session, run_id)
        if not flagged:
            return None
        enqueue(
            session,
            key=key,
            kind="delta_screening",
            severity="info",
            source=None,
            recipients=recipients,
            mail=delta_mail(run_id, flagged, link),
            now=now or datetime.now(UTC),
            run_id=run_id,
        )
    return key
