"""Spend, quota, cache savings and forecast from a real ledger; budget alerts once per month and source."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from kyc_core.monitoring.config import load_budget
from kyc_core.monitoring.cost import budget_alerts, month_report, run_cost_monitor
from kyc_core.store.db import session_scope
from kyc_core.store.models import MonitorAlert, SourceCall
from sqlalchemy import select

NOW = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)  # 10 days into a 30-day month


def add(url: str, source: str, when: datetime, n: int, cost: float, outcome: str = "ok") -> None:
    with session_scope(url) as s:
        for _ in range(n):
            s.add(
                SourceCall(
                    source=source,
                    operation="company",
                    started_at=when,
                    latency_ms=50.0,
                    outcome=outcome,
                    http_status=200,
                    cost=cost,
                    cache_hit=outcome == "cache_hit",
                    attempts=1,
                )
            )


def test_month_report_by_hand(store):
    add(store, "rne", datetime(2026, 11, 2, 9, tzinfo=UTC), 500, 0.02)  # 10.00 EUR on the 2nd
    add(store, "rne", datetime(2026, 11, 5, 9, tzinfo=UTC), 250, 0.02)  # 5.00 EUR on the 5th
    add(store, "rne", datetime(2026, 11, 5, 10, tzinfo=UTC), 100, 0.0, "cache_hit")
    add(store, "rbe", datetime(2026, 11, 3, 9, tzinfo=UTC), 100, 0.05)  # 5.00 EUR
    add(store, "sirene", datetime(2026, 11, 3, 9, tzinfo=UTC), 40, 0.0)  # free
    add(store, "rne", datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 1000, 0.02)  # last month: not counted
    budget = load_budget().config
    with session_scope(store) as s:
        report = month_report(s, "2026-11", budget, now=NOW)
    rne = next(i for i in report.sources if i.source == "rne")
    assert rne.spend == pytest.approx(15.0)
    assert (rne.billable, rne.cache_hits) == (750, 100)
    assert rne.savings == pytest.approx(100 * 0.02)
    assert rne.quota_pct == pytest.approx(100 * 750 / 50_000)
    assert rne.budget_pct == pytest.approx(30.0)
    # 15 EUR in 10 of 30 days -> 45 EUR at month end.
    assert rne.forecast == pytest.approx(45.0)
    assert rne.daily == {"2026-11-02": pytest.approx(10.0), "2026-11-05": pytest.approx(5.0)}
    assert report.total.spend == pytest.approx(20.0)
    assert budget_alerts(report, [80, 100]) == []


def test_thresholds_alert_once_per_month_and_source(store):
    add(store, "rne", NOW - timedelta(days=1), 2050, 0.02)  # 41 EUR: 82 %
    first = run_cost_monitor(store, load_budget, now=NOW)
    assert first.alerts_created == ["budget:2026-11:rne:80", "budget:2026-11:rne:forecast"]
    assert run_cost_monitor(store, load_budget, now=NOW + timedelta(hours=1)).alerts_created == []
    add(store, "rne", NOW, 500, 0.02)  # 51 EUR: over
    second = run_cost_monitor(store, load_budget, now=NOW + timedelta(hours=2))
    # 51 EUR after 10.08 of 30 days also puts the total's forecast (151.7 EUR) over its 150 EUR.
    assert second.alerts_created == ["budget:2026-11:rne:100", "budget:2026-11:total:forecast"]
    with session_scope(store) as s:
        subjects = {a.alert_key: a.subject for a in s.scalars(select(MonitorAlert))}
    assert subjects["budget:2026-11:rne:80"] == (
        "[KYC][WARNING] rne spend 41.00 EUR reached 80 % of its 50 EUR budget (2026-11)"
    )
    assert subjects["budget:2026-11:rne:100"].startswith(
        "[KYC][CRITICAL] rne spend 51.00 EUR is over its 50 EUR budget"
    )


def test_monthly_report_carries_a_png_chart_once(store):
    add(store, "rne", datetime(2026, 10, 3, 9, tzinfo=UTC), 100, 0.02)
    add(store, "bodacc", datetime(2026, 10, 4, 9, tzinfo=UTC), 100, 0.01)
    now = datetime(2026, 11, 1, 6, tzinfo=UTC)
    result = run_cost_monitor(store, load_budget, now=now, report_month="2026-10")
    assert result.alerts_created == ["report:2026-10"]
    assert run_cost_monitor(store, load_budget, now=now, report_month="2026-10").alerts_created == []
    with session_scope(store) as s:
        report = s.scalars(select(MonitorAlert).where(MonitorAlert.kind == "monthly_report")).one()
    assert report.subject == "[KYC][REPORT] source spend 2026-10: 3.00 EUR, cache savings 0.00 EUR"
    png = base64.b64decode(report.attachments[0]["content_b64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert f"cid:{report.attachments[0]['cid']}" in report.body_html
