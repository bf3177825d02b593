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
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier
        from kyc_core.notify import compliance_notice
        from kyc_core.settings import get_settings

        settings = get_settings()
        notice = compliance_notice(self.summary, run_link(context))
        SmtpNotifier(
            to=self.to or settings.compliance_email, from_email=self.from_email or settings.mail_from,
            subject=notice.subject, html_content=notice.html, smtp_conn_id=self.smtp_conn_id,
        ).notify(context)
