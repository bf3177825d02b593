"""An e-mail ready for the outbox or the SMTP connection (kept import-light: DAG files reach it at parse time)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendered:
    """Subject, plain text and HTML of one e-mail."""

    subject: str
    text: str
    html: str
