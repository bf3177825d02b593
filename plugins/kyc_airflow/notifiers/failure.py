"""Task-failure e-mails for every DAG (wired through `DEFAULT_ARGS["on_failure_callback"]`), one per failed try.

Keyed ``task_failure:<dag>:<run>:<task>:<map index>:<try>`` in the KYC database's outbox; when that database
is what failed, the e-mail goes out all the same (with its key), since on-call must hear of it.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)


class TaskFailureNotifier(BaseNotifier):
    """
    E-mail on-call when a task fails for good: DAG, task, try, error class, masked message, log link.

    :param to: recipients; default: the `critical` recipients of the SLA configuration.
    :param smtp_conn_id: the SMTP connection.
    """

    template_fields = ()

    def __init__(self, to: list[str] | None = None, smtp_conn_id: str = "kyc_smtp") -> None:
        super().__init__()
        self.to = to
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context: Any) -> None:
        """Build the mail from the failed task's context and send it once for this try."""
        from kyc_core.monitoring.failures import failure_mail
        from kyc_core.notify import TASK_FAILURE, notice_key, send_once
        from kyc_core.resilience.infra import InfrastructureUnavailable

        from kyc_airflow.notifiers.mail import send_mail
        from kyc_airflow.runtime import kyc_database_url

        if getattr(context.get("exception"), "oncall_alerted", False):
            # The task e-mailed on-call itself (the SLA monitor's KYC database alert): no second e-mail.
            log.info("on-call already alerted by the task: no failure e-mail (%s)", context.get("exception"))
            return
        ti = context.get("ti") or context.get("task_instance")
        try:
            log_url = ti.log_url if ti is not None else None
        except Exception:  # noqa: BLE001 - a link is a convenience, the mail goes without it
            log_url = None
        mail = failure_mail(
            dag_id=getattr(ti, "dag_id", None) or str(context.get("dag")),
            task_id=getattr(ti, "task_id", "?"),
            map_index=getattr(ti, "map_index", None),
            run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
            try_number=getattr(ti, "try_number", None),
            error=context.get("exception"),
            log_url=log_url,
        )
        to = self.to or oncall_recipients()
        run_id = str(context.get("run_id") or getattr(ti, "run_id", "?"))
        key = notice_key(TASK_FAILURE, getattr(ti, "dag_id", None), run_id, getattr(ti, "task_id", None),
                         getattr(ti, "map_index", None), getattr(ti, "try_number", None))

        def send() -> None:
            send_mail(to=to, subject=mail.subject, text=mail.text, html=mail.html, conn_id=self.smtp_conn_id,
                      idempotency_key=key)

        try:
            sent = send_once(kyc_database_url(), key, kind=TASK_FAILURE, subject=mail.subject, recipients=to, send=send,
                             actor="airflow:on_failure_callback", run_id=run_id)
        except InfrastructureUnavailable as exc:
            log.error("notification outbox unavailable (%s): failure e-mail sent without it", exc)
            send()
            sent = True
        log.info("failure e-mail %s for %s", "sent" if sent else "already sent", mail.subject)


def oncall_recipients() -> list[str]:
    """The `critical` recipients of the SLA configuration, else compliance (a failure is never mailed to no one)."""
    from kyc_core.errors import UserError
    from kyc_core.monitoring.config import load_sla
    from kyc_core.settings import get_settings

    try:
        return list(load_sla().config.recipients.critical)
    except UserError as exc:
        log.error("SLA configuration unreadable (%s): failure e-mail goes to compliance", exc)
        return [get_settings().compliance_email]


def notify_failure(context: Any) -> None:
    """The `on_failure_callback` of every task."""
    TaskFailureNotifier()(context)
