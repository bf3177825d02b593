"""What compliance is told when a decision needs them: ids, outcome, score, top reasons, documents and a link."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

#: Outcomes and hit verdicts that make compliance receive an e-mail.
NOTIFY_OUTCOMES = frozenset({"edd_required", "reject"})


@dataclass(frozen=True)
class Notice:
    """An e-mail ready to send."""

    subject: str
    html: str


def needs_notice(summary: dict[str, Any]) -> bool:
    """EDD, reject and strong (match-verdict) sanctions hits are e-mailed."""
    return summary.get("outcome") in NOTIFY_OUTCOMES or int(summary.get("strong_hits") or 0) > 0


def compliance_notice(summary: dict[str, Any], link: str | None) -> Notice:
    """Subject and HTML body without names or document numbers: the reviewer follows the link."""
    outcome = summary.get("outcome")
    score = summary.get("score")
    subject = f"[KYC] {outcome} for customer {summary['customer_id'][:8]} (score {score:.2f})" if score is not None else f"[KYC] {outcome} for customer {summary['customer_id'][:8]}"
    reasons = "".join(f"<li><code>{escape(r['code'])}</code>: {escape(r['text'])}</li>" for r in summary.get("top_reasons", []))
    documents = "".join(f"<li>{escape(d)}</li>" for d in summary.get("documents", []))
    parts = [
        f"<p><b>Outcome:</b> {escape(str(outcome))} &nbsp; <b>Score:</b> {score if score is not None else '-'} &nbsp; <b>Risk:</b> {escape(str(summary.get('risk_level')))}</p>",
        f"<p><b>Customer:</b> {escape(summary['customer_id'])} ({escape(str(summary.get('kind')))}, segment {escape(str(summary.get('segment')))})<br>",
        f"<b>Decision:</b> {escape(summary['decision_id'])}<br><b>Strong sanctions hits:</b> {int(summary.get('strong_hits') or 0)}</p>",
        f"<p><b>Top reasons</b></p><ul>{reasons}</ul>" if reasons else "",
        f"<p><b>Documents to request</b></p><ul>{documents}</ul>" if documents else "",
        f'<p><a href="{escape(link)}">Open the run in Airflow</a></p>' if link else "",
        f"<p>Case file: <code>kyc case show {escape(summary['decision_id'])}</code></p>",
    ]
    return Notice(subject=subject, html="".join(parts))
