"""The compliance notifier: tells compliance about a decision that needs them, through the `kyc_smtp` connection."""

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
    """

    template_fields = ("summary",)

    def __init__(self, *, summary: dict[str, Any], smtp_conn_id: str = "kyc_smtp", to: str | None = None,
                 from_email: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.smtp_conn_id = smtp_conn_id
        self.to = to
        self.from_email = from_email

    def notify(self, context: Any) -> None:
        """Render the notice from the summary and send it."""
        from kyc_core.notify import compliance_notice
        from kyc_core.settings import get_settings

        from kyc_airflow.notifiers.mail import send_mail

        settings = get_settings()
        notice = compliance_notice(self.summary, run_link(context))
        send_mail(to=[self.to or settings.compliance_email], sender=self.from_email or settings.mail_from, subject=notice.subject,
                  text=notice.text, html=notice.html, conn_id=self.smtp_conn_id)


class ReviewRequestNotifier(BaseNotifier):
    """
    E-mail compliance that a review waits (subject and body of the form, ids only, and a link to it).

    :param subject: the form's subject line.
    :param body: the form's Markdown body (ids, codes, scores; no names).
    :param link: the review form in the Airflow UI, when a base URL is configured.
    :param smtp_conn_id: the SMTP connection.
    """

    template_fields = ()

    def __init__(self, *, subject: str, body: str, link: str | None, smtp_conn_id: str = "kyc_smtp") -> None:
        super().__init__()
        self.subject = subject
        self.body = body
        self.link = link
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context: Any) -> None:
        """Send the request as HTML with the form's text."""
        from html import escape

        from kyc_core.settings import get_settings

        from kyc_airflow.notifiers.mail import send_mail

        where_text = f"Review form: {self.link}" if self.link else "Answer in Airflow's Required actions page."
        where = (f'<p><a href="{escape(self.link)}">Open the review form in Airflow</a></p>' if self.link
                 else "<p>Answer in Airflow's Required actions page.</p>")
        html = f"<p>A KYC review waits for you.</p>{where}<pre>{escape(self.body)}</pre>"
        text = f"A KYC review waits for you.\n{where_text}\n\n{self.body}\n"
        send_mail(to=[get_settings().compliance_email], subject=f"[KYC] {self.subject}", text=text, html=html,
                  conn_id=self.smtp_conn_id)
