"""Multipart e-mail (plain text + HTML, optional inline images and attachments) through the `kyc_smtp` connection.

The smtp provider's own sender builds HTML-only messages; on-call alerts also carry a plain-text
part for terminals and pagers, so the message is built here and sent on the hook's logged-in client.

Every message the product sends carries its idempotency key (`X-KYC-Idempotency-Key`) and a Message-ID
derived from it: a notice sent again after a lost acknowledgement is recognisably the same message.
Monitoring alerts use their outbox key (`monitor_alert:<alert key>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SMTP_CONN_ID = "kyc_smtp"
IDEMPOTENCY_HEADER = "X-KYC-Idempotency-Key"
#: Header the monitoring alert outbox sets; its value is the alert's unique key.
ALERT_KEY_HEADER = "X-KYC-Alert-Key"


@dataclass(frozen=True)
class Attachment:
    """A file carried by the message; `inline_cid` also shows it in the HTML (``<img src="cid:...">``)."""

    filename: str
    content: bytes
    maintype: str = "image"
    subtype: str = "png"
    inline_cid: str | None = None


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    attachments: Iterable[Attachment] = (),
    headers: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> EmailMessage:
    """multipart/alternative (text, then HTML with its inline images), plus attachments."""
    from kyc_core.store.notifications import message_id_for

    headers = dict(headers or {})
    if idempotency_key is None and ALERT_KEY_HEADER in headers:
        idempotency_key = f"monitor_alert:{headers[ALERT_KEY_HEADER]}"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id_for(idempotency_key) if idempotency_key else make_msgid(domain="kyc.local")
    if idempotency_key:
        msg[IDEMPOTENCY_HEADER] = idempotency_key
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    attachments = list(attachments)
    html_part = msg.get_body(preferencelist=("html",))
    for item in attachments:
        if item.inline_cid and html_part is not None:
            html_part.add_related(
                item.content, item.maintype, item.subtype, cid=f"<{item.inline_cid}>", filename=item.filename
            )
    for item in attachments:
        msg.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename)
    return msg


def send_message(msg: EmailMessage, conn_id: str = SMTP_CONN_ID) -> None:
    """Send through the Airflow SMTP connection; raises when the server refuses or cannot be reached."""
    import smtplib

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.get_conn()
        # The hook's public sender only builds HTML-only messages; its logged-in client sends ours as is.
        client = hook._smtp_client  # noqa: SLF001
        if not isinstance(client, smtplib.SMTP):
            raise RuntimeError(f"SMTP connection {conn_id!r} gave no synchronous client")
        client.send_message(msg)


def send_mail(
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    attachments: Iterable[Attachment] = (),
    headers: dict[str, str] | None = None,
    sender: str | None = None,
    conn_id: str = SMTP_CONN_ID,
    idempotency_key: str | None = None,
) -> None:
    """Build and send one message from `KYC_MAIL_FROM` (or `sender`), carrying its idempotency key."""
    from kyc_core.settings import get_settings

    msg = build_message(
        sender=sender or get_settings().mail_from,
        to=to,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        headers=headers,
        idempotency_key=idempotency_key,
    )
    send_message(msg, conn_id)
