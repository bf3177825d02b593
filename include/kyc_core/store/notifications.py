"""The e-mail notification outbox (`email_notification`): one row per idempotency key, the only writer of it.

The same idea as the monitoring alert outbox (`monitor_alert`): a notice is a row under a key that is
the same however often the task that sends it runs; the row is held locked while the message goes out
and marked sent in that transaction, so a cleared task or a racing try finds it sent and sends nothing.
A send that failed leaves the row pending with its error: the next try sends it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyc_core.store.models import EmailNotification

#: Domain of the Message-IDs derived from idempotency keys.
MESSAGE_ID_DOMAIN = "kyc.local"


def message_id_for(key: str) -> str:
    """The RFC 5322 Message-ID of a notice: derived from its key, so a re-send is recognisably the same message."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{MESSAGE_ID_DOMAIN}>"


def _locked(session: Session, key: str) -> EmailNotification | None:
    return session.scalars(
        select(EmailNotification).where(EmailNotification.idempotency_key == key).with_for_update()
    ).first()


def claim(
    session: Session,
    key: str,
    *,
    kind: str,
    subject: str,
    recipients: Sequence[str],
    decision_id: str | None = None,
    customer_id: str | None = None,
    run_id: str | None = None,
) -> EmailNotification | None:
    """The row of `key`, created when new and locked for this transaction; None when it was already sent."""
    row = _locked(session, key)
    if row is None:
        try:
            with session.begin_nested():
                row = EmailNotification(
                    idempotency_key=key,
                    kind=kind,
                    decision_id=decision_id,
                    customer_id=customer_id,
                    run_id=run_id,
                    recipients=list(recipients),
                    subject=subject,
                    message_id=message_id_for(key),
                    created_at=datetime.now(UTC),
                    attempts=0,
                )
                session.add(row)
        except IntegrityError:
            # Another sender created it meanwhile: wait for its lock and read what it did.
            row = _locked(session, key)
            if row is None:
                raise
    if row.sent_at is not None:
        return None
    row.attempts += 1
    return row


def mark_sent(session: Session, row: EmailNotification) -> None:
    """The SMTP server accepted the message."""
    row.sent_at = datetime.now(UTC)
    row.last_error = None
    session.flush()


def mark_failed(session: Session, row: EmailNotification, exc: BaseException) -> None:
    """The send failed: the row stays pending with the error (class and a short message, no body)."""
    row.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    session.flush()


def get(session: Session, key: str) -> EmailNotification | None:
    """The row of `key`, if any."""
    return session.scalars(select(EmailNotification).where(EmailNotification.idempotency_key == key)).first()


def pending(session: Session) -> list[EmailNotification]:
    """Notices whose last send failed, oldest first."""
    query = select(EmailNotification).where(EmailNotification.sent_at.is_(None)).order_by(EmailNotification.id)
    return list(session.scalars(query))
