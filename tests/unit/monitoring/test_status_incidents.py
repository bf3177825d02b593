"""Status from window stats, and incident transitions: alerts on transitions only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kyc_core.monitoring.config import load_sla
from kyc_core.monitoring.incidents import OpenIncident, decide
from kyc_core.monitoring.status import evaluate
from kyc_core.monitoring.windows import WindowStats

NOW = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
CONFIG = load_sla().config


def stats(
    answers: int, failures: int, p95: float | None = 100.0, real_failures: int | None = None, auth: int = 0
):
    real_failures = failures if real_failures is None else real_failures
    return WindowStats(
        900, answers + failures + auth, 0, answers, failures, auth, answers + failures, real_failures, p95
    )


def judge(
    s: WindowStats, breaker: str | None = "closed", freshness: float | None = 60.0, source: str = "sirene"
):
    return evaluate(
        source, {w: s for w in CONFIG.windows}, breaker_state=breaker, freshness_s=freshness, config=CONFIG
    )


def test_healthy():
    ev = judge(stats(1000, 0))
    assert (ev.status, ev.severity, ev.breaches) == ("healthy", None, ())


@pytest.mark.parametrize(
    ("s", "status", "metric"),
    [
        (stats(985, 15), "degraded", "availability"),  # 98.5 % < 99 %
        (stats(940, 60), "down", "availability"),  # 94 % < 95 %
        (stats(1000, 0, p95=2500), "degraded", "p95"),
        (stats(1000, 0, p95=5001), "down", "p95"),
    ],
)
def test_thresholds(s, status, metric):
    ev = judge(s)
    assert ev.status == status
    assert ev.breaches[0].metric == metric


def test_open_breaker_is_down_and_no_data_is_unknown():
    assert judge(stats(1000, 0), breaker="open").status == "down"
    ev = judge(stats(0, 0, p95=None))
    assert ev.status == "unknown" and ev.severity == "warning"
    # Only refused credentials: nothing measured about the source itself.
    assert judge(stats(0, 0, auth=3)).status == "unknown"


def test_freshness_uses_the_tier_target():
    # RNE standard tier: 1 h; Sirene: 24 h.
    assert judge(stats(1000, 0), freshness=2 * 3600, source="rne").status == "degraded"
    assert judge(stats(1000, 0), freshness=2 * 3600, source="sirene").status == "healthy"


def incident(severity="critical", opened_minutes_ago=10, reminders=0, peak=None, critical_since=None):
    return OpenIncident(
        1, severity, peak or severity, NOW - timedelta(minutes=opened_minutes_ago), reminders, critical_since
    )


KW = {"reminder_after_s": 4 * 3600, "emergency_after_s": 3600}


def test_open_stay_raise_remind_resolve():
    assert [t.alert for t in decide(None, "critical", NOW, **KW)] == ["opened"]
    assert decide(None, None, NOW, **KW) == []
    # Still down: nothing to say.
    assert decide(incident(), "critical", NOW, **KW) == []
    # warning -> critical: one alert, keyed by the level.
    raised = decide(incident("warning"), "critical", NOW, **KW)
    assert [(t.alert, t.key) for t in raised] == [("raised", "raised:critical")]
    # critical -> warning -> critical again: the critical level was announced already.
    assert [t.alert for t in decide(incident("warning", peak="critical"), "critical", NOW, **KW)] == [None]
    # Lower severity: recorded silently.
    assert [t.alert for t in decide(incident("critical"), "warning", NOW, **KW)] == [None]
    # Reminder after 4 h, once per period.
    reminded = decide(incident(opened_minutes_ago=241), "critical", NOW, **KW)
    assert [(t.alert, t.key) for t in reminded] == [("reminder", "reminder:1")]
    assert decide(incident(opened_minutes_ago=241, reminders=1), "critical", NOW, **KW) == []
    assert [t.alert for t in decide(incident(), None, NOW, **KW)] == ["resolved"]


def test_critical_for_an_hour_escalates_to_emergency():
    long_down = incident(critical_since=NOW - timedelta(minutes=61), opened_minutes_ago=61)
    assert [(t.alert, t.severity) for t in decide(long_down, "critical", NOW, **KW)] == [
        ("raised", "emergency")
    ]
