"""SLA/budget files refused with a one-line error naming the field; alert and failure mails."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kyc_core.errors import UserError
from kyc_core.monitoring.alerts import AlertFacts, render
from kyc_core.monitoring.config import DEFAULT_DIR, load_budget, load_sla
from kyc_core.monitoring.failures import failure_mail, scrub


def write(tmp_path: Path, name: str, change) -> Path:
    data = yaml.safe_load((DEFAULT_DIR / name).read_text())
    change(data)
    (tmp_path / name).write_text(yaml.safe_dump(data))
    return tmp_path


def test_shipped_files_load_with_a_stable_hash():
    assert load_sla().content_hash == load_sla().content_hash
    assert load_sla().config.targets("rne").p95_ms == 1000
    assert load_budget().config.sources["rne"] == 50


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        (
            "sla.yaml",
            lambda d: d["status"]["down"].update(availability_pct=120),
            "status.down.availability_pct",
        ),
        ("sla.yaml", lambda d: d.update(windows=["1h", "15m"]), "windows"),
        ("sla.yaml", lambda d: d.update(reminder_after="soon"), "reminder_after"),
        ("sla.yaml", lambda d: d["recipients"].update(critical=[]), "recipients.critical"),
        ("sla.yaml", lambda d: d.update(surprise=1), "surprise"),
        ("budget.yaml", lambda d: d["sources"].update(rne=-5), "sources.rne"),
    ],
)
def test_malformed_file_is_refused_naming_the_field(tmp_path, name, change, field):
    directory = write(tmp_path, name, change)
    loader = load_sla if name == "sla.yaml" else load_budget
    with pytest.raises(UserError) as info:
        loader(directory)
    message = str(info.value)
    assert "\n" not in message and field in message, message


NOW = datetime(2026, 12, 6, 14, 35, tzinfo=UTC)


def facts(transition="opened", severity="critical", status="down", kind="sla"):
    return AlertFacts(
        transition=transition,
        incident_kind=kind,
        incident_id=7,
        source="rne",
        severity=severity,
        status=status,
        since=datetime(2026, 12, 6, 14, 5, tzinfo=UTC),
        now=NOW,
        breaches=["availability 0 % < threshold 95 % over 15m"],
        windows={"15m": {"calls": 4, "availability_pct": 0.0, "error_rate_pct": 100.0, "p95_ms": 12.0}},
        breaker_state="open",
        freshness_s=1800,
        samples=[
            {
                "at": "2026-12-06 14:30:00",
                "operation": "probe",
                "outcome": "error",
                "http_status": 503,
                "error_class": "TransientSourceError",
            }
        ],
        decisions_affected=3,
        run_link="http://127.0.0.1:8080/dags/kyc_source_sla_monitor/runs/r1",
        sla_met={"15m": False},
    )


def test_alert_subjects():
    assert render(facts()).subject == "[KYC][CRITICAL] rne down since 14:05 UTC"
    assert (
        render(facts("raised", "emergency")).subject
        == "[KYC][EMERGENCY] rne down since 14:05 UTC (severity raised)"
    )
    assert render(facts("reminder")).subject == "[KYC][CRITICAL] rne still down since 14:05 UTC (reminder)"
    assert render(facts("resolved", status="healthy")).subject == (
        "[KYC][RESOLVED] rne recovered at 14:35 UTC (critical since 14:05 UTC, 30 min)"
    )
    assert (
        render(facts(kind="credentials")).subject == "[KYC][CRITICAL] rne credentials refused since 14:05 UTC"
    )
    assert (
        render(facts(severity="warning", status="unknown")).subject
        == "[KYC][WARNING] rne cannot be measured since 14:05 UTC"
    )


def test_alert_body_is_actionable():
    mail = render(facts())
    for expected in (
        "availability 0 % < threshold 95 % over 15m",
        "Breaker: open",
        "TransientSourceError",
        "503",
        "source_unavailable since then: 3",
        "kyc_source_sla_monitor/runs/r1",
        "airflow dags pause kyc_onboarding",
        "airflow dags trigger kyc_source_sla_monitor",
    ):
        assert expected in mail.text, expected
    assert 'href="http://127.0.0.1:8080/dags/kyc_source_sla_monitor/runs/r1"' in mail.html
    assert "<table" in mail.html


def test_scrub_masks_names_quotes_emails_and_long_numbers():
    message = (
        "customer 0f7c2a4e-1111-2222-3333-444455556666: cannot parse 'Jean Dupont' for Marie-Claire O'Neil "
        "(jean.dupont@example.fr) doc 123456789012 after HTTP 503 from RNE, KeyError"
    )
    out = scrub(message)
    for secret in ("Jean", "Dupont", "Marie", "Claire", "Neil", "jean.dupont", "123456789012"):
        assert secret not in out
    for kept in ("0f7c2a4e-1111-2222-3333-444455556666", "cannot parse", "HTTP 503 from RNE", "KeyError"):
        assert kept in out


def test_failure_mail():
    mail = failure_mail(
        dag_id="kyc_onboarding",
        task_id="customer.assess",
        map_index=2,
        run_id="manual__1",
        try_number=4,
        error=ValueError("bad birth date for Ana Lopez"),
        log_url="http://x/log",
    )
    assert mail.subject == "[KYC][FAILED] kyc_onboarding.customer.assess[2] try 4: ValueError"
    assert "Ana" not in mail.text and "Lopez" not in mail.text and "http://x/log" in mail.text
