"""Spend per source this month from the call ledger, against budgets and quotas, with a month-end forecast.

* spend: the sum of what each call was charged (the tiered monthly price, see `resilience.config`);
* billable calls: calls charged more than 0 (answers of paid sources; cache hits and probes are free);
* quota used: billable calls against the monthly quota of `budget.yaml`;
* cache savings: cache hits times the price the next billable call would cost at this month's tier;
* forecast: spend so far / elapsed share of the month (linear), judged only after
  `FORECAST_AFTER_DAYS` days so a first morning's burst does not cry wolf.

Alerts at each `alert_at_pct` of a budget and when the forecast exceeds it, each at most once per
month and source (keys ``budget:<month>:<source>:<pct>`` and ``...:forecast``).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc_core.monitoring.rendered import Rendered
from kyc_core.resilience.config import load_source_config
from kyc_core.store.models import SourceCall

TOTAL = "total"
FORECAST_AFTER_DAYS = 3.0


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of `YYYY-MM`, UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from None
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of an instant (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def previous_month(moment: datetime) -> str:
    """The month before the one `moment` is in."""
    first = moment.astimezone(UTC).replace(day=1)
    return month_of(first - timedelta(days=1))


@dataclass
class SourceSpend:
    """One source's month."""

    source: str
    spend: float = 0.0
    billable: int = 0
    cache_hits: int = 0
    savings: float = 0.0
    budget: float | None = None
    quota: int | None = None
    forecast: float | None = None
    daily: dict[str, float] = field(default_factory=dict)

    @property
    def budget_pct(self) -> float | None:
        """Spend as a share of the budget, percent."""
        return 100.0 * self.spend / self.budget if self.budget else None

    @property
    def quota_pct(self) -> float | None:
        """Billable calls as a share of the monthly quota, percent."""
        return 100.0 * self.billable / self.quota if self.quota else None

    def as_dict(self) -> dict:
        """JSON form (CLI)."""
        return {
            "source": self.source,
            "spend_eur": round(self.spend, 4),
            "billable_calls": self.billable,
            "cache_hits": self.cache_hits,
            "cache_savings_eur": round(self.savings, 4),
            "budget_eur": self.budget,
            "budget_pct": None if self.budget_pct is None else round(self.budget_pct, 2),
            "quota": self.quota,
            "quota_pct": None if self.quota_pct is None else round(self.quota_pct, 2),
            "forecast_eur": None if self.forecast is None else round(self.forecast, 2),
            "daily_eur": {day: round(v, 4) for day, v in sorted(self.daily.items())},
        }


@dataclass(frozen=True)
class MonthReport:
    """Every source's month, the total, and how much of the month had elapsed."""

    month: str
    now: datetime
    elapsed_days: float
    days: int
    sources: list[SourceSpend]
    total: SourceSpend


def _day(session: Session):
    column = SourceCall.started_at
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def month_report(session: Session, month: str, budget, *, now: datetime) -> MonthReport:
    """Spend, quota use, cache savings and forecast per source and in total for `month` (as of `now`)."""
    start, end = month_bounds(month)
    until = min(now, end)
    day = _day(session)
    rows = session.execute(
        select(
            SourceCall.source,
            day,
            func.coalesce(func.sum(SourceCall.cost), 0.0),
            func.count().filter(SourceCall.cost > 0),
            func.count().filter(SourceCall.outcome == "cache_hit"),
        )
        .where(SourceCall.started_at >= start, SourceCall.started_at < until)
        .group_by(SourceCall.source, day)
    ).all()
    per: dict[str, SourceSpend] = {}
    for source, when, spend, billable, hits in rows:
        item = per.setdefault(source, SourceSpend(source))
        item.spend += float(spend)
        item.billable += int(billable)
        item.cache_hits += int(hits)
        if spend:
            item.daily[str(when)] = item.daily.get(str(when), 0.0) + float(spend)
    for source in set(budget.sources) | set(budget.quotas):
        per.setdefault(source, SourceSpend(source))
    days = (end - start).days
    elapsed = max((until - start).total_seconds() / 86400.0, 0.0)
    total = SourceSpend(TOTAL, budget=budget.total)
    daily_total: dict[str, float] = defaultdict(float)
    for item in per.values():
        config = load_source_config(item.source)
        item.savings = item.cache_hits * config.price_of(item.billable + 1) if config.is_paid else 0.0
        item.budget = budget.sources.get(item.source)
        item.quota = budget.quotas.get(item.source)
        item.forecast = item.spend * days / elapsed if elapsed >= FORECAST_AFTER_DAYS else None
        total.spend += item.spend
        total.billable += item.billable
        total.cache_hits += item.cache_hits
        total.savings += item.savings
        for when, value in item.daily.items():
            daily_total[when] += value
    total.daily = dict(daily_total)
    total.forecast = total.spend * days / elapsed if elapsed >= FORECAST_AFTER_DAYS else None
    ordered = sorted(per.values(), key=lambda s: (-s.spend, s.source))
    return MonthReport(month, now, elapsed, days, ordered, total)


@dataclass(frozen=True)
class BudgetAlert:
    """One budget threshold crossed (or forecast exceeded) for one source in one month."""

    key: str
    source: str
    severity: str
    subject: str
    what: str


def budget_alerts(report: MonthReport, thresholds: list[float]) -> list[BudgetAlert]:
    """Every threshold crossed so far this month, and forecasts over budget (the outbox keeps each once)."""
    found = []
    for item in [*report.sources, report.total]:
        if not item.budget:
            continue
        tag = f"{item.source} spend {item.spend:.2f} EUR"
        for pct in sorted(thresholds):
            if item.budget_pct is not None and item.budget_pct >= pct:
                severity = "critical" if pct >= 100 else "warning"
                relation = "is over" if pct >= 100 else f"reached {pct:g} % of"
                subject = f"[KYC][{severity.upper()}] {tag} {relation} its {item.budget:g} EUR budget ({report.month})"
                found.append(
                    BudgetAlert(
                        f"budget:{report.month}:{item.source}:{pct:g}",
                        item.source,
                        severity,
                        subject,
                        f"{item.budget_pct:.1f} % of the budget spent",
                    )
                )
        if item.forecast is not None and item.forecast > item.budget:
            subject = (
                f"[KYC][WARNING] {item.source} forecast {item.forecast:.2f} EUR exceeds its "
                f"{item.budget:g} EUR budget ({report.month})"
            )
            found.append(
                BudgetAlert(
                    f"budget:{report.month}:{item.source}:forecast",
                    item.source,
                    "warning",
                    subject,
                    f"month-end forecast {item.forecast:.2f} EUR",
                )
            )
    return found


def _rows(report: MonthReport) -> list[list[str]]:
    def fmt(value: float | None, suffix: str = "") -> str:
        return "-" if value is None else f"{value:,.2f}{suffix}"

    return [
        [
            item.source,
            fmt(item.spend),
            str(item.billable),
            "-" if item.quota is None else f"{item.billable}/{item.quota} ({item.quota_pct:.1f} %)",
            str(item.cache_hits),
            fmt(item.savings),
            fmt(item.budget),
            fmt(item.budget_pct, " %"),
            fmt(item.forecast),
        ]
        for item in [*report.sources, report.total]
    ]


HEADERS = [
    "source",
    "spend EUR",
    "billable calls",
    "quota used",
    "cache hits",
    "cache savings EUR",
    "budget EUR",
    "budget used",
    "forecast EUR",
]


def table_text(report: MonthReport) -> str:
    """The report as an aligned text table."""
    rows = [HEADERS, *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows) + "\n"


def table_html(report: MonthReport) -> str:
    """The report as an HTML table."""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in _rows(report))
    return f'<table border="1" cellpadding="4" cellspacing="0"><tr>{head}</tr>{body}</table>'


def _runbook_html() -> str:
    return (
        "<p><b>Runbook</b>: <code>kyc cost report --month YYYY-MM</code> shows the same figures; spend is driven "
        "by onboarding volume (each company lookup reads RNE, beneficial owners and BODACC) and cache misses. "
        "Raise a budget in <code>include/policies/monitoring/budget.yaml</code>; lower spend by keeping cache TTLs "
        "(<code>KYC_SOURCE_CONFIG</code>) or pausing intake (<code>airflow dags pause kyc_onboarding</code>).</p>"
    )


def budget_mail(alert: BudgetAlert, report: MonthReport, link: str | None) -> Rendered:
    """The e-mail of one budget alert, with the month's table."""
    intro = (
        f"{alert.what} for {alert.source} in {report.month}, as of {report.now:%Y-%m-%d %H:%M} UTC "
        f"(day {report.elapsed_days:.1f} of {report.days})."
    )
    text = f"{alert.subject}\n\n{intro}\n\n{table_text(report)}"
    if link:
        text += f"\nMonitor run: {link}\n"
    text += (
        "\nRunbook: `kyc cost report --month YYYY-MM` shows the same figures; raise a budget in "
        "include/policies/monitoring/budget.yaml, or lower spend (cache TTLs in KYC_SOURCE_CONFIG, "
        "`airflow dags pause kyc_onboarding`).\n"
    )
    html = f"<h2>{escape(alert.subject)}</h2><p>{escape(intro)}</p>{table_html(report)}"
    if link:
        html += f'<p><a href="{escape(link)}">Open the monitor run in Airflow</a></p>'
    return Rendered(alert.subject, text, html + _runbook_html())


def monthly_mail(report: MonthReport, *, chart_cid: str | None, link: str | None) -> Rendered:
    """The monthly report: the table, the daily spend chart (inline, also attached) and cache savings."""
    subject = (
        f"[KYC][REPORT] source spend {report.month}: {report.total.spend:.2f} EUR, "
        f"cache savings {report.total.savings:.2f} EUR"
    )
    text = f"{subject}\n\n{table_text(report)}\nDaily spend per source: see the attached chart (daily_spend.png).\n"
    html = f"<h2>{escape(subject)}</h2>{table_html(report)}"
    if chart_cid:
        html += f'<p><b>Daily spend per source</b></p><img src="cid:{escape(chart_cid)}" alt="daily spend per source">'
    if link:
        html += f'<p><a href="{escape(link)}">Open the monitor run in Airflow</a></p>'
    return Rendered(subject, text, html + _runbook_html())


@dataclass(frozen=True)
class CostResult:
    """What one cost-monitor run did."""

    month: str
    total_spend: float
    alerts_created: list[str]
    report_month: str | None
    config_hash: str
    config_error: str | None = None


def run_cost_monitor(
    database_url: str,
    load_budget,
    *,
    now: datetime | None = None,
    run_id: str | None = None,
    run_link: str | None = None,
    report_month: str | None = None,
) -> CostResult:
    """Queue the budget alerts crossed this month and, when asked, the monthly report (each once)."""
    import base64

    from kyc_core.monitoring.monitor import config_in_force, enqueue, lock_monitoring
    from kyc_core.store.db import session_scope

    now = now or datetime.now(UTC)
    month = month_of(now)
    created: list[str] = []
    with session_scope(database_url) as session:
        lock_monitoring(session)
        loaded, error = config_in_force(session, "budget", load_budget, now)
        budget = loaded.config
        report = month_report(session, month, budget, now=now)
        for alert in budget_alerts(report, budget.alert_at_pct):
            mail = budget_mail(alert, report, run_link)
            if enqueue(
                session,
                key=alert.key,
                kind="budget",
                severity=alert.severity,
                source=alert.source,
                recipients=list(budget.recipients),
                mail=mail,
                now=now,
                run_id=run_id,
            ):
                created.append(alert.key)
        if report_month:
            from kyc_core.monitoring.chart import daily_spend_png

            past = month_report(session, report_month, budget, now=now)
            cid = f"daily-spend-{report_month}@kyc"
            png = daily_spend_png(past)
            attachment = {
                "filename": f"daily_spend_{report_month}.png",
                "cid": cid,
                "content_b64": base64.b64encode(png).decode("ascii"),
            }
            key = f"report:{report_month}"
            if enqueue(
                session,
                key=key,
                kind="monthly_report",
                severity="info",
                source=None,
                recipients=list(budget.recipients),
                mail=monthly_mail(past, chart_cid=cid, link=run_link),
                now=now,
                run_id=run_id,
                attachments=[attachment],
            ):
                created.append(key)
    return CostResult(month, report.total.spend, created, report_month, loaded.content_hash, error)
