"""What compliance is told when a decision needs them, and how every notice e-mail is sent exactly once.

Every notice has an idempotency key that is the same however often its task runs (a compliance notice:
``compliance_notice:<decision id>``). `send_once` records it in the `email_notification` outbox and
sends it holding that row, so a cleared task never sends a notice already sent under its key, while a
send that failed stays pending and is sent by the next try. The key also travels in the message
(`X-KYC-Idempotency-Key`, and a Message-ID derived from it). Monitoring alerts keep their own outbox
(`monitor_alert`, keyed per incident transition) built on the same idea.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

log = logging.getLogger(__name__)

#: The kinds of notice e-mails, each the first part of its idempotency key.
COMPLIANCE_NOTICE = "compliance_notice"
REVIEW_REQUEST = "review_request"
DEADLINE_MISSED = "deadline_missed"
TASK_FAILURE = "task_failure"
NOTICE_KINDS = (COMPLIANCE_NOTICE, REVIEW_REQUEST, DEADLINE_MISSED, TASK_FAILURE)
#: Longest key the outbox stores; longer identities are hashed.
MAX_KEY_LENGTH = 200

#: Outcomes and hit verdicts that make compliance receive an e-mail.
NOTIFY_OUTCOMES = frozenset({"edd_required", "reject"})


@dataclass(frozen=True)
class Notice:
    """An e-mail ready to send."""

    subject: str
    html: str
    text: str


def needs_notice(summary: dict[str, Any]) -> bool:
    """EDD, reject and strong (match-verdict) sanctions hits are e-mailed."""
    return summary.get("outcome") in NOTIFY_OUTCOMES or int(summary.get("strong_hits") or 0) > 0


def _score(value: Any) -> str:
    """One rounding of the score everywhere a person reads it."""
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def compliance_notice(summary: dict[str, Any], link: str | None) -> Notice:
    """Subject, HTML and plain-text bodies without names or document numbers: the reviewer follows the link."""
    outcome = str(summary.get("outcome"))
    score = _score(summary.get("score"))
    customer = summary["customer_id"]
    ref = summary.get("reference")
    subject = f"[KYC] {outcome} for customer {customer[:8]}" + (f" ({ref})" if ref else "") + f", score {score}"
    # Only the reasons that produced this outcome (a reject does not also cite the review threshold).
    reasons = [r for r in summary.get("top_reasons", []) if r.get("outcome") in (None, outcome)]
    documents = list(summary.get("documents", []))
    facts = [
        ("Outcome", outcome), ("Score", score), ("Risk", str(summary.get("risk_level"))),
        ("Customer", f"{customer} ({summary.get('kind')}, segment {summary.get('segment')})"),
        ("Reference", str(ref or "-")), ("Decision", summary["decision_id"]),
        ("Strong sanctions hits", str(int(summary.get("strong_hits") or 0))),
    ]
    text = [f"{name}: {value}" for name, value in facts]
    html = ["<p>" + "<br>".join(f"<b>{escape(name)}:</b> {escape(value)}" for name, value in facts) + "</p>"]
    if reasons:
        text += ["", "Reasons:", *[f"- {r['code']}: {r['text']}" for r in reasons]]
        html.append("<p><b>Reasons</b></p><ul>" + "".join(f"<li><code>{escape(r['code'])}</code>: {escape(r['text'])}</li>" for r in reasons) + "</ul>")
    if documents:
        text += ["", "Documents to request:", *[f"- {d}" for d in documents]]
        html.append("<p><b>Documents to request</b></p><ul>" + "".join(f"<li>{escape(d)}</li>" for d in documents) + "</ul>")
    if summary.get("review_run_id"):
        text += ["", f"A review is open: kyc_case_review run {summary['review_run_id']}."]
        html.append(f"<p>A review is open: <code>kyc_case_review</code> run <code>{escape(summary['review_run_id'])}</code>.</p>")
    if link:
        text += ["", f"Open in Airflow: {link}"]
        html.append(f'<p><a href="{escape(link)}">Open in Airflow</a></p>')
    text += ["", f"Case file: kyc case show {summary['decision_id']}"]
    html.append(f"<p>Case file: <code>kyc case show {escape(summary['decision_id'])}</code></p>")
    return Notice(subject=subject, html="".join(html), text="\n".join(text) + "\n")


def notice_key(kind: str, *parts: object) -> str:
    """The idempotency key of a notice: its kind and what identifies it (a decision id, a run, a task try)."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    identity = ":".join("-" if part is None else str(part) for part in parts)
    key = f"{kind}:{identity}"
    if len(key) > MAX_KEY_LENGTH:
        key = f"{kind}:sha256:{hashlib.sha256(identity.encode()).hexdigest()}"
    return key


def send_once(
    database_url: str,
    key: str,
    *,
    kind: str,
    subject: str,
    recipients: Sequence[str],
    send: Callable[[], None],
    actor: str,
    decision_id: str | None = None,
    customer_id: str | None = None,
    run_id: str | None = None,
) -> bool:
    """Send the notice of `key` unless it was sent already; True when sent now, False when it had been.

    A failed `send` is recorded (error, attempt, a `notification_failed` event) and re-raised: the task
    fails and its retry sends it. The KYC database unreachable before the send raises
    :class:`~kyc_core.resilience.infra.InfrastructureUnavailable` naming it, and nothing is sent.
    """
    from kyc_core.resilience.infra import database_unavailable
    from kyc_core.store import notifications
    from kyc_core.store.audit import EventType, append_event
    from kyc_core.store.db import session_scope

    sent_now = False
    failure: Exception | None = None
    base = {"channel": "email", "kind": kind, "idempotency_key": key, "decision_id": decision_id}
    try:
        with session_scope(database_url) as session:
            row = notifications.claim(
                session, key, kind=kind, subject=subject, recipients=recipients,
                decision_id=decision_id, customer_id=customer_id, run_id=run_id,
            )
            if row is None:
                log.info("notice %s already sent: not sent again", key)
                return False
            try:
                send()
            except Exception as exc:  # noqa: BLE001 - any failure leaves the notice pending, then re-raised
                notifications.mark_failed(session, row, exc)
                append_event(
                    session, EventType.NOTIFICATION_FAILED, actor=actor, customer_id=customer_id, case_id=decision_id,
                    run_id=run_id, payload={**base, "attempt": row.attempts, "error_class": type(exc).__name__},
                    idempotency_key=f"notification_failed:{key}:{row.attempts}",
                )
                failure = exc
            else:
                sent_now = True
                notifications.mark_sent(session, row)
                append_event(
                    session, EventType.NOTIFICATION_SENT, actor=actor, customer_id=customer_id, case_id=decision_id,
                    run_id=run_id, payload={**base, "attempt": row.attempts, "recipients": len(recipients)},
                    idempotency_key=f"notification:{key}",
                )
    except Exception as exc:
        fault = database_unavailable(exc, "notification_outbox")
        if fault is None:
            raise
        if sent_now:
            # The server has the message; only its record is missing. Better a rare duplicate than a lost notice.
            log.error("notice %s sent but not recorded (%s): a later try may send it again", key, fault)
            return True
        raise fault from exc
    if failure is not None:
        raise failure
    return True
