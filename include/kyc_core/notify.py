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
