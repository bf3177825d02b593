"""The task-failure e-mail: DAG, task, try, error class and a message with personal data masked.

Exception messages may quote what a task was working on (a name, an e-mail address, a document
number), and logs and e-mails leave the KYC database's protection. The message keeps its lower-case
wording, short numbers and technical identifiers; capitalised words outside a technical vocabulary,
quoted values, e-mail addresses and runs of 9 or more digits are masked. Ids (UUIDs) stay: they lead
to the record through `kyc case show` without revealing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

MASK = "[redacted]"
#: Capitalised words that are vocabulary, not names.
TECHNICAL = frozenset(
    """
    API BODACC CSV DNS EDD EU HTTP HTTPS ID INPI INSEE JSON KYC OFAC PEP RBE RNE SIREN SIRET SMTP SQL SSL TCP TLS UN URL
    UTC XML Airflow Connection Database Error Exception False None Postgres PostgreSQL Redis SQLite The True
    """.split()
)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|«[^»]*»")
_DIGITS = re.compile(r"\d[\d \-.]{7,}\d")
_CAPITALISED = re.compile(r"\b[^\W\d_][^\W\d_'’-]*(?:[-'’][^\W\d_]+)*\b")


def _is_vocabulary(word: str) -> bool:
    return word[0].islower() or word in TECHNICAL or word.endswith(("Error", "Exception", "Timeout"))


def scrub(message: str, limit: int = 500) -> str:
    """The message with personal data masked (see the module docstring), first 500 characters."""
    kept: dict[str, str] = {}

    def keep(match: re.Match) -> str:
        token = f"\x00{len(kept)}\x00"
        kept[token] = match.group(0)
        return token

    out = _UUID.sub(keep, message)
    out = _EMAIL.sub(MASK, out)
    out = _QUOTED.sub(MASK, out)
    out = _DIGITS.sub(MASK, out)
    out = _CAPITALISED.sub(lambda m: m.group(0) if _is_vocabulary(m.group(0)) else MASK, out)
    for token, value in kept.items():
        out = out.replace(token, value)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True)
class FailureMail:
    """Subject, text and HTML of one task-failure alert."""

    subject: str
    text: str
    html: str


def failure_mail(
    *,
    dag_id: str,
    task_id: str,
    map_index: int | None,
    run_id: str,
    try_number: int | None,
    error: BaseException | None,
    log_url: str | None,
) -> FailureMail:
    """What on-call needs to start: where it failed, which try, what kind of error, the log."""
    where = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index is not None and map_index >= 0 else "")
    error_class = type(error).__name__ if error is not None else "unknown"
    message = scrub(str(error)) if error is not None else "(no exception recorded)"
    subject = f"[KYC][FAILED] {where} try {try_number or '?'}: {error_class}"
    lines = [
        f"DAG: {dag_id}",
        f"Task: {task_id}"
        + (f" (map index {map_index})" if map_index is not None and map_index >= 0 else ""),
        f"Run: {run_id}",
        f"Try: {try_number or '?'}",
        f"Error class: {error_class}",
        f"Message (personal data masked): {message}",
    ]
    if log_url:
        lines.append(f"Log: {log_url}")
    lines += [
        "",
        "Runbook: read the log; a source outage shows in `kyc sla report` and `kyc incidents --open`; "
        "clear the task in the UI (or `airflow tasks clear`) to re-run it: tasks are idempotent.",
    ]
    text = "\n".join(lines) + "\n"
    html = "<h2>" + escape(subject) + "</h2><p>" + "<br>".join(escape(line) for line in lines[:6]) + "</p>"
    if log_url:
        html += f'<p><a href="{escape(log_url)}">Open the task log</a></p>'
    html += "<p>" + escape(lines[-1]) + "</p>"
    return FailureMail(subject, text, html)
