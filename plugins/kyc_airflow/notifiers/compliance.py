"""The compliance notifiers: a decision that needs compliance, a review that waits; each sent once per idempotency key.

The key (``compliance_notice:<decision id>``, ``review_request:<decision id or task>``) is recorded in the
KYC database's outbox by `kyc_core.notify.send_once`: clearing a finished task never sends the notice again.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier


def run_link(context: Any) -> str | None:
    """Link to this run in the Airflow UI (`[api] base_url`), or None when it is not configured."""
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback=None)
    dag_run = context.get("dag_run")
    if not base or dag_run is None:
        return None
    return f"{base.rstrip('/')}/dags/{dag_run.dag_id}/runs/{quote(dag_run.run_id, safe='')}"


class ComplianceNotifier(BaseNotifier):
    """
    E-mail compliance about one decision (ids, outcome, score, top reasons, documents, a link; no names).

    :param summary: the assessment's summary (ids and codes only).
    :param smtp_conn_id: the SMTP connection.
    :param to: recipient; default `KYC_COMPLIANCE_EMAIL`.
    :param from_email: sender; default `KYC_MAIL_FROM`.
    :param kyc_conn_id: the KYC database holding the notification outbox.
    """

    template_fields = ("summary",)

    def __init__(self, *, summary: dict[str, Any], smtp_conn_id: str = "kyc_smtp", to: str | None = None,
                 from_email: str | None = None, kyc_conn_id: str = "kyc_db") -> None:
        super().__init__()
        self.summary = summary
        self.smtp_conn_id = smtp_conn_id
        self.to = to
        self.from_email = from_email
        self.kyc_conn_id = kyc_conn_id

    def notify(self, context: Any) -> None:
        """Render the notice from the summary and send it, unless the notice of this decision was sent already."""
        from kyc_core.notify import COMPLIANCE_NOTICE, compliance_notice, notice_key, send_once
        from kyc_core.settings import get_settings

        from kyc_airflow.notifiers.mail import send_mail
        from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

        settings = get_settings()
        notice = compliance_notice(self.summary, run_link(context))
        to = [self.to or settings.compliance_email]
        key = notice_key(COMPLIANCE_NOTICE, self.summary["decision_id"])
        send_once(
            kyc_database_url(self.kyc_conn_id), key, kind=COMPLIANCE_NOTICE, subject=notice.subject, recipients=to,
            send=lambda: send_mail(to=to, sender=self.from_email or settings.mail_from, subject=notice.subject,
                                   text=notice.text, html=notice.html, conn_id=self.smtp_conn_id, idempotency_key=key),
            actor=actor_for(context), decision_id=self.summary["decision_id"],
            customer_id=self.summary.get("customer_id"), run_id=run_id_of(context),
        )


class ReviewRequestNotifier(BaseNotifier):
    """
    E-mail compliance that a review waits (subject and body of the form, ids only, and a link to it).

    :param subject: the form's subject line.
    :param body: the form's Markdown body (ids, codes, scores; no names).
    :param link: the review form in the Airflow UI, when a base URL is configured.
    :param smtp_conn_id: the SMTP connection.
    :param decision_id: the decision under review; with `stage`, the request's identity (default: the task instance).
    :param stage: the review stage (1, 2, or the senior's).
    :param kyc_conn_id: the KYC database holding the notification outbox.
    """

    template_fields = ()

    def __init__(self, *, subject: str, body: str, link: str | None, smtp_conn_id: str = "kyc_smtp",
                 decision_id: str | None = None, stage: int | None = None, kyc_conn_id: str = "kyc_db") -> None:
        super().__init__()
        self.subject = subject
        self.body = body
        self.link = link
        self.smtp_conn_id = smtp_conn_id
        self.decision_id = decision_id
        self.stage = stage
        self.kyc_conn_id = kyc_conn_id

    def idempotency_key(self, context: Any) -> str:
        """`review_request:<decision>:<stage>`, or the task instance asking (its run is one decision's review)."""
        from kyc_core.notify import REVIEW_REQUEST, notice_key

        if self.decision_id is not None:
            return notice_key(REVIEW_REQUEST, self.decision_id, self.stage)
        ti = context.get("ti") or context.get("task_instance")
        return notice_key(REVIEW_REQUEST, getattr(ti, "dag_id", None), context.get("run_id") or getattr(ti, "run_id", None),
                          getattr(ti, "task_id", None), getattr(ti, "map_index", None))

    def notify(self, context: Any) -> None:
        """Send the request as HTML with the form's text, unless this request was sent already."""
        from html import escape

        from kyc_core.notify import REVIEW_REQUEST, send_once
        from kyc_core.settings import get_settings

        from kyc_airflow.notifiers.mail import send_mail
        from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

        where_text = f"Review form: {self.link}" if self.link else "Answer in Airflow's Required actions page."
        where = (f'<p><a href="{escape(self.link)}">Open the review form in Airflow</a></p>' if self.link
                 else "<p>Answer in Airflow's Required actions page.</p>")
        html = f"<p>A KYC review waits for you.</p>{where}<pre>{escape(self.body)}</pre>"
        text = f"A KYC review waits for you.\n{where_text}\n\n{self.body}\n"
        to = [get_settings().compliance_email]
        subject = f"[KYC] {self.subject}"
        key = self.idempotency_key(context)
        send_once(
            kyc_database_url(self.kyc_conn_id), key, kind=REVIEW_REQUEST, subject=subject, recipients=to,
            send=lambda: send_mail(to=to, subject=subject, text=text, html=html, conn_id=self.smtp_conn_id,
                                   idempotency_key=key),
            actor=actor_for(context), decision_id=self.decision_id, run_id=run_id_of(context),
        )
