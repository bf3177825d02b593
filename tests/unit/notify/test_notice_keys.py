"""Idempotency keys of notice e-mails and how a message carries them."""

from __future__ import annotations

import pytest
from kyc_core.notify import COMPLIANCE_NOTICE, MAX_KEY_LENGTH, TASK_FAILURE, notice_key
from kyc_core.store.notifications import message_id_for


def test_keys_are_stable_and_bounded():
    assert notice_key(COMPLIANCE_NOTICE, "d-1") == "compliance_notice:d-1"
    assert notice_key(TASK_FAILURE, "dag", "run", "task", -1, 2) == "task_failure:dag:run:task:-1:2"
    long = notice_key(TASK_FAILURE, "dag", "r" * 250, "task", 0, 1)
    assert len(long) <= MAX_KEY_LENGTH and long.startswith("task_failure:sha256:")
    assert long == notice_key(TASK_FAILURE, "dag", "r" * 250, "task", 0, 1)
    assert long != notice_key(TASK_FAILURE, "dag", "r" * 250, "task", 0, 2)
    with pytest.raises(ValueError, match="unknown notice kind"):
        notice_key("newsletter", "x")


def test_message_carries_the_key_and_a_message_id_derived_from_it():
    from kyc_airflow.notifiers.mail import build_message

    msg = build_message(sender="kyc@x", to=["c@x"], subject="s", text="t", html="<p>t</p>", idempotency_key="compliance_notice:d-1")
    assert msg["X-KYC-Idempotency-Key"] == "compliance_notice:d-1"
    assert msg["Message-ID"] == message_id_for("compliance_notice:d-1")
    again = build_message(sender="kyc@x", to=["c@x"], subject="s", text="t", html="<p>t</p>", idempotency_key="compliance_notice:d-1")
    assert again["Message-ID"] == msg["Message-ID"]
    other = build_message(sender="kyc@x", to=["c@x"], subject="s", text="t", html="<p>t</p>", idempotency_key="compliance_notice:d-2")
    assert other["Message-ID"] != msg["Message-ID"]


def test_monitoring_alerts_carry_their_outbox_key():
    from kyc_airflow.notifiers.mail import build_message

    msg = build_message(sender="kyc@x", to=["c@x"], subject="s", text="t", html="t", headers={"X-KYC-Alert-Key": "incident:7:opened"})
    assert msg["X-KYC-Idempotency-Key"] == "monitor_alert:incident:7:opened"
    assert msg["X-KYC-Alert-Key"] == "incident:7:opened"
