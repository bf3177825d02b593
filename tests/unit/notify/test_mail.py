"""Compliance e-mails: who gets one, what it says, and the local catcher the demo uses."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

from kyc_core.notify import compliance_notice, needs_notice
from kyc_dev.mailsink import read_messages, start_mailsink

SUMMARY = {
    "customer_id": "0f7c2a4e-1111-2222-3333-444455556666",
    "decision_id": "d-1",
    "outcome": "edd_required",
    "score": 0.41,
    "risk_level": "high",
    "kind": "person",
    "segment": "cgp",
    "strong_hits": 0,
    "reference": "DEMO-PER-PEP",
    "top_reasons": [{"code": "pep_foreign", "outcome": "edd_required", "text": "declared foreign PEP"},
                    {"code": "score_review_threshold", "outcome": "review", "text": "score above the review threshold"}],
    "documents": ["Detailed CV", "Source of wealth"],
}


def test_who_is_notified():
    assert needs_notice(SUMMARY)
    assert needs_notice({**SUMMARY, "outcome": "review", "strong_hits": 1})
    assert not needs_notice({**SUMMARY, "outcome": "approve"})


def test_notice_content_has_ids_reasons_documents_and_link():
    notice = compliance_notice(SUMMARY, "http://127.0.0.1:8080/dags/kyc_onboarding/runs/x")
    assert notice.subject == "[KYC] edd_required for customer 0f7c2a4e (DEMO-PER-PEP), score 0.41"
    for expected in ("pep_foreign", "Source of wealth", "kyc case show d-1", 'href="http://127.0.0.1:8080/dags/kyc_onboarding/runs/x"'):
        assert expected in notice.html
    for expected in ("pep_foreign", "Source of wealth", "kyc case show d-1", "Open in Airflow: http://127.0.0.1:8080/", "Score: 0.41"):
        assert expected in notice.text
    # Only the reasons behind the outcome: an EDD does not also cite the review threshold.
    assert "score_review_threshold" not in notice.html and "score_review_threshold" not in notice.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mailsink_saves_messages(tmp_path):
    port = _free_port()
    sink = start_mailsink(tmp_path, port=port)
    try:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "[KYC] test", "kyc@local", "compliance@local"
        msg.set_content("hello")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(msg)
    finally:
        sink.stop()
    messages = read_messages(tmp_path)
    assert [m["Subject"] for m in messages] == ["[KYC] test"]
