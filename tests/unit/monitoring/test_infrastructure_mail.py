"""The infrastructure section of sla.yaml, and the infrastructure alert e-mails (subjects, counts, runbooks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from kyc_core.errors import UserError
from kyc_core.monitoring.config import DEFAULT_DIR, load_sla
from kyc_core.monitoring.infrastructure import (
    Affected,
    InfraFacts,
    Probe,
    infrastructure_subject,
    merge_events,
    render_infrastructure,
)

NOW = datetime(2026, 12, 6, 14, 35, tzinfo=UTC)
SINCE = datetime(2026, 12, 6, 14, 5, tzinfo=UTC)
EVENTS = {
    "count": 12,
    "first_at": SINCE.isoformat(),
    "last_at": (NOW - timedelta(minutes=1)).isoformat(),
    "operations": {"breaker": 10, "cache": 2},
    "error_classes": {"ConnectionError": 12},
    "registers_not_consulted": {"sirene": 10, "rne": 10},
    "rows_delayed": 0,
}


def write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((DEFAULT_DIR / "sla.yaml").read_text())
    change(data)
    (tmp_path / "sla.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_shipped_infrastructure_checks_and_defaults_when_the_section_is_absent(tmp_path):
    checks = load_sla().config.infrastructure
    assert (checks.probe_timeout, checks.lookback, checks.resolve_after) == (3, 86400, 900)
    assert (checks.probe_severity, checks.events_severity, checks.min_events) == ("critical", "warning", 1)
    # A configuration stored before the section existed still validates, with the same checks.
    older = load_sla(write(tmp_path, lambda d: d.pop("infrastructure"))).config.infrastructure
    assert older == checks


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["infrastructure"].update(probe_severity="fatal"), "infrastructure.probe_severity"),
        (lambda d: d["infrastructure"].update(min_events=0), "infrastructure.min_events"),
        (lambda d: d["infrastructure"].update(resolve_after="later"), "infrastructure.resolve_after"),
        (lambda d: d["infrastructure"].update(pager=True), "infrastructure.pager"),
    ],
)
def test_a_malformed_infrastructure_section_is_refused_naming_the_field(tmp_path, change, field):
    with pytest.raises(UserError) as info:
        load_sla(write(tmp_path, change))
    assert "\n" not in str(info.value) and field in str(info.value), str(info.value)


def facts(**changes) -> InfraFacts:
    base = {
        "transition": "opened",
        "component": "redis",
        "severity": "critical",
        "status": "unreachable",
        "since": SINCE,
        "now": NOW,
        "incident_id": 7,
        "probe": Probe("redis", "down", NOW, error_class="ConnectionError", error="Connection refused."),
        "events": EVENTS,
        "new_events": 3,
        "affected": Affected(10, 3, ("run-a", "run-b", "run-c"), 10),
        "run_link": "http://127.0.0.1:8080/dags/kyc_source_sla_monitor/runs/r1",
    }
    return InfraFacts(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "[KYC][CRITICAL] redis unreachable since 14:05 UTC (12 infrastructure_unavailable events)"),
        (
            {"severity": "warning", "status": "unavailable", "component": "kyc_database", "events": {**EVENTS, "count": 1}},
            "[KYC][WARNING] kyc_database unavailable since 14:05 UTC (1 infrastructure_unavailable event)",
        ),
        ({"transition": "raised", "severity": "emergency"}, "[KYC][EMERGENCY] redis unreachable since 14:05 UTC (severity raised)"),
        ({"transition": "reminder"}, "[KYC][CRITICAL] redis still unreachable since 14:05 UTC (reminder)"),
        ({"transition": "resolved"}, "[KYC][RESOLVED] redis recovered at 14:35 UTC (critical since 14:05 UTC, 30 min)"),
        (
            {"component": "kyc_database", "unrecorded": True, "deduplicated_by": "Redis", "repeat_s": 14400},
            "[KYC][CRITICAL] kyc_database unreachable since 14:05 UTC (12 infrastructure_unavailable events)",
        ),
        (
            {"component": "kyc_database", "unrecorded": True, "not_deduplicated_because": "no Redis configured"},
            "[KYC][CRITICAL] kyc_database unreachable at 14:35 UTC (not deduplicated: no Redis configured)",
        ),
    ],
)
def test_subjects_follow_the_source_alerts(changes, expected):
    assert infrastructure_subject(facts(**changes)) == expected


def test_the_mail_groups_the_events_and_says_what_was_affected():
    mail = render_infrastructure(facts())
    for line in (
        "Component: redis (Redis: breaker, rate-limit, cache and usage state shared by every worker)",
        "Live probe: PING failed at 14:35 UTC: ConnectionError (Connection refused.)",
        "infrastructure_unavailable events: 12 (3 new since the last check), first 2026-12-06 14:05:00 UTC, last 2026-12-06 14:34:00 UTC",
        "  by operation: breaker 10, cache 2",
        "  registers not consulted (fetches): rne 10, sirene 10",
        "  customers affected: 10, in 3 runs: run-a, run-b, run-c",
        "Onboarding decisions sent to review / infrastructure_unavailable since then: 10",
    ):
        assert line in mail.text.splitlines(), line
    assert "redis-cli" in mail.text and "kyc incidents --open" in mail.text
    assert "<ol>" in mail.html and "run-a" in mail.html
    db = render_infrastructure(facts(component="kyc_database", unrecorded=True, not_deduplicated_because="no Redis configured"))
    assert "pg_isready" in db.text and "every monitor run sends it again" in db.text
    assert "not readable while the KYC database is unreachable" in db.text and "decisions sent" not in db.text


def test_event_summaries_add_up():
    merged = merge_events(EVENTS, {**EVENTS, "count": 1, "operations": {"cache": 1}, "last_at": NOW.isoformat(), "rows_delayed": 4})
    assert merged["count"] == 13 and merged["operations"] == {"breaker": 10, "cache": 3}
    assert (merged["first_at"], merged["last_at"], merged["rows_delayed"]) == (SINCE.isoformat(), NOW.isoformat(), 4)
    assert merge_events(None, EVENTS)["count"] == 12


def test_a_probe_travels_through_xcom_as_json():
    probe = Probe("kyc_database", "up", NOW, latency_ms=1.5)
    assert Probe.from_dict(probe.as_dict()) == probe
    assert probe.describe() == "SELECT 1 answered in 2 ms at 14:35 UTC"
    assert Probe("redis", "not_configured", NOW).describe().startswith("PING: not probed")
